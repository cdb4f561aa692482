package audit

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// queryPlan returns the EXPLAIN QUERY PLAN of q on l's readers, one line
// per step, indented two spaces per level.
func queryPlan(t *testing.T, l *Ledger, q string, args ...any) string {
	t.Helper()
	rows, err := l.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", q, err)
	}
	defer rows.Close()
	depth := map[int]int{}
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		depth[id] = depth[parent] + 1
		b.WriteString(strings.Repeat("  ", depth[id]-1) + detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestQueryPlans checks, with EXPLAIN QUERY PLAN, that the queries the
// package runs use the index meant for them (a lookup that fell back to a
// scan would still pass every other test, only slowly on a large ledger),
// and that every index of the schema serves some query: an index no plan
// uses only costs every append.
func TestQueryPlans(t *testing.T) {
	l := openTest(t)
	appendN(t, l, 20)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	type query struct {
		q    string
		args []any
	}
	events := func(f EventFilter) query {
		q, args, err := eventQuery(f)
		if err != nil {
			t.Fatal(err)
		}
		return query{q, args}
	}
	tokens := func(f TokenFilter) query {
		q, args, err := tokenQuery(f, now)
		if err != nil {
			t.Fatal(err)
		}
		return query{q, args}
	}
	// The tokens view's two correlated subqueries, for each token, look up
	// its other events by key; a token's events must never be found by
	// kind (all the ledger's revocations) or by a scan.
	const (
		viewBirthByKey = `CORRELATED SCALAR SUBQUERY \d+\n\s+SEARCH p USING INDEX events_fp \(fingerprint_key=\?\)\n`
		viewStateByKey = `CORRELATED SCALAR SUBQUERY \d+\n\s+SEARCH x USING INDEX events_fp \(fingerprint_key=\?\)\n`
	)
	var plans strings.Builder
	for _, tc := range []struct {
		name string
		query
		want []string // regular expressions the plan must match
	}{
		{"events by fingerprint", events(EventFilter{Fingerprint: fp(3)}),
			[]string{`SEARCH events USING INDEX events_fp \(fingerprint_key=\?\)`}},
		{"events by fingerprint prefix", events(EventFilter{Fingerprint: "sha256:0000000000"}),
			[]string{`SEARCH events USING INDEX events_fp \(fingerprint_key>\? AND fingerprint_key<\?\)`}},
		{"events by cdata", events(EventFilter{CData: "acme"}),
			[]string{`SEARCH events USING INDEX events_cdata \(cdata=\?\)`}},
		{"events by cdata prefix", events(EventFilter{CData: "ac", CDataPrefix: true}),
			[]string{`SEARCH events USING INDEX events_cdata \(cdata>\? AND cdata<\?\)`}},
		{"events by kind", events(EventFilter{Kinds: []Kind{KindRevoke}}),
			[]string{`SEARCH events USING INDEX events_kind \(kind=\?\)`}},
		{"events in a time range", events(EventFilter{Since: now, Until: now.Add(time.Hour)}),
			[]string{`SEARCH events USING INDEX events_ts \(ts>\? AND ts<\?\)`}},
		{"token by fingerprint", tokens(TokenFilter{Fingerprint: fp(3), Limit: 2}),
			[]string{`SEARCH b USING INDEX events_fp \(fingerprint_key=\?\)`, viewBirthByKey, viewStateByKey}},
		{"token by prefix", tokens(TokenFilter{Fingerprint: "sha256:00000000", Limit: 2}),
			[]string{`SEARCH b USING INDEX events_fp \(fingerprint_key>\? AND fingerprint_key<\?\)`, viewBirthByKey, viewStateByKey}},
		{"tokens by cdata", tokens(TokenFilter{CData: "acme", State: StateActive}),
			[]string{`SEARCH b USING INDEX events_cdata \(cdata=\?\)`, viewBirthByKey, viewStateByKey}},
		{"all tokens", tokens(TokenFilter{}), []string{`SCAN b\n`, viewBirthByKey, viewStateByKey}},
		{"tokens older than 90 days", tokens(TokenFilter{State: StateActive, MinAge: 90 * 24 * time.Hour, Limit: 100}),
			[]string{`SCAN b\n`, viewBirthByKey, viewStateByKey}},
		{"report: events by kind", query{reportKindsQuery, nil},
			[]string{`SCAN events USING COVERING INDEX events_kind`}},
		{"report: tokens by cdata", query{reportTokensQuery, nil},
			[]string{`SEARCH events USING COVERING INDEX events_fp \(fingerprint_key>\?\)`}},
		{"report: oldest imported tokens by iat", query{oldestImportsQuery, []any{"", -1, 64}},
			[]string{`SEARCH events USING INDEX events_import_iat`}},
		{"period: the first event at a time", query{periodSeqAtQuery, []any{formatTS(now)}},
			[]string{`SEARCH events USING (COVERING )?INDEX events_ts \(ts>\?\)`}},
		{"period: every token's history", query{periodHistoryQuery, nil},
			[]string{`SEARCH events USING COVERING INDEX events_fp \(fingerprint_key>\?\)`}},
		{"period: imports with an earlier iat", query{periodImportIATQuery, nil},
			[]string{`INDEX events_import_iat`}},
		{"report: pending issue outcomes", query{reportPendingIssuesQuery, []any{100}},
			[]string{`SEARCH e USING INDEX events_kind \(kind=\?\)`, `SEARCH o USING COVERING INDEX events_request_seq \(request_seq=\?\)`}},
		{"report: pending revoke outcomes", query{reportPendingRevokesQuery, []any{100}},
			[]string{`SEARCH e USING INDEX events_kind \(kind=\?\)`, `SEARCH o USING COVERING INDEX events_request_seq \(request_seq=\?\)`}},
		{"the state of a token, in a guarded append", query{tokenStateQuery, []any{fp(3), fingerprintKey(fp(3))}},
			[]string{`SEARCH events USING INDEX events_fp \(fingerprint_key=\? AND kind=\?\)`}},
		{"report: recent failures", query{reportFailuresQuery, []any{20}},
			[]string{`SEARCH events USING INDEX events_kind \(kind=\?\)`}},
		{"latest checkpoint", query{latestCheckpointQuery, nil},
			[]string{`SCAN checkpoints USING INDEX checkpoints_tree_size`}},
	} {
		plan := queryPlan(t, l, tc.q, tc.args...)
		for _, w := range tc.want {
			if !regexp.MustCompile(w).MatchString(plan) {
				t.Errorf("%s: the plan does not match %s:\n%s", tc.name, w, plan)
			}
		}
		plans.WriteString(plan)
	}
	// The period's histories are read in the index's order, unsorted.
	if plan := queryPlan(t, l, periodHistoryQuery); strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("the period's histories are sorted:\n%s", plan)
	}
	// The report's count of tokens reads the index alone, in its order.
	if plan := queryPlan(t, l, reportTokensQuery); strings.Contains(plan, "INTEGER PRIMARY KEY") || strings.Contains(plan, "ORDER BY") {
		t.Errorf("the report's count of tokens reads the table or sorts:\n%s", plan)
	}
	objs, err := expectedSchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.typ == "index" && !regexp.MustCompile(`INDEX `+o.name+`\b`).MatchString(plans.String()) {
			t.Errorf("no query plan uses index %s", o.name)
		}
	}
}
