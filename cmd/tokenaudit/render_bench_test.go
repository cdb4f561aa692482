package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// BenchmarkRenderInspectJSON splits the cost of one "inspect --format jsonl"
// line: the Summary path that Woleet tokens take (summary-parse, then
// summary-json: fingerprint, times and copying), and the record path that
// JWE, JSON serializations and tokens with duplicate members take (parse,
// record, json).
func BenchmarkRenderInspectJSON(b *testing.B) {
	tok := string(bytes.TrimSpace(woleetStream(1)))
	now := time.Now()
	clock := jwtinspect.WithNow(func() time.Time { return now })
	b.Run("summary-parse", func(b *testing.B) {
		b.ReportAllocs()
		var s jwtinspect.Summary
		for b.Loop() {
			_ = s.Parse(tok, clock)
		}
	})
	var s jwtinspect.Summary
	if err := s.Parse(tok, clock); err != nil || !summaryJSONOK(&s) {
		b.Fatalf("the Summary path does not take the token: %v", err)
	}
	buf := make([]byte, 0, 1024)
	b.Run("summary-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendSummaryJSON(buf[:0], &s, now)
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = jwtinspect.Parse(tok, clock)
		}
	})
	t, _ := jwtinspect.Parse(tok)
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			newInspectRecord(t, now)
		}
	})
	rec := newInspectRecord(t, now)
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = appendInspectJSON(buf[:0], rec, t)
		}
	})
}
