package audit

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// ReportOptions sizes the lists of a [Report]. Zero values take the defaults.
type ReportOptions struct {
	// Oldest is how many of the oldest live tokens to list (default 10).
	Oldest int
	// Failures is how many of the most recent failures to list (default 20).
	Failures int
	// TopCData caps the live-tokens-per-cdata list, largest first
	// (default 0: every cdata).
	TopCData int
	// Pending caps each list of outcomes not known yet (default 100).
	Pending int
	// Revocations is how many of the most recent revocations to list
	// (default 20).
	Revocations int
	// Since, when not zero, adds a [PeriodSummary] of the events recorded
	// from Since to Until (default: the ledger clock's now).
	Since, Until time.Time
	// Listed caps each list of events in the period summary (default 100).
	Listed int
}

// StateCounts counts tokens by state.
type StateCounts struct {
	// Active is the number of live tokens.
	Active int64 `json:"active"`
	// Revoked is the number of revoked tokens.
	Revoked int64 `json:"revoked"`
	// Total is Active + Revoked.
	Total int64 `json:"total"`
}

// CDataCount is the number of live tokens held under one cdata.
type CDataCount struct {
	// CData is the cdata ("" for tokens without one).
	CData string `json:"cdata"`
	// Live is the number of active tokens with that cdata.
	Live int64 `json:"live"`
}

// AgedToken is a live token and its age when the report was made.
type AgedToken struct {
	Token
	// AgeSeconds is the token's age in whole seconds.
	AgeSeconds int64 `json:"age_seconds"`
}

// Age returns the token's age as a duration.
func (t AgedToken) Age() time.Duration { return time.Duration(t.AgeSeconds) * time.Second }

// Report summarizes a ledger: what an operator reads first. Everything in it
// comes from one read snapshot.
type Report struct {
	// GeneratedAt is the ledger clock's time when the report was made.
	GeneratedAt time.Time `json:"generated_at"`
	// Head is the tree size (number of events) and root hash.
	Head TreeHead `json:"head"`
	// Events counts events by kind.
	Events map[Kind]int64 `json:"events"`
	// Tokens counts tokens by state.
	Tokens StateCounts `json:"tokens"`
	// LiveByCData lists live tokens per cdata, most first (ties by cdata).
	LiveByCData []CDataCount `json:"live_by_cdata"`
	// OldestLive lists the oldest live tokens, oldest first.
	OldestLive []AgedToken `json:"oldest_live"`
	// PendingIssues lists the issue outcomes not known yet, oldest first:
	// issue_requested events nothing answers (requests in flight, or whose
	// process died) and issue_failed events with outcome unknown that no
	// reconcile has settled; a token may exist that the ledger does not
	// know (run reconcile).
	PendingIssues []Event `json:"pending_issues"`
	// PendingRevokes lists the revoke_failed events with outcome unknown
	// that no reconcile has settled, oldest first: the token may be
	// revoked, or live.
	PendingRevokes []Event `json:"pending_revokes"`
	// RecentFailures lists the latest issue_failed and revoke_failed
	// events, newest first.
	RecentFailures []Event `json:"recent_failures"`
	// RecentRevocations lists the latest revoke and revoked_elsewhere
	// events, newest first: who revoked what, and why (detail.reason,
	// detail.rotated_by).
	RecentRevocations []Event `json:"recent_revocations"`
	// Period summarizes the period of ReportOptions.Since and Until; nil
	// without Since.
	Period *PeriodSummary `json:"period,omitempty"`
}

// The queries of Report, each run in its read snapshot; TestQueryPlans
// checks the indexes they use.
const (
	// reportKindsQuery counts events by kind.
	reportKindsQuery = "SELECT kind, count(*) FROM events GROUP BY kind"
	// reportTokensQuery counts live and revoked tokens by cdata, in one
	// pass over the covering index events_fp, in its order (the window is
	// a token's events, which are together in the index: no sorting):
	// born is the seq of a token's first issue or import, last encodes its
	// latest state-changing event (seq*2, plus 1 when that event revokes),
	// so the state is last's parity, as the tokens view derives it. Only
	// the birth row is kept, for its cdata, so nothing is read from the
	// table. Tokens are told apart by fingerprint_key (see v3Indexes): two
	// tokens whose hashes share the 8 bytes it holds would count as one
	// here, though lookups and the tokens view tell them apart.
	reportTokensQuery = `SELECT cdata, count(*) FILTER (WHERE last % 2 = 0), count(*) FILTER (WHERE last % 2 = 1)
FROM (SELECT cdata, seq,
             min(CASE WHEN kind IN ('issue', 'import') THEN seq END) OVER token AS born,
             max(CASE WHEN kind IN ('issue', 'import', 'seen_live') THEN seq * 2
                      WHEN kind IN ('revoke', 'revoked_elsewhere') THEN seq * 2 + 1 END) OVER token AS last
      FROM events WHERE fingerprint_key IS NOT NULL
      WINDOW token AS (PARTITION BY fingerprint_key)) AS t
WHERE seq = born GROUP BY cdata`
	// oldestImportsQuery lists a page of ?3 imports by their token's iat,
	// after iat ?1 and seq ?2, through events_import_iat (named: with no
	// statistics, SQLite would rather find every import by kind and sort
	// them).
	oldestImportsQuery = `SELECT seq, fingerprint, json_extract(detail, '$.token_iat') AS iat FROM events INDEXED BY events_import_iat
WHERE kind = 'import' AND json_extract(detail, '$.token_iat') IS NOT NULL
  AND (json_extract(detail, '$.token_iat') > ?1 OR (json_extract(detail, '$.token_iat') = ?1 AND seq > ?2))
ORDER BY json_extract(detail, '$.token_iat'), seq LIMIT ?3`
	// reportPendingIssuesQuery lists the issue requests and failures
	// whose outcome is unknown.
	reportPendingIssuesQuery = "SELECT * FROM (" + pendingQuery + ") AS p WHERE kind <> 'revoke_failed' LIMIT ?"
	// reportPendingRevokesQuery lists the revocations whose outcome is
	// unknown.
	reportPendingRevokesQuery = "SELECT * FROM (" + pendingQuery + ") AS p WHERE kind = 'revoke_failed' LIMIT ?"
	// reportFailuresQuery lists the latest failures.
	reportFailuresQuery = "SELECT " + eventColumns + ` FROM events
WHERE kind IN ('issue_failed', 'revoke_failed') ORDER BY seq DESC LIMIT ?`
)

// Report builds a [Report] in one read snapshot, with indexed queries: one
// pass over the index of tokens for the counts, and short ones for the
// oldest live tokens, pending issue requests and recent failures.
func (l *Ledger) Report(ctx context.Context, opts ReportOptions) (*Report, error) {
	opts.Oldest = cmp.Or(opts.Oldest, 10)
	opts.Failures = cmp.Or(opts.Failures, 20)
	opts.Pending = cmp.Or(opts.Pending, 100)
	opts.Revocations = cmp.Or(opts.Revocations, 20)
	opts.Listed = cmp.Or(opts.Listed, 100)
	tx, err := l.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: report: %w", err)
	}
	defer tx.Rollback()
	now := l.now().UTC()
	rep := &Report{GeneratedAt: now, Events: map[Kind]int64{}, LiveByCData: []CDataCount{},
		OldestLive: []AgedToken{}, PendingIssues: []Event{}, PendingRevokes: []Event{}, RecentFailures: []Event{},
		RecentRevocations: []Event{}}
	if rep.Head, err = treeHead(ctx, tx); err != nil {
		return nil, fmt.Errorf("audit: report: %w", err)
	}
	if err := eachRow(ctx, tx, reportKindsQuery, nil, func(rows *sql.Rows) error {
		var k Kind
		var n int64
		err := rows.Scan(&k, &n)
		rep.Events[k] = n
		return err
	}); err != nil {
		return nil, fmt.Errorf("audit: report: count events: %w", err)
	}

	err = eachRow(ctx, tx, reportTokensQuery, nil, func(rows *sql.Rows) error {
		var c CDataCount
		var revoked int64
		if err := rows.Scan(&c.CData, &c.Live, &revoked); err != nil {
			return err
		}
		rep.Tokens.Active += c.Live
		rep.Tokens.Revoked += revoked
		if c.Live > 0 {
			rep.LiveByCData = append(rep.LiveByCData, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: report: tokens: %w", err)
	}
	rep.Tokens.Total = rep.Tokens.Active + rep.Tokens.Revoked
	slices.SortFunc(rep.LiveByCData, func(a, b CDataCount) int {
		return cmp.Or(cmp.Compare(b.Live, a.Live), cmp.Compare(a.CData, b.CData))
	})
	if opts.TopCData > 0 && len(rep.LiveByCData) > opts.TopCData {
		rep.LiveByCData = rep.LiveByCData[:opts.TopCData]
	}
	oldest, err := oldestLive(ctx, tx, opts.Oldest)
	if err != nil {
		return nil, fmt.Errorf("audit: report: oldest live tokens: %w", err)
	}
	for _, t := range oldest {
		rep.OldestLive = append(rep.OldestLive, AgedToken{Token: t, AgeSeconds: int64(t.Age(now) / time.Second)})
	}

	collect := func(dst *[]Event) func(*sql.Rows) error {
		return func(rows *sql.Rows) error {
			e, err := scanEvent(rows)
			*dst = append(*dst, e)
			return err
		}
	}
	err = eachRow(ctx, tx, reportPendingIssuesQuery,
		[]any{opts.Pending}, collect(&rep.PendingIssues))
	if err != nil {
		return nil, fmt.Errorf("audit: report: pending issue outcomes: %w", err)
	}
	err = eachRow(ctx, tx, reportPendingRevokesQuery,
		[]any{opts.Pending}, collect(&rep.PendingRevokes))
	if err != nil {
		return nil, fmt.Errorf("audit: report: pending revoke outcomes: %w", err)
	}
	err = eachRow(ctx, tx, reportFailuresQuery, []any{opts.Failures}, collect(&rep.RecentFailures))
	if err != nil {
		return nil, fmt.Errorf("audit: report: recent failures: %w", err)
	}
	err = eachRow(ctx, tx, "SELECT "+eventColumns+` FROM events
WHERE kind IN ('revoke', 'revoked_elsewhere') ORDER BY seq DESC LIMIT ?`, []any{opts.Revocations}, collect(&rep.RecentRevocations))
	if err != nil {
		return nil, fmt.Errorf("audit: report: recent revocations: %w", err)
	}
	if !opts.Since.IsZero() {
		until := opts.Until
		if until.IsZero() {
			until = now.Add(time.Microsecond) // include an event recorded this instant
		}
		if rep.Period, err = periodSummary(ctx, tx, opts.Since, until, now, opts.Listed); err != nil {
			return nil, fmt.Errorf("audit: report: %w", err)
		}
	}
	return rep, nil
}

// oldestLive returns the n live tokens with the earliest first_seen_at,
// oldest first, without reading every token: a token's first_seen_at is its
// issued_at unless it was imported with an earlier iat, so the oldest are
// among the first n live tokens in the order they were recorded (the tokens
// view, read in issued_seq order and stopped early) and the first n live
// imported tokens in the order of their iat (the index events_import_iat).
func oldestLive(ctx context.Context, q queryer, n int) ([]Token, error) {
	var out []Token
	seen := map[string]bool{}
	err := eachRow(ctx, q, "SELECT "+tokenColumns+" FROM tokens WHERE state = 'active' ORDER BY issued_seq LIMIT ?",
		[]any{n}, func(rows *sql.Rows) error {
			t, err := scanToken(rows)
			out, seen[t.Fingerprint] = append(out, t), true
			return err
		})
	if err != nil {
		return nil, err
	}
	// Imported tokens by iat, a page at a time: each one's token, if it is
	// live and that import is its birth, until n are found or the iat is no
	// older than the n-th token found so far.
	slices.SortFunc(out, byFirstSeen)
	found, lastIAT, lastSeq := 0, "", int64(-1)
	for found < n {
		type cand struct {
			seq     int64
			fp, iat string
		}
		var page []cand
		err := eachRow(ctx, q, oldestImportsQuery, []any{lastIAT, lastSeq, max(n, 64)}, func(rows *sql.Rows) error {
			var c cand
			err := rows.Scan(&c.seq, &c.fp, &c.iat)
			page = append(page, c)
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			if found >= n || (len(out) >= n && c.iat >= formatTS(out[n-1].FirstSeenAt)) {
				found = n
				break
			}
			if seen[c.fp] {
				continue
			}
			seen[c.fp] = true
			err := eachRow(ctx, q, "SELECT "+tokenColumns+" FROM tokens WHERE fingerprint = ? AND state = 'active' AND issued_seq = ?",
				[]any{c.fp, c.seq}, func(rows *sql.Rows) error {
					t, err := scanToken(rows)
					out = append(out, t)
					found++
					return err
				})
			if err != nil {
				return nil, err
			}
		}
		last := page[len(page)-1]
		lastIAT, lastSeq = last.iat, last.seq
		slices.SortFunc(out, byFirstSeen)
	}
	slices.SortFunc(out, byFirstSeen)
	return out[:min(n, len(out))], nil
}

// byFirstSeen orders tokens by first_seen_at, then by issued_seq.
func byFirstSeen(a, b Token) int {
	return cmp.Or(a.FirstSeenAt.Compare(b.FirstSeenAt), cmp.Compare(a.IssuedSeq, b.IssuedSeq))
}

// eachRow runs a query inside q and calls fn for every row.
func eachRow(ctx context.Context, q queryer, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return classify(rows.Err())
}
