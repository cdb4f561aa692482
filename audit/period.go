package audit

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// PeriodSummary is what happened in a period of a ledger's history, in
// buckets of a day (or a week, for periods over 120 days): the data of the
// report's charts. Every number comes from the same read snapshot as the
// rest of the [Report].
type PeriodSummary struct {
	// Since and Until bound the period: events with Since <= ts < Until.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Bucket is the width of each bucket: "day" or "week".
	Bucket string `json:"bucket"`
	// LiveAtStart is the number of live tokens just before Since.
	LiveAtStart int64 `json:"live_at_start"`
	// Buckets lists the buckets in time order, each [Start, Start+width).
	Buckets []ActivityBucket `json:"buckets"`
	// Ages counts today's live tokens by age (from first_seen_at).
	Ages []AgeBucket `json:"ages"`
	// Revocations lists the revoke and revoked_elsewhere events of the
	// period, oldest first (at most ReportOptions.Listed).
	Revocations []Event `json:"revocations"`
	// Rotations lists the issue events of the period that rotate other
	// tokens (detail.rotates), oldest first (at most ReportOptions.Listed).
	Rotations []Event `json:"rotations"`
	// ReconcileFindings lists what reconciles recorded in the period:
	// imports they found, revoked_elsewhere, seen_live and settled events,
	// oldest first (at most ReportOptions.Listed).
	ReconcileFindings []Event `json:"reconcile_findings"`
	// Failures lists the issue_failed and revoke_failed events of the
	// period, oldest first (at most ReportOptions.Listed).
	Failures []Event `json:"failures"`
}

// ActivityBucket counts the events of one bucket of a period.
type ActivityBucket struct {
	// Start is the bucket's first instant (UTC midnight).
	Start time.Time `json:"start"`
	// Issued counts tokens that became known (issue or import events of
	// new tokens); Revoked, live tokens that became revoked; Revived,
	// revoked tokens seen live again.
	Issued  int64 `json:"issued"`
	Revoked int64 `json:"revoked"`
	Revived int64 `json:"revived"`
	// Live is the number of live tokens at the bucket's end.
	Live int64 `json:"live"`
}

// AgeBucket counts live tokens whose age is in [MinDays, MaxDays) days
// (MaxDays 0: no upper bound).
type AgeBucket struct {
	Label   string `json:"label"`
	MinDays int    `json:"min_days"`
	MaxDays int    `json:"max_days"`
	Live    int64  `json:"live"`
}

// ageBuckets are the bounds of PeriodSummary.Ages, in days.
var ageBuckets = [...]AgeBucket{
	{Label: "< 7 days", MinDays: 0, MaxDays: 7},
	{Label: "7–30 days", MinDays: 7, MaxDays: 30},
	{Label: "30–90 days", MinDays: 30, MaxDays: 90},
	{Label: "90–180 days", MinDays: 90, MaxDays: 180},
	{Label: "180–365 days", MinDays: 180, MaxDays: 365},
	{Label: "1–2 years", MinDays: 365, MaxDays: 730},
	{Label: "> 2 years", MinDays: 730},
}

// stateKinds are the kinds that change a token's state, as SQL.
const stateKinds = "'issue', 'import', 'seen_live', 'revoke', 'revoked_elsewhere'"

// The queries of periodSummary; TestQueryPlans checks the indexes they
// use. None reads the table: the period's buckets and the age classes are
// cut by seq (the first event recorded at or after each bound, found
// through events_ts: seq and ts grow together, as one writer at a time
// stamps each event), and the tokens' histories are read from events_fp
// alone, token by token (by fingerprint_key, as the report counts them).
const (
	// periodSeqAtQuery is the seq of the first event recorded at or after ?.
	periodSeqAtQuery = `SELECT seq FROM events WHERE ts >= ? ORDER BY ts LIMIT 1`
	// periodHistoryQuery lists every state-changing event, token by token.
	periodHistoryQuery = `SELECT fingerprint_key, seq, kind FROM events
WHERE fingerprint_key IS NOT NULL AND +kind IN (` + stateKinds + `) ORDER BY fingerprint_key`
	// periodImportIATQuery lists the imports recorded with an earlier iat:
	// their token's first_seen_at is that iat (see firstSeenSQL).
	periodImportIATQuery = `SELECT seq, json_extract(detail, '$.token_iat') FROM events INDEXED BY events_import_iat
WHERE kind = 'import' AND json_extract(detail, '$.token_iat') IS NOT NULL`
)

// seqAt returns the seq of the first event recorded at or after t, or the
// tree size when there is none.
func seqAt(ctx context.Context, q queryer, t time.Time, size int64) (int64, error) {
	var seq int64
	err := q.QueryRowContext(ctx, periodSeqAtQuery, formatTS(t)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return size, nil
	}
	return seq, classify(err)
}

// periodSummary computes a PeriodSummary in tx, from one pass over the
// index events_fp and a few seeks in events_ts: every token's history of
// state changes, replayed in seq order, gives the live tokens at the start,
// what changed in each bucket, and the age of each token live now.
func periodSummary(ctx context.Context, tx queryer, since, until, now time.Time, listed int) (*PeriodSummary, error) {
	since, until = since.UTC(), until.UTC()
	if !since.Before(until) {
		return nil, fmt.Errorf("the period is empty: since %s is not before until %s", formatTS(since), formatTS(until))
	}
	p := &PeriodSummary{Since: since, Until: until, Bucket: "day", Buckets: []ActivityBucket{}, Ages: []AgeBucket{},
		Revocations: []Event{}, Rotations: []Event{}, ReconcileFindings: []Event{}, Failures: []Event{}}
	width := 24 * time.Hour
	if until.Sub(since) > 120*24*time.Hour {
		p.Bucket, width = "week", 7*24*time.Hour
	}
	first := since.Truncate(24 * time.Hour)
	for t := first; t.Before(until); t = t.Add(width) {
		p.Buckets = append(p.Buckets, ActivityBucket{Start: t})
	}
	var size int64
	if err := tx.QueryRowContext(ctx, sizeQuery).Scan(&size); err != nil {
		return nil, fmt.Errorf("the tree size: %w", classify(err))
	}
	// bounds[i] is the first seq of bucket i (the first at since), and
	// bounds[len(Buckets)] the first seq at until.
	bounds := make([]int64, len(p.Buckets)+1)
	for i := range bounds {
		at := until
		switch {
		case i == 0:
			at = since
		case i < len(p.Buckets):
			at = p.Buckets[i].Start
		}
		var err error
		if bounds[i], err = seqAt(ctx, tx, at, size); err != nil {
			return nil, fmt.Errorf("the period's bounds: %w", err)
		}
	}
	// ageBounds[i] is the first seq recorded after now minus ageBuckets[i]'s
	// MinDays: a token born at or after it is younger than that.
	p.Ages = append(p.Ages, ageBuckets[:]...)
	ageBounds := make([]int64, len(p.Ages))
	for i, a := range p.Ages {
		var err error
		if ageBounds[i], err = seqAt(ctx, tx, now.Add(-time.Duration(a.MinDays)*24*time.Hour+time.Microsecond), size); err != nil {
			return nil, fmt.Errorf("the ages' bounds: %w", err)
		}
	}
	iats := map[int64]time.Time{} // imports recorded with an earlier iat
	err := eachRow(ctx, tx, periodImportIATQuery, nil, func(rows *sql.Rows) error {
		var seq int64
		var iat string
		if err := rows.Scan(&seq, &iat); err != nil {
			return err
		}
		t, err := parseTS(iat)
		iats[seq] = t
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("the imported tokens' iat: %w", classify(err))
	}
	ageOf := func(born int64) int {
		if iat, ok := iats[born]; ok {
			days := int(now.Sub(iat) / (24 * time.Hour))
			for i := len(p.Ages) - 1; i >= 0; i-- {
				if days >= p.Ages[i].MinDays {
					return i
				}
			}
			return 0
		}
		for i := len(ageBounds) - 1; i > 0; i-- {
			if born < ageBounds[i] {
				return i
			}
		}
		return 0
	}

	deltas := make([]int64, len(p.Buckets))
	type change struct {
		seq  int64
		kind Kind
	}
	var history []change
	replay := func() {
		slices.SortFunc(history, func(a, b change) int { return cmp.Compare(a.seq, b.seq) })
		born, active := int64(-1), false
		for _, c := range history {
			wasBorn, wasActive := born >= 0, active
			switch c.kind {
			case KindIssue, KindImport:
				if born < 0 {
					born = c.seq
				}
				active = true
			case KindSeenLive:
				active = born >= 0
			default:
				active = false
			}
			if active == wasActive {
				continue
			}
			if c.seq < bounds[0] {
				if active {
					p.LiveAtStart++
				} else {
					p.LiveAtStart--
				}
				continue
			}
			if c.seq >= bounds[len(bounds)-1] {
				continue
			}
			i := max(0, sort.Search(len(p.Buckets), func(i int) bool { return bounds[i+1] > c.seq }))
			b := &p.Buckets[i]
			switch {
			case active && !wasBorn:
				b.Issued++
				deltas[i]++
			case active:
				b.Revived++
				deltas[i]++
			default:
				b.Revoked++
				deltas[i]--
			}
		}
		if active {
			p.Ages[ageOf(born)].Live++
		}
		history = history[:0]
	}
	var key, lastKey int64
	started := false
	err = eachRow(ctx, tx, periodHistoryQuery, nil, func(rows *sql.Rows) error {
		var c change
		if err := rows.Scan(&key, &c.seq, &c.kind); err != nil {
			return err
		}
		if started && key != lastKey {
			replay()
		}
		started, lastKey = true, key
		history = append(history, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the tokens' histories: %w", classify(err))
	}
	if started {
		replay()
	}
	live := p.LiveAtStart
	for i := range p.Buckets {
		live += deltas[i]
		p.Buckets[i].Live = live
	}

	lists := []struct {
		dst  *[]Event
		cond string
	}{
		{&p.Revocations, "kind IN ('revoke', 'revoked_elsewhere')"},
		{&p.Rotations, "kind = 'issue' AND json_extract(detail, '$.rotates') IS NOT NULL"},
		{&p.ReconcileFindings, "(kind IN ('revoked_elsewhere', 'seen_live', 'settled') OR (kind = 'import' AND json_extract(detail, '$.source') = 'reconcile'))"},
		{&p.Failures, "kind IN ('issue_failed', 'revoke_failed')"},
	}
	for _, l := range lists {
		err := eachRow(ctx, tx, "SELECT "+eventColumns+" FROM events WHERE ts >= ? AND ts < ? AND "+l.cond+" ORDER BY seq LIMIT ?",
			[]any{formatTS(since), formatTS(until), listed}, func(rows *sql.Rows) error {
				e, err := scanEvent(rows)
				*l.dst = append(*l.dst, e)
				return err
			})
		if err != nil {
			return nil, fmt.Errorf("the period's events: %w", classify(err))
		}
	}
	return p, nil
}
