package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

const insertEvent = `INSERT INTO events (seq, ts, kind, fingerprint, cdata, subject, actor,
    api_url, http_status, request_seq, error, detail, leaf_hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertHash = `INSERT INTO hashes (id, hash) VALUES (?, ?)`

// Append records one event and returns it as stored, with Seq, TS and
// LeafHash set (and Actor, when it was empty). The event, its leaf hash and
// the Merkle tree's new stored hashes are written in one transaction that is
// durable (fsynced) when Append returns without error.
//
// Append refuses an event with an unknown kind, a malformed fingerprint,
// text that is not UTF-8, a detail that is not a JSON object, or any field
// that looks like it holds a raw token.
func (l *Ledger) Append(ctx context.Context, e Event) (Event, error) {
	out, err := l.AppendBatch(ctx, []Event{e})
	if err != nil {
		return Event{}, err
	}
	return out[0], nil
}

// AppendBatch records events in order, in one transaction: all of them or,
// on error, none. It returns them as stored (see [Ledger.Append]). One
// commit for many events makes it the way to record imports.
func (l *Ledger) AppendBatch(ctx context.Context, events []Event) ([]Event, error) {
	w, err := l.writer()
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, nil
	}
	out := make([]Event, len(events))
	copy(out, events)
	for i := range out {
		e := &out[i]
		if e.Actor == "" {
			e.Actor = l.actor
		}
		e.Detail = append([]byte(nil), e.Detail...)
		if e.RequestSeq != nil {
			rs := *e.RequestSeq
			e.RequestSeq = &rs
		}
		if err := e.normalize(); err != nil {
			return nil, fmt.Errorf("audit: append: event %d of %d: %w", i+1, len(out), err)
		}
	}

	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("audit: append: begin: %w", classify(err))
	}
	defer tx.Rollback()
	if err := appendTx(ctx, tx, out, l.now); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("audit: append: commit: %w", classify(err))
	}
	return out, nil
}

// appendTx assigns seq, ts and leaf hash to each event and inserts it with
// its stored hashes, inside tx.
func appendTx(ctx context.Context, tx *sql.Tx, events []Event, now func() time.Time) error {
	var size int64
	if err := tx.QueryRowContext(ctx, sizeQuery).Scan(&size); err != nil {
		return fmt.Errorf("audit: append: read tree size: %w", classify(err))
	}
	insE, err := tx.PrepareContext(ctx, insertEvent)
	if err != nil {
		return fmt.Errorf("audit: append: %w", classify(err))
	}
	defer insE.Close()
	insH, err := tx.PrepareContext(ctx, insertHash)
	if err != nil {
		return fmt.Errorf("audit: append: %w", classify(err))
	}
	defer insH.Close()

	hr := newFrontier(dbHashReader{ctx, tx})
	for i := range events {
		e := &events[i]
		e.Seq = size + int64(i)
		e.TS = now().UTC().Truncate(time.Microsecond)
		if y := e.TS.Year(); y < 1 || y > 9999 {
			return fmt.Errorf("audit: append: the clock says %v, outside years 1 to 9999", e.TS)
		}
		if err := e.validate(); err != nil {
			return fmt.Errorf("audit: append: event %d of %d: %w", i+1, len(events), err)
		}
		row := e.row()
		leaf := row.appendLeaf(nil)
		hashes, err := tlog.StoredHashes(e.Seq, leaf, hr)
		if err != nil {
			return fmt.Errorf("audit: append: compute stored hashes for seq %d: %w", e.Seq, err)
		}
		e.LeafHash = hex.EncodeToString(hashes[0][:])
		var status, reqSeq any
		if e.HTTPStatus != 0 {
			status = e.HTTPStatus
		}
		if e.RequestSeq != nil {
			reqSeq = *e.RequestSeq
		}
		if _, err := insE.ExecContext(ctx, e.Seq, row[1], row[2], row[3], row[4], row[5], row[6],
			row[7], status, reqSeq, row[10], row[11], hashes[0][:]); err != nil {
			return fmt.Errorf("audit: append: insert seq %d: %w", e.Seq, classify(err))
		}
		base := tlog.StoredHashIndex(0, e.Seq)
		for j := range hashes {
			if _, err := insH.ExecContext(ctx, base+int64(j), hashes[j][:]); err != nil {
				return fmt.Errorf("audit: append: insert stored hash %d: %w", base+int64(j), classify(err))
			}
		}
		hr.add(e.Seq, hashes)
	}
	return nil
}
