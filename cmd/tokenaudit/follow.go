package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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
	var (
		write func(audit.Event) error
		cw    *csv.Writer
	)
	switch a.format {
	case output.JSONL:
		write = func(e audit.Event) error { return output.WriteJSONLine(a.stdout, e) }
	case output.CSV:
		cw = csv.NewWriter(a.stdout)
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
		if _, err := fmt.Fprintln(a.stdout, style.Dim(followRow([]string{"seq", "ts", "kind", "fingerprint", "cdata", "actor", "result", "why"}))); err != nil {
			return a.followEnd(err, f.FromSeq-1)
		}
		write = func(e audit.Event) error {
			_, err := fmt.Fprintln(a.stdout, followRow(a.eventCells(e)))
			return err
		}
	}
	last := f.FromSeq - 1
	for e, err := range l.Follow(ctx, f, 0) {
		if err != nil {
			return ledgerError(err)
		}
		if err := write(e); err != nil {
			return a.followEnd(err, last)
		}
		last = e.Seq
	}
	if gone.Load() {
		return a.followEnd(syscall.EPIPE, last)
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
	if last < 0 {
		fmt.Fprintln(a.stderr, "tokenaudit: stopped following before any event: resume with --after-seq -1")
		return nil
	}
	fmt.Fprintf(a.stderr, "tokenaudit: stopped following after seq %d: resume with --after-seq %d\n", last, last)
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
