package audit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
	"golang.org/x/mod/sumdb/tlog"
)

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

	conn, err := w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: append: %w", classify(err))
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("audit: append: begin: %w", classify(err))
	}
	defer tx.Rollback()
	if err := appendTx(ctx, conn, tx, out, l.now); err != nil {
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
// its stored hashes, inside tx, which is open on conn.
func appendTx(ctx context.Context, conn *sql.Conn, tx *sql.Tx, events []Event, now func() time.Time) error {
	rows, err := prepareRows(ctx, tx, events, now)
	if err != nil {
		return err
	}
	return insertRows(ctx, conn, rows)
}

// eventRow is what one event writes: its row of events, in eventColumns
// order, and its row of hashes.
type eventRow struct {
	event  [13]driver.NamedValue
	hashes [2]driver.NamedValue
}

// prepareRows assigns seq, ts and leaf hash to each event, inside tx (whose
// snapshot gives the tree size and the stored hashes the new ones build
// on), and returns the rows to insert.
func prepareRows(ctx context.Context, tx *sql.Tx, events []Event, now func() time.Time) ([]eventRow, error) {
	var size int64
	if err := tx.QueryRowContext(ctx, sizeQuery).Scan(&size); err != nil {
		return nil, fmt.Errorf("audit: append: read tree size: %w", classify(err))
	}
	hr := newFrontier(dbHashReader{ctx, tx})
	rows := make([]eventRow, len(events))
	var leaf []byte
	for i := range events {
		e := &events[i]
		e.Seq = size + int64(i)
		e.TS = now().UTC().Truncate(time.Microsecond)
		if y := e.TS.Year(); y < 1 || y > 9999 {
			return nil, fmt.Errorf("audit: append: the clock says %v, outside years 1 to 9999", e.TS)
		}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("audit: append: event %d of %d: %w", i+1, len(events), err)
		}
		row := e.row()
		leaf = row.appendLeaf(leaf[:0])
		hashes, err := tlog.StoredHashes(e.Seq, leaf, hr)
		if err != nil {
			return nil, fmt.Errorf("audit: append: compute stored hashes for seq %d: %w", e.Seq, err)
		}
		hr.add(e.Seq, hashes)
		e.LeafHash = hex.EncodeToString(hashes[0][:])
		var status, reqSeq driver.Value
		if e.HTTPStatus != 0 {
			status = int64(e.HTTPStatus)
		}
		if e.RequestSeq != nil {
			reqSeq = *e.RequestSeq
		}
		blob := make([]byte, 0, len(hashes)*tlog.HashSize)
		for _, h := range hashes {
			blob = append(blob, h[:]...)
		}
		r := &rows[i]
		for j, v := range [...]driver.Value{e.Seq, row[1], row[2], row[3], row[4], row[5], row[6], row[7],
			status, reqSeq, row[10], row[11], blob[:tlog.HashSize]} {
			r.event[j] = driver.NamedValue{Ordinal: j + 1, Value: v}
		}
		r.hashes[0] = driver.NamedValue{Ordinal: 1, Value: e.Seq}
		r.hashes[1] = driver.NamedValue{Ordinal: 2, Value: blob}
	}
	return rows, nil
}

// insertChunk is how many rows one INSERT statement writes, at most.
//
// Every INSERT into events runs the events_dense trigger, so SQLite keeps
// a statement journal: a copy of each page the statement changes, made the
// first time the statement changes it, in case the statement alone must be
// undone. Rows of one statement share the copies of the table's last page
// and of the append-only indexes' pages; the pages of the random-key
// indexes (fingerprint, cdata) are copied once per row whatever the
// statement's length. Measured with BenchmarkAppendBatch/1000: one row per
// statement cost about 35,000 cpu-ns/event, 8, 16 or 32 rows about 27,000 to
// 30,000, within the noise of one another.
const insertChunk = 16

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

// insertRows inserts rows through conn's driver connection, inside the
// transaction open on conn, insertChunk rows per statement (prepared once
// per batch and size). Going to the driver directly skips database/sql's
// conversion of each argument, and running each statement without a
// cancellable context spares go-sqlite3 a goroutine per statement; ctx is
// checked before each statement instead.
func insertRows(ctx context.Context, conn *sql.Conn, rows []eventRow) error {
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		var stmts []driver.Stmt
		defer func() {
			for _, st := range stmts {
				st.Close()
			}
		}()
		prepare := func(q string) (driver.StmtExecContext, error) {
			st, err := c.Prepare(q)
			if err != nil {
				return nil, fmt.Errorf("prepare: %w", classify(err))
			}
			stmts = append(stmts, st)
			return st.(driver.StmtExecContext), nil
		}
		var evStmt, hStmt driver.StmtExecContext // for statements of n rows
		n := 0
		evArgs := make([]driver.NamedValue, 0, insertChunk*len(rows[0].event))
		hArgs := make([]driver.NamedValue, 0, insertChunk*len(rows[0].hashes))
		bg := context.Background()
		for len(rows) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if k := min(insertChunk, len(rows)); k != n {
				n = k
				var err error
				if evStmt, err = prepare(insertSQL("events", eventColumns, len(rows[0].event), n)); err != nil {
					return err
				}
				if hStmt, err = prepare(insertSQL("hashes", "seq, hashes", len(rows[0].hashes), n)); err != nil {
					return err
				}
			}
			evArgs, hArgs = evArgs[:0], hArgs[:0]
			for i := range n {
				for _, a := range rows[i].event {
					a.Ordinal = len(evArgs) + 1
					evArgs = append(evArgs, a)
				}
				for _, a := range rows[i].hashes {
					a.Ordinal = len(hArgs) + 1
					hArgs = append(hArgs, a)
				}
			}
			first, last := rows[0].event[0].Value, rows[n-1].event[0].Value
			if _, err := evStmt.ExecContext(bg, evArgs); err != nil {
				return fmt.Errorf("insert events %d to %d: %w", first, last, classify(err))
			}
			if _, err := hStmt.ExecContext(bg, hArgs); err != nil {
				return fmt.Errorf("insert the stored hashes of seq %d to %d: %w", first, last, classify(err))
			}
			rows = rows[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}
