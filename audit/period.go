package audit

import (
	"context"
	"database/sql"
	"fmt"
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
// use. Tokens are told apart by fingerprint_key, then by the text of the
// fingerprint where a query reads the table anyway (see v3Indexes). A
// +kind keeps SQLite from finding rows by kind (most of the ledger's)
// rather than by time or by token.
const (
	// periodLiveAtStartQuery counts the live tokens just before ?: those
	// whose latest state-changing event before it leaves them active (as
	// the report counts, with seq*2+1 marking a revoking event).
	periodLiveAtStartQuery = `SELECT count(*) FROM (
  SELECT min(CASE WHEN kind IN ('issue', 'import') THEN seq END) AS born,
         max(CASE WHEN kind IN ('issue', 'import', 'seen_live') THEN seq * 2
                  WHEN kind IN ('revoke', 'revoked_elsewhere') THEN seq * 2 + 1 END) AS last
  FROM events WHERE fingerprint_key IS NOT NULL AND ts < ? GROUP BY fingerprint_key) AS t
WHERE born IS NOT NULL AND last % 2 = 0`
	// periodEventsQuery lists each state-changing event from ?1 to ?2 with
	// what its token was just before it: born (an earlier issue or import)
	// and its latest earlier state-changing kind.
	periodEventsQuery = `SELECT e.ts, e.kind,
  EXISTS (SELECT 1 FROM events AS b WHERE b.fingerprint_key = e.fingerprint_key AND +b.kind IN ('issue', 'import') AND b.seq < e.seq
          AND b.fingerprint = e.fingerprint),
  coalesce((SELECT x.kind FROM events AS x WHERE x.fingerprint_key = e.fingerprint_key AND x.kind IN (` + stateKinds + `) AND x.seq < e.seq
            AND x.fingerprint = e.fingerprint ORDER BY x.seq DESC LIMIT 1), '')
FROM events AS e
WHERE e.ts >= ? AND e.ts < ? AND +e.kind IN (` + stateKinds + `) AND e.fingerprint_key IS NOT NULL
ORDER BY e.seq`
	// periodAgesQuery counts today's (?) live tokens by age in days, in one
	// pass over the index of tokens (as the report counts them), each live
	// token's first_seen_at taken from its birth event b.
	periodAgesQuery = `SELECT CAST((julianday(?) - julianday(` + firstSeenSQL + `)) * 86400 AS BIGINT) / 86400 AS days, count(*)
FROM (SELECT min(CASE WHEN kind IN ('issue', 'import') THEN seq END) AS born,
             max(CASE WHEN kind IN ('issue', 'import', 'seen_live') THEN seq * 2
                      WHEN kind IN ('revoke', 'revoked_elsewhere') THEN seq * 2 + 1 END) AS last
      FROM events WHERE fingerprint_key IS NOT NULL GROUP BY fingerprint_key) AS t
JOIN events AS b ON b.seq = t.born
WHERE t.last % 2 = 0
GROUP BY days`
)

// periodSummary computes a PeriodSummary in tx. It reads only the events of
// the period (through the index on ts) and, for each state-changing one,
// the token's previous state (through the index on fingerprint), plus one
// pass over the token index for the number of live tokens at the start.
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

	// The live tokens just before the period.
	err := tx.QueryRowContext(ctx, periodLiveAtStartQuery, formatTS(since)).Scan(&p.LiveAtStart)
	if err != nil {
		return nil, fmt.Errorf("live tokens at the start of the period: %w", classify(err))
	}

	// Each state-changing event of the period, with what the token was
	// just before it.
	live := p.LiveAtStart
	bucket := 0
	err = eachRow(ctx, tx, periodEventsQuery, []any{formatTS(since), formatTS(until)}, func(rows *sql.Rows) error {
		var ts, kind, prev string
		var born bool
		if err := rows.Scan(&ts, &kind, &born, &prev); err != nil {
			return err
		}
		at, err := parseTS(ts)
		if err != nil {
			return err
		}
		for bucket+1 < len(p.Buckets) && !at.Before(p.Buckets[bucket+1].Start) {
			p.Buckets[bucket].Live = live
			bucket++
		}
		wasActive := born && (prev == string(KindIssue) || prev == string(KindImport) || prev == string(KindSeenLive))
		var isActive bool
		switch Kind(kind) {
		case KindIssue, KindImport:
			isActive = true
		case KindSeenLive:
			isActive = born
		}
		b := &p.Buckets[bucket]
		switch {
		case isActive && !wasActive && !born:
			b.Issued++
			live++
		case isActive && !wasActive:
			b.Revived++
			live++
		case !isActive && wasActive:
			b.Revoked++
			live--
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the period's events: %w", classify(err))
	}
	for ; bucket < len(p.Buckets); bucket++ {
		p.Buckets[bucket].Live = live
	}

	// Today's live tokens by age, in days.
	p.Ages = append(p.Ages, ageBuckets[:]...)
	err = eachRow(ctx, tx, periodAgesQuery, []any{formatTS(now)}, func(rows *sql.Rows) error {
		var days, n int64
		if err := rows.Scan(&days, &n); err != nil {
			return err
		}
		for i := range p.Ages {
			if days >= int64(p.Ages[i].MinDays) && (p.Ages[i].MaxDays == 0 || days < int64(p.Ages[i].MaxDays)) {
				p.Ages[i].Live += n
				return nil
			}
		}
		p.Ages[0].Live += n // a token first seen after now (a clock set back)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the ages of live tokens: %w", classify(err))
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
