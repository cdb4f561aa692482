package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

// followWidths are the widths of the columns of a followed table: seq, ts,
// kind, fingerprint, cdata, actor; result and why take what is left.
var followWidths = []int{6, 20, 17, 12, 16, 32}

// follow prints the events f selects as they are appended (see "events
// --follow"), until ctx ends or standard output's reader goes away.
func (a *app) follow(ctx context.Context, l *audit.Ledger, f audit.EventFilter) error {
	if a.ignoreSIGPIPE != nil {
		a.ignoreSIGPIPE()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var gone atomic.Bool
	if a.stdoutGone != nil {
		go func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if a.stdoutGone() {
						gone.Store(true)
						cancel()
						return
					}
				}
			}
		}()
	}
	out := &countingWriter{w: a.stdout}
	var (
		write func(audit.Event) error
		cw    *csv.Writer
	)
	switch a.format {
	case output.JSONL:
		write = func(e audit.Event) error { return output.WriteJSONLine(out, e) }
	case output.CSV:
		cw = csv.NewWriter(out)
		if err := cw.Write(eventHeader); err != nil {
			return err
		}
		cw.Flush()
		write = func(e audit.Event) error {
			cw.Write(a.eventCells(e))
			cw.Flush()
			return cw.Error()
		}
	default:
		style := a.style()
		if _, err := fmt.Fprintln(out, style.Dim(followRow([]string{"seq", "ts", "kind", "fingerprint", "cdata", "actor", "result", "why"}))); err != nil {
			return a.followEnd(err, f.FromSeq-1)
		}
		write = func(e audit.Event) error {
			_, err := fmt.Fprintln(out, followRow(a.eventCells(e)))
			return err
		}
	}
	last := f.FromSeq - 1
	var written followLog
	for e, err := range l.Follow(ctx, f, 0) {
		if err != nil {
			return ledgerError(err)
		}
		if err := write(e); err != nil {
			return a.followEnd(err, written.read(a.stdoutFile, out.n, last))
		}
		last = e.Seq
		written.add(e.Seq, out.n)
	}
	if gone.Load() {
		return a.followEnd(syscall.EPIPE, written.read(a.stdoutFile, out.n, last))
	}
	if err := a.followEnd(nil, last); err != nil {
		return err
	}
	// Stopped by Ctrl-C or SIGTERM, the one end of a follow that is not
	// its reader's: the exit status says so, as for every command.
	return &silentError{code: exitInterrupted}
}

// followEnd ends a follow: cleanly when it was stopped or its reader went
// away, saying on standard error where to resume.
func (a *app) followEnd(err error, last int64) error {
	if err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, io.ErrClosedPipe) {
		return fmt.Errorf("writing the events: %w", err)
	}
	what := "stopped following"
	if err != nil {
		what = "the reader went away" // what it read in full is known when it was a pipe
	}
	if last < 0 {
		fmt.Fprintf(a.stderr, "tokenaudit: %s before any event: resume with --after-seq -1\n", what)
		return nil
	}
	fmt.Fprintf(a.stderr, "tokenaudit: %s after seq %d: resume with --after-seq %d\n", what, last, last)
	return nil
}

// followRow lays out one row of a followed table in fixed-width columns,
// each cell cleaned for the terminal and cut to its width.
func followRow(cells []string) string {
	var b strings.Builder
	for i, c := range cells {
		c = output.Clean(c)
		if c == "" && i >= len(followWidths) {
			continue
		}
		if i > 0 {
			b.WriteString("  ")
		}
		if i < len(followWidths) {
			w := followWidths[i]
			if r := []rune(c); len(r) > w {
				c = string(r[:w-1]) + "…"
			}
			b.WriteString(c)
			if pad := w - len([]rune(c)); pad > 0 && i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", pad))
			}
			continue
		}
		b.WriteString(c)
	}
	return strings.TrimRight(b.String(), " ")
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// followLog remembers where each recent event's line ended in the output,
// so that a follower whose reader went away can tell which events the
// reader read: those that end before the bytes left unread in the pipe.
type followLog struct {
	seq []int64
	end []int64
}

// followLogMax bounds the events remembered: more than a pipe holds.
const followLogMax = 1 << 14

func (w *followLog) add(seq, end int64) {
	if len(w.seq) == followLogMax {
		h := followLogMax / 2
		w.seq, w.end = append(w.seq[:0], w.seq[h:]...), append(w.end[:0], w.end[h:]...)
	}
	w.seq, w.end = append(w.seq, seq), append(w.end, end)
}

// read returns the seq of the last event the reader of f read in full,
// given total bytes written: last when that cannot be told (f is not a
// pipe) or the reader read everything.
func (w *followLog) read(f *os.File, total, last int64) int64 {
	unread, ok := pipeUnread(f)
	if !ok || unread == 0 || len(w.seq) == 0 {
		return last
	}
	done := total - int64(unread)
	for i := len(w.end) - 1; i >= 0; i-- {
		if w.end[i] <= done {
			return w.seq[i]
		}
	}
	return w.seq[0] - 1
}
