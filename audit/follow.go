package audit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"
)

// DefaultFollowInterval is how often [Ledger.Follow] looks for new events
// when it has caught up.
const DefaultFollowInterval = 200 * time.Millisecond

// followPage bounds how many events one read of [Ledger.Follow] takes, so
// that each read transaction stays short.
const followPage = 1000

// Follow streams the events f selects as they are appended, from
// f.FromSeq on, in seq order, until ctx ends (then it stops, yielding no
// error) or a read fails. Events appended by other processes are seen
// within interval (DefaultFollowInterval when not positive).
//
// Seq is the cursor: every event is yielded once, none is skipped, and a
// follower that stopped after seq s resumes exactly with FromSeq s+1.
// Appends are serialised and give dense seqs in commit order, so each read
// sees a prefix of the events, and the next one starts after the last seq
// seen. Each read is one short query of at most followPage events, in its
// own read transaction: a follower never holds a lock writers wait for,
// and does not keep the write-ahead log from being checkpointed.
// f.Newest, f.Limit and f.Until are refused: a follow has no end.
func (l *Ledger) Follow(ctx context.Context, f EventFilter, interval time.Duration) iter.Seq2[Event, error] {
	if f.Newest || f.Limit != 0 || !f.Until.IsZero() {
		return failed[Event](errors.New("audit: follow: newest first, a limit and an end time make no sense for a follow"))
	}
	if interval <= 0 {
		interval = DefaultFollowInterval
	}
	return func(yield func(Event, error) bool) {
		next := max(f.FromSeq, 0)
		t := time.NewTimer(0)
		defer t.Stop()
		filtered := f.Kinds != nil || f.Fingerprint != "" || f.CData != "" || f.Subject != "" || f.Actor != "" || !f.Since.IsZero()
		for {
			// With a filter, a page says nothing of the events between
			// those it holds: the size read before it (an earlier
			// snapshot, so every event below it is visible to the page's)
			// lets the cursor skip them, so they are not scanned again.
			var size int64
			if filtered {
				var err error
				if size, err = l.Count(ctx); err != nil {
					if ctx.Err() != nil {
						return
					}
					yield(Event{}, fmt.Errorf("audit: follow: %w", err))
					return
				}
			}
			page := f
			page.FromSeq, page.Limit = next, followPage
			n := 0
			for e, err := range l.Events(ctx, page) {
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					yield(Event{}, fmt.Errorf("audit: follow: %w", err))
					return
				}
				n++
				next = e.Seq + 1
				if !yield(e, nil) {
					return
				}
			}
			if n == followPage {
				continue // more is waiting
			}
			next = max(next, size)
			t.Reset(interval)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}
