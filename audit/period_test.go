package audit

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// replayLive replays the events up to (not including) until and counts the
// live tokens, as the README's Python check derives states.
func replayLive(events []Event, until time.Time) int64 {
	state := map[string]bool{}
	for _, e := range events {
		if !e.TS.Before(until) {
			break
		}
		_, known := state[e.Fingerprint]
		switch e.Kind {
		case KindIssue, KindImport:
			state[e.Fingerprint] = true
		case KindSeenLive:
			if known {
				state[e.Fingerprint] = true
			}
		case KindRevoke, KindRevokedElsewhere:
			if known {
				state[e.Fingerprint] = false
			}
		}
	}
	var n int64
	for _, live := range state {
		if live {
			n++
		}
	}
	return n
}

// TestPeriodSummaryAgreesWithAReplay builds a random history over 40 days
// and checks every bucket of the period summary against a replay of the
// events: the live tokens at each bucket's end, and the counts of tokens
// issued, revoked and revived in it.
func TestPeriodSummaryAgreesWithAReplay(t *testing.T) {
	c := newClock()
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	c.Set(start)
	c.step = 37 * time.Minute
	l := openTest(t, WithNow(c.Now))
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	kinds := []Kind{KindIssue, KindImport, KindRevoke, KindRevokedElsewhere, KindSeenLive, KindRevokeFailed, KindIssueRequested}
	var batch []Event
	for range 1500 {
		k := kinds[r.IntN(len(kinds))]
		e := Event{Kind: k, CData: "c"}
		if k != KindIssueRequested {
			e.Fingerprint = fp(r.IntN(120))
		}
		batch = append(batch, e)
	}
	if _, err := l.AppendBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	events := collect(t, l.Events(ctx, EventFilter{}))
	since := start.Add(10*24*time.Hour + 5*time.Hour)
	until := start.Add(30 * 24 * time.Hour)
	rep, err := l.Report(ctx, ReportOptions{Since: since, Until: until})
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Period
	if p == nil || p.Bucket != "day" || len(p.Buckets) != 20 || !p.Buckets[0].Start.Equal(since.Truncate(24*time.Hour)) {
		t.Fatalf("period has %d buckets of a %s", len(p.Buckets), p.Bucket)
	}
	if want := replayLive(events, since); p.LiveAtStart != want {
		t.Errorf("live at start %d, replay says %d", p.LiveAtStart, want)
	}
	prev := p.LiveAtStart
	for i, b := range p.Buckets {
		end := b.Start.Add(24 * time.Hour)
		if end.After(until) {
			end = until
		}
		if want := replayLive(events, end); b.Live != want {
			t.Errorf("bucket %d (%s): live %d, replay says %d", i, b.Start.Format(time.DateOnly), b.Live, want)
		}
		if b.Live-prev != b.Issued+b.Revived-b.Revoked {
			t.Errorf("bucket %d: live went %d → %d with %+v", i, prev, b.Live, b)
		}
		prev = b.Live
	}
	// The whole history up to now: the last bucket ends with today's count.
	rep, err = l.Report(ctx, ReportOptions{Since: start})
	if err != nil {
		t.Fatal(err)
	}
	if last := rep.Period.Buckets[len(rep.Period.Buckets)-1]; last.Live != rep.Tokens.Active {
		t.Errorf("live at the end %d, report counts %d active", last.Live, rep.Tokens.Active)
	}
	var aged int64
	for _, a := range rep.Period.Ages {
		aged += a.Live
	}
	if aged != rep.Tokens.Active {
		t.Errorf("ages count %d tokens, report %d active", aged, rep.Tokens.Active)
	}
	if _, err := l.Report(ctx, ReportOptions{Since: until, Until: since}); err == nil {
		t.Error("an empty period was accepted")
	}
}

// TestOldestLiveAgreesWithTheView: the report's oldest live tokens, found
// without reading every token, are the first live tokens of the whole view
// sorted by first_seen_at, on a history of issues, imports with old iats,
// revocations and tokens seen live again.
func TestOldestLiveAgreesWithTheView(t *testing.T) {
	c := newClock()
	c.Set(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	l := openTest(t, WithNow(c.Now))
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	var batch []Event
	for i := range 400 {
		e := Event{Kind: KindIssue, Fingerprint: fp(i), CData: "c"}
		if i%3 == 0 {
			iat := time.Date(2020+r.IntN(6), time.Month(1+r.IntN(12)), 1, 0, 0, 0, 0, time.UTC)
			e.Kind, e.Detail = KindImport, json.RawMessage(`{"token_iat":"`+formatTS(iat)+`"}`)
		}
		batch = append(batch, e)
		if r.IntN(3) == 0 {
			batch = append(batch, Event{Kind: KindRevoke, Fingerprint: fp(r.IntN(i + 1))})
		}
		if r.IntN(9) == 0 {
			batch = append(batch, Event{Kind: KindSeenLive, Fingerprint: fp(r.IntN(i + 1))})
		}
	}
	if _, err := l.AppendBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var all []Token
	for _, tk := range collect(t, l.Tokens(ctx, TokenFilter{State: StateActive})) {
		all = append(all, tk)
	}
	slices.SortFunc(all, byFirstSeen)
	for _, n := range []int{1, 5, 10, 50, 1000} {
		rep, err := l.Report(ctx, ReportOptions{Oldest: n})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, tk := range rep.OldestLive {
			got = append(got, tk.Fingerprint)
		}
		for _, tk := range all[:min(n, len(all))] {
			want = append(want, tk.Fingerprint)
		}
		if !slices.Equal(got, want) {
			t.Errorf("oldest %d: %d tokens, differing from the view's %d", n, len(got), len(want))
		}
	}
}
