package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

func BenchmarkRenderInspectJSON(b *testing.B) {
	tok := string(bytes.TrimSpace(woleetStream(1)))
	now := time.Now()
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			jwtinspect.Parse(tok, jwtinspect.WithNow(func() time.Time { return now }))
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
			appendInspectJSON(make([]byte, 0, 512+len(t.RawHeader)+len(t.Payload)), rec, t)
		}
	})
}
