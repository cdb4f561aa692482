package audit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// collect drains a sequence, failing the test on error.
func collect[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// seqs returns the seq of each event.
func seqs(events []Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

// storyLedger records a small history, one event per simulated day:
//
//	seq 0  issue_requested acme        day 0
//	seq 1  issue a (acme, sub alice)   day 1
//	seq 2  issue_requested acme-dev    day 2
//	seq 3  issue b (acme-dev)          day 3
//	seq 4  issue_requested globex      day 4   (no outcome)
//	seq 5  import c (globex, sub bob)  day 5
//	seq 6  revoke_failed a             day 6
//	seq 7  revoke b by carol           day 7
//	seq 8  import a again              day 8   (ignored by the view)
//	seq 9  issue_requested initech     day 9
//	seq 10 issue_failed (seq 9) 503    day 10
//	seq 11 revoked_elsewhere c         day 11
//	seq 12 import d (initech)          day 12
func storyLedger(t *testing.T) (*Ledger, *clock) {
	t.Helper()
	c := newClock()
	c.step = 24 * time.Hour
	l := openTest(t, WithNow(c.Now), WithActor("alice@ops"))
	r0, r2, r9 := int64(0), int64(2), int64(9)
	_, err := l.AppendBatch(context.Background(), []Event{
		{Kind: KindIssueRequested, CData: "acme"},
		{Kind: KindIssue, Fingerprint: fp(0xa), CData: "acme", Subject: "alice", RequestSeq: &r0, HTTPStatus: 200},
		{Kind: KindIssueRequested, CData: "acme-dev"},
		{Kind: KindIssue, Fingerprint: fp(0xb), CData: "acme-dev", RequestSeq: &r2},
		{Kind: KindIssueRequested, CData: "globex"},
		{Kind: KindImport, Fingerprint: fp(0xc), CData: "globex", Subject: "bob"},
		{Kind: KindRevokeFailed, Fingerprint: fp(0xa), CData: "acme", HTTPStatus: 503, Error: "woleet: server error"},
		{Kind: KindRevoke, Fingerprint: fp(0xb), CData: "acme-dev", Actor: "carol@ops"},
		{Kind: KindImport, Fingerprint: fp(0xa), CData: "acme"},
		{Kind: KindIssueRequested, CData: "initech"},
		{Kind: KindIssueFailed, CData: "initech", RequestSeq: &r9, HTTPStatus: 503},
		{Kind: KindRevokedElsewhere, Fingerprint: fp(0xc), CData: "globex"},
		{Kind: KindImport, Fingerprint: fp(0xd), CData: "initech"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

func TestEvents(t *testing.T) {
	l, _ := storyLedger(t)
	ctx := context.Background()
	day := func(n int) time.Time {
		return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(n) * 24 * time.Hour)
	}
	for _, tc := range []struct {
		name string
		f    EventFilter
		want []int64
	}{
		{"all", EventFilter{}, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"kinds", EventFilter{Kinds: []Kind{KindRevoke, KindRevokedElsewhere}}, []int64{7, 11}},
		{"full fingerprint", EventFilter{Fingerprint: fp(0xa)}, []int64{1, 6, 8}},
		{"fingerprint without prefix, upper case", EventFilter{Fingerprint: fmt.Sprintf("%064X", 0xc)}, []int64{5, 11}},
		{"fingerprint prefix in upper case", EventFilter{Fingerprint: fmt.Sprintf("SHA256:%064X", 0xc)}, []int64{5, 11}},
		{"fingerprint prefix", EventFilter{Fingerprint: "sha256:00000000"}, []int64{1, 3, 5, 6, 7, 8, 11, 12}},
		{"cdata exact", EventFilter{CData: "acme"}, []int64{0, 1, 6, 8}},
		{"cdata prefix", EventFilter{CData: "acme", CDataPrefix: true}, []int64{0, 1, 2, 3, 6, 7, 8}},
		{"subject", EventFilter{Subject: "bob"}, []int64{5}},
		{"actor", EventFilter{Actor: "carol@ops"}, []int64{7}},
		{"time range", EventFilter{Since: day(3), Until: day(6)}, []int64{3, 4, 5}},
		{"from seq", EventFilter{FromSeq: 10}, []int64{10, 11, 12}},
		{"newest with limit", EventFilter{Newest: true, Limit: 3}, []int64{12, 11, 10}},
		{"combined", EventFilter{CData: "acme", Kinds: []Kind{KindIssue, KindImport}, Newest: true}, []int64{8, 1}},
		{"nothing", EventFilter{CData: "nobody"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := seqs(collect(t, l.Events(ctx, tc.f))); !slices.Equal(got, tc.want) {
				t.Errorf("Events(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
	got := collect(t, l.Events(ctx, EventFilter{FromSeq: 10, Limit: 1}))
	req := int64(9)
	want := Event{Seq: 10, TS: day(10), Kind: KindIssueFailed, CData: "initech", Actor: "alice@ops",
		HTTPStatus: 503, RequestSeq: &req, Detail: []byte("{}")}
	want.LeafHash = leafHashHex(want.LeafBytes())
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("event 10 =\n%+v\nwant\n%+v", got, want)
	}
}

func TestEventsErrorsAndEarlyStop(t *testing.T) {
	l, _ := storyLedger(t)
	ctx := context.Background()
	for name, f := range map[string]EventFilter{
		"short prefix":  {Fingerprint: "sha256:0000"},
		"not hex":       {Fingerprint: "sha256:zzzzzzzzzz"},
		"too long":      {Fingerprint: fmt.Sprintf("%066x", 1)},
		"unknown kind":  {Kinds: []Kind{"issued"}},
		"prefix with -": {Fingerprint: "-00000000"},
	} {
		n := 0
		for _, err := range l.Events(ctx, f) {
			n++
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		}
		if n != 1 {
			t.Errorf("%s: %d values, want one error", name, n)
		}
	}
	n := 0
	for range l.Events(ctx, EventFilter{}) {
		n++
		if n == 2 {
			break
		}
	}
	// Breaking out released the snapshot: a write and a read still work.
	mustAppend(t, l, Event{Kind: KindIssueRequested})
	if c, err := l.Count(ctx); err != nil || c != 14 {
		t.Errorf("Count() = %d, %v", c, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for _, err := range l.Events(cctx, EventFilter{}) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("with a cancelled context: %v", err)
		}
	}
}

// fps returns each token's fingerprint and state.
func fps(tokens []Token) []string {
	out := make([]string, len(tokens))
	for i, tk := range tokens {
		out[i] = tk.Fingerprint[len(tk.Fingerprint)-1:] + ":" + string(tk.State)
	}
	return out
}

func TestTokens(t *testing.T) {
	l, c := storyLedger(t)
	ctx := context.Background()
	c.Set(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Add(20 * 24 * time.Hour)) // day 20
	c.step = 0
	for _, tc := range []struct {
		name string
		f    TokenFilter
		want []string
	}{
		{"all", TokenFilter{}, []string{"a:active", "b:revoked", "c:revoked", "d:active"}},
		{"active", TokenFilter{State: StateActive}, []string{"a:active", "d:active"}},
		{"revoked newest first", TokenFilter{State: StateRevoked, Newest: true}, []string{"c:revoked", "b:revoked"}},
		{"cdata", TokenFilter{CData: "acme"}, []string{"a:active"}},
		{"cdata prefix", TokenFilter{CData: "acme", CDataPrefix: true}, []string{"a:active", "b:revoked"}},
		{"subject", TokenFilter{Subject: "bob"}, []string{"c:revoked"}},
		{"older than 10 days", TokenFilter{MinAge: 10 * 24 * time.Hour}, []string{"a:active", "b:revoked", "c:revoked"}},
		{"older than 10 days and active", TokenFilter{MinAge: 10 * 24 * time.Hour, State: StateActive}, []string{"a:active"}},
		{"issued before day 3", TokenFilter{IssuedBefore: c.t.Add(-17 * 24 * time.Hour)}, []string{"a:active"}},
		{"issued since day 5", TokenFilter{IssuedSince: c.t.Add(-15 * 24 * time.Hour)}, []string{"c:revoked", "d:active"}},
		{"limit", TokenFilter{Limit: 1}, []string{"a:active"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fps(collect(t, l.Tokens(ctx, tc.f))); !slices.Equal(got, tc.want) {
				t.Errorf("Tokens(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
	b, err := l.Token(ctx, fp(0xb))
	if err != nil {
		t.Fatal(err)
	}
	if b.IssuedSeq != 3 || b.RevokedSeq == nil || *b.RevokedSeq != 7 || b.RevokedBy != "carol@ops" ||
		b.IssuedBy != "alice@ops" || b.CData != "acme-dev" || b.RevokedAt.Sub(b.IssuedAt) != 4*24*time.Hour {
		t.Errorf("Token(b) = %+v", b)
	}
	if _, err := l.Token(ctx, "sha256:00000000"); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("Token(ambiguous) = %v, want ErrAmbiguous", err)
	}
	if _, err := l.Token(ctx, fp(0xe)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Token(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := l.Token(ctx, "abc"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Token(short prefix) = %v, want a usage error", err)
	}
	for _, err := range l.Tokens(ctx, TokenFilter{State: "expired"}) {
		if err == nil {
			t.Error("unknown state accepted")
		}
	}
}

func TestReport(t *testing.T) {
	l, c := storyLedger(t)
	ctx := context.Background()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Add(20 * 24 * time.Hour)
	c.Set(now)
	rep, err := l.Report(ctx, ReportOptions{Oldest: 1, Failures: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.GeneratedAt.Equal(now) || rep.Head.Size != 13 {
		t.Errorf("generated at %v, head %v", rep.GeneratedAt, rep.Head)
	}
	if th, _ := l.TreeHead(ctx); th != rep.Head {
		t.Errorf("report head %v, tree head %v", rep.Head, th)
	}
	if rep.Tokens != (StateCounts{Active: 2, Revoked: 2, Total: 4}) {
		t.Errorf("tokens = %+v", rep.Tokens)
	}
	if rep.Events[KindIssueRequested] != 4 || rep.Events[KindImport] != 3 || rep.Events[KindRevoke] != 1 {
		t.Errorf("events = %v", rep.Events)
	}
	if want := []CDataCount{{"acme", 1}, {"initech", 1}}; !slices.Equal(rep.LiveByCData, want) {
		t.Errorf("live by cdata = %v, want %v", rep.LiveByCData, want)
	}
	if len(rep.OldestLive) != 1 || rep.OldestLive[0].Fingerprint != fp(0xa) || rep.OldestLive[0].Age() != 19*24*time.Hour {
		t.Errorf("oldest live = %+v", rep.OldestLive)
	}
	if got := seqs(rep.PendingIssues); !slices.Equal(got, []int64{4}) {
		t.Errorf("pending issues = %v, want [4]", got)
	}
	if got := seqs(rep.RecentFailures); !slices.Equal(got, []int64{10}) {
		t.Errorf("recent failures = %v, want [10]", got)
	}
	rep, err = l.Report(ctx, ReportOptions{TopCData: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.LiveByCData) != 1 || len(rep.OldestLive) != 2 || len(rep.RecentFailures) != 2 {
		t.Errorf("with defaults: %+v", rep)
	}
}

func TestReportEmptyLedger(t *testing.T) {
	l := openTest(t)
	rep, err := l.Report(context.Background(), ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Head.Size != 0 || rep.Tokens.Total != 0 || rep.LiveByCData == nil || rep.PendingIssues == nil {
		t.Errorf("empty report = %+v", rep)
	}
}

// TestReportAgreesWithTheView checks the report's counts, computed from the
// index, against the tokens view, on odd histories: several births with
// different cdata, deaths before births or without them, revocations with
// another cdata.
func TestReportAgreesWithTheView(t *testing.T) {
	l, _ := storyLedger(t)
	ctx := context.Background()
	_, err := l.AppendBatch(ctx, []Event{
		{Kind: KindImport, Fingerprint: fp(0x20), CData: "zeta"},
		{Kind: KindImport, Fingerprint: fp(0x20), CData: "alpha"},       // a second birth: ignored
		{Kind: KindRevoke, Fingerprint: fp(0x21), CData: "ghost"},       // a death with no birth
		{Kind: KindImport, Fingerprint: fp(0x21), CData: "late"},        // born after its death: active (its latest event)
		{Kind: KindRevokeFailed, Fingerprint: fp(0x20), CData: "other"}, // not a death
		{Kind: KindRevoke, Fingerprint: fp(0x22), CData: "nobody"},      // never born
		{Kind: KindImport, Fingerprint: fp(0x23)},                       // no cdata
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := l.Report(ctx, ReportOptions{Oldest: 100})
	if err != nil {
		t.Fatal(err)
	}
	var counts StateCounts
	live := map[string]int64{}
	var oldest []string
	for tk, err := range l.Tokens(ctx, TokenFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		counts.Total++
		if tk.State == StateActive {
			counts.Active++
			live[tk.CData]++
			oldest = append(oldest, tk.Fingerprint)
		} else {
			counts.Revoked++
		}
	}
	if rep.Tokens != counts {
		t.Errorf("report counts %+v, view %+v", rep.Tokens, counts)
	}
	got := map[string]int64{}
	for _, c := range rep.LiveByCData {
		got[c.CData] = c.Live
	}
	if fmt.Sprint(got) != fmt.Sprint(live) {
		t.Errorf("report live by cdata %v, view %v", got, live)
	}
	var gotOldest []string
	for _, tk := range rep.OldestLive {
		gotOldest = append(gotOldest, tk.Fingerprint)
	}
	if !slices.Equal(gotOldest, oldest) {
		t.Errorf("oldest live %v, view %v", gotOldest, oldest)
	}
	if live["zeta"] != 1 || live["late"] != 1 || live[""] != 1 {
		t.Errorf("live = %v", live)
	}
}
