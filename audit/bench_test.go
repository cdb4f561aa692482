package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/internal/cputime"
	"github.com/tokenaudit/tokenaudit/internal/pgtest"
)

// benchFP returns a fingerprint that looks real, derived from i.
func benchFP(i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "token-%d", i))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// benchEvents returns the events of token number i of a synthetic ledger:
// its request and issue (or, for 2% of them, a failure; for 5%, an import),
// and for a third of them a revocation.
func benchEvents(i int, seq int64) []Event {
	cdata := fmt.Sprintf("customer-%04d", i%1000)
	if i%50 == 7 {
		return []Event{{Kind: KindIssueRequested, CData: cdata}, {Kind: KindIssueFailed, CData: cdata,
			RequestSeq: &seq, HTTPStatus: 503, Error: "woleet: generate token: server error", Detail: []byte(`{"outcome":"unknown"}`)}}
	}
	detail := fmt.Appendf(nil, `{"claims":{"cdata":%q,"iat":%d,"jti":"%08x","sub":"5f1e0b2a9c3d4e6f"}}`, cdata, 1700000000+i, i)
	evs := []Event{{Kind: KindIssueRequested, CData: cdata}, {Kind: KindIssue, Fingerprint: benchFP(i), CData: cdata,
		Subject: "5f1e0b2a9c3d4e6f", RequestSeq: &seq, Detail: detail}}
	if i%20 == 3 {
		evs = []Event{{Kind: KindImport, Fingerprint: benchFP(i), CData: cdata, Subject: "5f1e0b2a9c3d4e6f", Detail: detail}}
	}
	if i%3 == 0 {
		evs = append(evs, Event{Kind: KindRevoke, Fingerprint: benchFP(i), CData: cdata})
	}
	return evs
}

// benchActor is the actor of every benchmark event.
const benchActor = "bench@host via basic:ops@example.com"

// benchGen generates the events of a synthetic ledger (see benchEvents) in
// seq order, for fresh tokens each time, so that every batch brings new
// fingerprints to the indexes, as real imports do.
type benchGen struct {
	tokens  int     // tokens generated so far
	seq     int64   // seq of the next event generated
	pending []Event // generated, not yet handed out
	out     []Event // what next returned last
}

// next returns the next n events; the ledger they go to must hold exactly
// the events handed out before (request_seq points at earlier events). The
// slice is valid until the next call: its memory is reused, so that the
// garbage collector's work (which getrusage counts) comes from the code
// measured rather than from the generator.
func (g *benchGen) next(n int) []Event {
	for len(g.pending) < n {
		evs := benchEvents(g.tokens, g.seq)
		g.tokens++
		g.seq += int64(len(evs))
		g.pending = append(g.pending, evs...)
	}
	g.out = append(g.out[:0], g.pending[:n]...)
	g.pending = g.pending[:copy(g.pending, g.pending[n:])]
	return g.out
}

// cpuMeter adds up the CPU time the process spends between start and stop.
type cpuMeter struct {
	total, at time.Duration
	ok        bool
}

func (m *cpuMeter) start() { m.at, m.ok = cputime.Process() }

func (m *cpuMeter) stop() {
	if now, ok := cputime.Process(); ok && m.ok {
		m.total += now - m.at
	}
}

// report reports events/s of wall time and the CPU time per event (when
// the system gives it), for events events.
func (m *cpuMeter) report(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	if m.ok && events > 0 {
		b.ReportMetric(float64(m.total.Nanoseconds())/float64(events), "cpu-ns/event")
	}
}

// buildLedger writes a ledger of at least n events with AppendBatch, in
// batches of 10,000, one simulated minute apart, and returns the generator
// (which knows how many tokens it holds).
func buildLedger(tb testing.TB, path string, n int) *benchGen {
	tb.Helper()
	c := newClock()
	c.Set(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC))
	c.step = time.Minute
	l, err := Open(path, WithNow(c.Now), WithActor(benchActor))
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	const batch = 10_000
	g := &benchGen{}
	for g.seq-int64(len(g.pending)) < int64(n) {
		if _, err := l.AppendBatch(ctx, g.next(batch)); err != nil {
			tb.Fatal(err)
		}
	}
	if len(g.pending) > 0 { // the rest of the last token's events
		if _, err := l.AppendBatch(ctx, g.next(len(g.pending))); err != nil {
			tb.Fatal(err)
		}
	}
	return g
}

// BenchmarkAppend measures one durable Append: a transaction with an fsync
// of the write-ahead log, so it is bound by the disk.
func BenchmarkAppend(b *testing.B) {
	benchAppendEach(b, openTest(b, WithActor(benchActor)))
}

// benchAppendEach appends one event per b.Loop iteration, durably, and
// reports events/s and the CPU time per event.
func benchAppendEach(b *testing.B, l *Ledger) {
	ctx := context.Background()
	g := &benchGen{}
	var cpu cpuMeter
	for b.Loop() {
		b.StopTimer()
		e := g.next(1)[0]
		b.StartTimer()
		cpu.start()
		if _, err := l.Append(ctx, e); err != nil {
			b.Fatal(err)
		}
		cpu.stop()
	}
	cpu.report(b, b.N)
}

// BenchmarkAppendBatch measures AppendBatch of 1,000 and of 10,000 events,
// Merkle hashes included, into a fresh ledger that grows as the benchmark
// runs; every batch holds new tokens (new fingerprints), as an import does.
func BenchmarkAppendBatch(b *testing.B) {
	for _, size := range []int{1000, 10_000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			l := openTest(b, WithActor(benchActor))
			benchAppendBatch(b, l, &benchGen{}, size)
		})
	}
}

// benchAppendBatch appends batches of size events from g to l, and reports
// the rate and the CPU time per event.
func benchAppendBatch(b *testing.B, l *Ledger, g *benchGen, size int) {
	ctx := context.Background()
	var cpu cpuMeter
	for b.Loop() {
		b.StopTimer()
		events := g.next(size)
		b.StartTimer()
		cpu.start()
		if _, err := l.AppendBatch(ctx, events); err != nil {
			b.Fatal(err)
		}
		cpu.stop()
	}
	cpu.report(b, b.N*size)
}

// BenchmarkMillion builds a 1,000,000-event ledger once (with AppendBatch,
// into a temporary directory), reports its size on disk, and measures the
// read paths on it.
func BenchmarkMillion(b *testing.B) { benchMillion(b, filepath.Join(b.TempDir(), "million.db")) }

// BenchmarkMillionPostgres is BenchmarkMillion on PostgreSQL (see pgtest).
func BenchmarkMillionPostgres(b *testing.B) { benchMillion(b, pgtest.URL(b)) }

// benchMillion is BenchmarkMillion on the ledger at path (a file or a URL).
func benchMillion(b *testing.B, path string) {
	const n = 1_000_000
	start := time.Now()
	var cpu cpuMeter
	cpu.start()
	g := buildLedger(b, path, n)
	cpu.stop()
	tokens := g.tokens
	build := time.Since(start)
	l, err := Open(path, WithReadOnly(), WithNow(func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	size, err := l.Count(ctx)
	if err != nil {
		b.Fatal(err)
	}
	info, err := l.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d events (%d tokens) in %v (%v of CPU): %.0f events/s; %d bytes on disk, %.0f bytes/event",
		size, tokens, build.Round(time.Millisecond), cpu.total.Round(time.Millisecond), float64(size)/build.Seconds(),
		info.FileBytes, float64(info.FileBytes)/float64(size))

	b.Run("Report", func(b *testing.B) {
		for b.Loop() {
			rep, err := l.Report(ctx, ReportOptions{})
			if err != nil || rep.Tokens.Total == 0 {
				b.Fatal(rep, err)
			}
		}
	})
	// The period summary of the HTML report over the whole history: every
	// event of the ledger is in the period, the worst case.
	b.Run("ReportWholeHistory", func(b *testing.B) {
		for b.Loop() {
			rep, err := l.Report(ctx, ReportOptions{Since: time.Date(2022, 12, 1, 0, 0, 0, 0, time.UTC)})
			if err != nil || rep.Period == nil || rep.Period.Buckets[len(rep.Period.Buckets)-1].Live != rep.Tokens.Active {
				b.Fatal(rep, err)
			}
		}
	})
	b.Run("TokensByCData", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			found := 0
			for _, err := range l.Tokens(ctx, TokenFilter{CData: fmt.Sprintf("customer-%04d", i%1000), State: StateActive}) {
				if err != nil {
					b.Fatal(err)
				}
				found++
			}
			if found == 0 {
				b.Fatal("no token found")
			}
		}
	})
	b.Run("TokenByFingerprint", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i += 7919
			j := i % tokens
			if _, err := l.Token(ctx, benchFP(j)); err != nil && j%50 != 7 {
				b.Fatal(err)
			}
		}
	})
	b.Run("TokenByPrefix", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i += 7919
			j := i % tokens
			if _, err := l.Token(ctx, benchFP(j)[:7+12]); err != nil && j%50 != 7 {
				b.Fatal(err)
			}
		}
	})
	b.Run("EventsByFingerprint", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i += 7919
			for _, err := range l.Events(ctx, EventFilter{Fingerprint: benchFP(i % tokens)}) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("TokensOlderThan90Days", func(b *testing.B) {
		for b.Loop() {
			found := 0
			for _, err := range l.Tokens(ctx, TokenFilter{State: StateActive, MinAge: 90 * 24 * time.Hour, Limit: 100}) {
				if err != nil {
					b.Fatal(err)
				}
				found++
			}
			if found != 100 {
				b.Fatalf("found %d", found)
			}
		}
	})
	b.Run("Verify", func(b *testing.B) {
		for b.Loop() {
			rep, err := l.Verify(ctx)
			if err != nil || rep.Verified != size {
				b.Fatal(rep, err)
			}
		}
	})
	b.Run("DiskSize", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(info.FileBytes)/float64(size), "bytes/event")
	})
	// Last, as it grows the ledger: batches of fresh tokens into a ledger
	// of a million events, whose indexes no longer fit in a small cache.
	b.Run("AppendBatch1000", func(b *testing.B) {
		w, err := Open(path, WithActor(benchActor))
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		benchAppendBatch(b, w, g, 1000)
	})
}
