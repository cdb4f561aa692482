package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// insertChunk is how many rows one INSERT statement writes, at most.
const insertChunk = 64

// insertSQL returns an INSERT of rows rows into table, cols columns each.
func insertSQL(table, columns string, cols, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + columns + ") VALUES ")
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

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
	if err := l.autoCheckpoint(ctx, tx, out[len(out)-1].Seq+1); err != nil {
		return nil, fmt.Errorf("audit: append: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("audit: append: commit: %w", classify(err))
	}
	return out, nil
}

// appendTx assigns seq, ts and leaf hash to each event and inserts it with
// its stored hashes, inside tx, insertChunk rows per statement.
func appendTx(ctx context.Context, tx *sql.Tx, events []Event, now func() time.Time) error {
	var size int64
	if err := tx.QueryRowContext(ctx, sizeQuery).Scan(&size); err != nil {
		return fmt.Errorf("audit: append: read tree size: %w", classify(err))
	}
	stmts := map[[2]int]*sql.Stmt{} // by table (0 events, 1 hashes) and rows
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	exec := func(table, rows int, args []any) error {
		st, ok := stmts[[2]int{table, rows}]
		if !ok {
			q := insertSQL("events", eventColumns, 13, rows)
			if table == 1 {
				q = insertSQL("hashes", "seq, hashes", 2, rows)
			}
			var err error
			if st, err = tx.PrepareContext(ctx, q); err != nil {
				return err
			}
			stmts[[2]int{table, rows}] = st
		}
		_, err := st.ExecContext(ctx, args...)
		return err
	}

	hr := newFrontier(dbHashReader{ctx, tx})
	evArgs := make([]any, 0, insertChunk*13)
	hArgs := make([]any, 0, insertChunk*2)
	var leaf []byte
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
		leaf = row.appendLeaf(leaf[:0])
		hashes, err := tlog.StoredHashes(e.Seq, leaf, hr)
		if err != nil {
			return fmt.Errorf("audit: append: compute stored hashes for seq %d: %w", e.Seq, err)
		}
		hr.add(e.Seq, hashes)
		e.LeafHash = hex.EncodeToString(hashes[0][:])
		var status, reqSeq any
		if e.HTTPStatus != 0 {
			status = e.HTTPStatus
		}
		if e.RequestSeq != nil {
			reqSeq = *e.RequestSeq
		}
		blob := make([]byte, 0, len(hashes)*tlog.HashSize)
		for _, h := range hashes {
			blob = append(blob, h[:]...)
		}
		evArgs = append(evArgs, e.Seq, row[1], row[2], row[3], row[4], row[5], row[6], row[7],
			status, reqSeq, row[10], row[11], blob[:tlog.HashSize])
		hArgs = append(hArgs, e.Seq, blob)
		if n := len(hArgs) / 2; n == insertChunk || i == len(events)-1 {
			if err := exec(0, n, evArgs); err != nil {
				return fmt.Errorf("audit: append: insert events %d to %d: %w", e.Seq+1-int64(n), e.Seq, classify(err))
			}
			if err := exec(1, n, hArgs); err != nil {
				return fmt.Errorf("audit: append: insert the stored hashes of seq %d to %d: %w", e.Seq+1-int64(n), e.Seq, classify(err))
			}
			evArgs, hArgs = evArgs[:0], hArgs[:0]
		}
	}
	return nil
}
