package audit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// followInto follows l from fromSeq with filter f in a goroutine and
// appends every seq seen to a slice; stop ends it and returns the seqs.
func followInto(t *testing.T, l *Ledger, f EventFilter) (seen func() []int64, stop func() []int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu   sync.Mutex
		seqs []int64
		ferr error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for e, err := range l.Follow(ctx, f, 10*time.Millisecond) {
			if err != nil {
				ferr = err
				return
			}
			mu.Lock()
			seqs = append(seqs, e.Seq)
			mu.Unlock()
		}
	}()
	seen = func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seqs)
	}
	stop = func() []int64 {
		cancel()
		<-done
		if ferr != nil {
			t.Fatalf("Follow: %v", ferr)
		}
		return seen()
	}
	return seen, stop
}

// waitSeqs waits until seen returns at least n seqs.
func waitSeqs(t *testing.T, seen func() []int64, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if len(seen()) >= n {
			return
		}
	}
	t.Fatalf("the follower saw %d events, want %d", len(seen()), n)
}

// dense returns from, from+1, …, to-1.
func dense(from, to int64) []int64 {
	var out []int64
	for s := from; s < to; s++ {
		out = append(out, s)
	}
	return out
}

func TestFollowNeverSkipsNorRepeats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	w := openAt(t, path)
	r := openAt(t, path, WithReadOnly()) // as another process would
	ctx := context.Background()
	mustAppend(t, w, Event{Kind: KindIssueRequested, CData: "first"})
	seen, stop := followInto(t, r, EventFilter{})
	var wg sync.WaitGroup
	for wr := range 4 {
		wg.Go(func() {
			for i := range 40 {
				batch := []Event{{Kind: KindIssueRequested, CData: fmt.Sprintf("w%d-%d", wr, i)}}
				if i%5 == 0 {
					batch = append(batch, Event{Kind: KindIssueRequested, CData: "batched"})
				}
				if _, err := w.AppendBatch(ctx, batch); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	n, _ := w.Count(ctx)
	waitSeqs(t, seen, int(n))
	got := stop()
	if !slices.Equal(got, dense(0, n)) {
		t.Fatalf("followed %d seqs, want 0 to %d once each, in order: %v", len(got), n-1, got)
	}

	// Resume after the last seq seen, over more than a page.
	more := make([]Event, followPage+10)
	for i := range more {
		more[i] = Event{Kind: KindIssueRequested, CData: "more"}
	}
	if _, err := w.AppendBatch(ctx, more); err != nil {
		t.Fatal(err)
	}
	seen, stop = followInto(t, r, EventFilter{FromSeq: got[len(got)-1] + 1})
	waitSeqs(t, seen, len(more))
	if resumed := stop(); !slices.Equal(resumed, dense(n, n+int64(len(more)))) {
		t.Fatalf("resumed with %d seqs from %d, want %d to %d", len(resumed), resumed[0], n, n+int64(len(more))-1)
	}
}

func TestFollowFiltered(t *testing.T) {
	l := openTest(t)
	seen, stop := followInto(t, l, EventFilter{CData: "acme"})
	var want []int64
	for i := range 30 {
		cdata := "globex"
		if i%3 == 0 {
			cdata = "acme"
		}
		e := mustAppend(t, l, Event{Kind: KindIssueRequested, CData: cdata})
		if cdata == "acme" {
			want = append(want, e.Seq)
		}
		if i%7 == 0 {
			time.Sleep(15 * time.Millisecond) // let the follower catch up mid-way
		}
	}
	waitSeqs(t, seen, len(want))
	time.Sleep(30 * time.Millisecond)
	if got := stop(); !slices.Equal(got, want) {
		t.Fatalf("followed %v, want %v", got, want)
	}
}

func TestFollowRefusesAnEnd(t *testing.T) {
	l := openTest(t)
	for _, f := range []EventFilter{{Newest: true}, {Limit: 3}, {Until: time.Now()}} {
		for _, err := range l.Follow(context.Background(), f, 0) {
			if err == nil || !strings.Contains(err.Error(), "make no sense for a follow") {
				t.Errorf("Follow(%+v): %v, want a refusal", f, err)
			}
			break
		}
	}
}

func TestRotate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var old []*IssueResult
	for range 3 {
		res, err := f.auditor.Issue(ctx, IssueOptions{CData: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, res)
	}
	other, err := f.auditor.Issue(ctx, IssueOptions{CData: "globex"})
	if err != nil {
		t.Fatal(err)
	}

	// Delivery fails: the new token is revoked again, the old ones stay.
	before := len(f.events(t))
	var delivered string
	res, err := f.auditor.Rotate(ctx, RotateOptions{CData: "acme", Reason: "drill",
		Deliver: func(r *IssueResult) error { delivered = r.Token.Token; return errors.New("stdout closed") }})
	if err == nil || !strings.Contains(err.Error(), "it was revoked again and nothing else was revoked") {
		t.Fatalf("Rotate with a failing Deliver: %v", err)
	}
	if !f.srv.Revoked(delivered) || slices.ContainsFunc(old, func(r *IssueResult) bool { return f.srv.Revoked(r.Token.Token) }) {
		t.Fatalf("after a failed delivery: new revoked %v, old ones revoked too?", f.srv.Revoked(delivered))
	}
	evs := f.events(t)[before:]
	if !slices.Equal(kinds(evs), []Kind{KindIssueRequested, KindIssue, KindRevoke}) ||
		detailOf(t, evs[2])["reason"] != "rotation: the new token could not be handed out" || len(res.Revoked) != 0 {
		t.Fatalf("events of a failed delivery: %v, %s", kinds(evs), evs[2].Detail)
	}

	// KeepNewest 1: the two oldest go, linked to the new token.
	before = len(f.events(t))
	res, err = f.auditor.Rotate(ctx, RotateOptions{CData: "acme", KeepNewest: 1, Reason: "yearly",
		Deliver: func(r *IssueResult) error { delivered = r.Token.Token; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	fps := func(ts []ListedToken) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Fingerprint)
		}
		return out
	}
	if !slices.Equal(fps(res.Revoke), []string{old[0].Event.Fingerprint, old[1].Event.Fingerprint}) ||
		!slices.Equal(fps(res.Kept), []string{old[2].Event.Fingerprint}) || len(res.Revoked) != 2 {
		t.Fatalf("Rotate: revoke %v, kept %v, revoked %d", fps(res.Revoke), fps(res.Kept), len(res.Revoked))
	}
	if !f.srv.Revoked(old[0].Token.Token) || !f.srv.Revoked(old[1].Token.Token) || f.srv.Revoked(old[2].Token.Token) ||
		f.srv.Revoked(delivered) || f.srv.Revoked(other.Token.Token) {
		t.Fatal("the API's tokens are not those rotated")
	}
	evs = f.events(t)[before:]
	if !slices.Equal(kinds(evs), []Kind{KindIssueRequested, KindIssue, KindRevoke, KindRevoke}) {
		t.Fatalf("rotation events %v", kinds(evs))
	}
	issued := evs[1]
	if got := fmt.Sprint(detailOf(t, issued)["rotates"]); got != fmt.Sprint([]any{old[0].Event.Fingerprint, old[1].Event.Fingerprint}) {
		t.Errorf("detail.rotates = %s", got)
	}
	for _, e := range evs {
		if d := detailOf(t, e); d["reason"] != "yearly" {
			t.Errorf("%s event: reason %v", e.Kind, d["reason"])
		}
	}
	for _, e := range evs[2:] {
		if detailOf(t, e)["rotated_by"] != issued.Fingerprint {
			t.Errorf("revoke of %s: rotated_by %v, want %s", e.Fingerprint, detailOf(t, e)["rotated_by"], issued.Fingerprint)
		}
	}

	// A dry run issues nothing.
	before = len(f.events(t))
	res, err = f.auditor.Rotate(ctx, RotateOptions{CData: "acme", DryRun: true})
	if err != nil || len(res.Revoke) != 2 || len(f.events(t)) != before {
		t.Fatalf("dry run: %v, revoke %d, events %d → %d", err, len(res.Revoke), before, len(f.events(t)))
	}
}

func TestReconcileSummaryAndReason(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.auditor.Issue(ctx, IssueOptions{CData: "acme"}); err != nil {
		t.Fatal(err)
	}
	before := len(f.events(t))
	if res, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true}); err != nil || len(res.Recorded) != 0 {
		t.Fatalf("a reconcile in sync without Summary recorded %v (%v)", res, err)
	}
	res, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true, Summary: true, Reason: "nightly eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"})
	if err != nil || len(res.Recorded) != 1 || res.Recorded[0].Kind != KindReconciled {
		t.Fatalf("Reconcile with Summary: %v, %v", err, res)
	}
	d := detailOf(t, res.Recorded[0])
	if d["in_sync"] != true || d["listed"] != 1.0 || d["ledger_active"] != 1.0 ||
		!strings.HasPrefix(d["reason"].(string), "nightly [token sha256:") {
		t.Errorf("reconciled detail %s", res.Recorded[0].Detail)
	}
	if len(f.events(t)) != before+1 {
		t.Errorf("%d events recorded, want 1", len(f.events(t))-before)
	}

	// With a difference, the summary comes after it, with the reason on both.
	if _, err := f.srv.IssueDirect(woleettest.DefaultEmail, "shadow"); err != nil {
		t.Fatal(err)
	}
	res, err = f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true, Summary: true, Reason: "nightly"})
	if err != nil || !slices.Equal(kinds(res.Recorded), []Kind{KindImport, KindReconciled}) {
		t.Fatalf("Reconcile: %v, %v", err, kinds(res.Recorded))
	}
	for _, e := range res.Recorded {
		if detailOf(t, e)["reason"] != "nightly" {
			t.Errorf("%s: detail %s", e.Kind, e.Detail)
		}
	}
	if detailOf(t, res.Recorded[1])["in_sync"] != false {
		t.Errorf("reconciled detail %s, want in_sync false", res.Recorded[1].Detail)
	}
}

// BenchmarkAppendFollowed measures appends with and without a follower
// reading the same ledger through its own connections, as "events
// --follow" does from another process: polling every 200ms (the CLI's
// interval), and every millisecond (200 times as often). Appends are
// durable single events (as issue and revoke write: bound by the fsync)
// and batches of 100 (bound by the CPU, where a lock held by the follower
// would show). Compare the events/s of the variants of one run; cpu-ns
// counts the follower's CPU time too (one process).
func BenchmarkAppendFollowed(b *testing.B) {
	for _, batch := range []int{1, 100} {
		for _, interval := range []time.Duration{0, DefaultFollowInterval, time.Millisecond} {
			name := fmt.Sprintf("batch=%d/follower=none", batch)
			if interval > 0 {
				name = fmt.Sprintf("batch=%d/follower=%v", batch, interval)
			}
			b.Run(name, func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "ledger.db")
				w := openAt(b, path, WithActor(benchActor))
				ctx, cancel := context.WithCancel(context.Background())
				var followed atomic.Int64
				done := make(chan struct{})
				if interval > 0 {
					r := openAt(b, path, WithReadOnly())
					go func() {
						defer close(done)
						for _, err := range r.Follow(ctx, EventFilter{}, interval) {
							if err != nil {
								return
							}
							followed.Add(1)
						}
					}()
				} else {
					close(done)
				}
				if batch == 1 {
					benchAppendEach(b, w)
				} else {
					benchAppendBatch(b, w, &benchGen{}, batch)
				}
				cancel()
				<-done
				if interval > 0 {
					b.ReportMetric(float64(followed.Load())/float64(b.N*batch), "followed/event")
				}
			})
		}
	}
}
