package audit

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
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
	return l.appendBatch(ctx, events, nil)
}

// AppendIf appends, in one transaction, the entries whose conditions hold,
// each decided inside that transaction after the entries before it (see
// [Cond]). It returns the events appended, as stored, and for each entry
// whether it was. Nothing is appended on error.
func (l *Ledger) AppendIf(ctx context.Context, entries []Guarded) (appended []Event, applied []bool, err error) {
	events := make([]Event, len(entries))
	for i, g := range entries {
		events[i] = g.Event
	}
	applied = make([]bool, len(entries))
	appended, err = l.appendBatch(ctx, events, func(q queryer) ([]Event, error) {
		c := &condChecker{ctx: ctx, q: q, tokens: map[string]tokenState{}, answered: map[int64]bool{}}
		normalized := make([]Guarded, len(entries))
		for i, g := range entries {
			normalized[i] = Guarded{Event: events[i], If: g.If}
		}
		kept, ok, err := c.filter(normalized)
		copy(applied, ok)
		return kept, err
	})
	if err != nil {
		return nil, nil, err
	}
	return appended, applied, nil
}

// appendBatch is AppendBatch and AppendIf: when choose is set, it picks,
// inside the write transaction, which of the (normalized) events to append.
func (l *Ledger) appendBatch(ctx context.Context, events []Event, choose func(queryer) ([]Event, error)) ([]Event, error) {
	w, err := l.writer()
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, nil
	}
	out := events
	if choose == nil {
		out = make([]Event, len(events))
		copy(out, events)
	}
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
	tx, err := l.writeTx(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("audit: append: begin: %w", err)
	}
	defer tx.Rollback()
	if choose != nil {
		if out, err = choose(tx); err != nil {
			return nil, fmt.Errorf("audit: append: %w", err)
		}
		if len(out) == 0 {
			return []Event{}, nil
		}
	}
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
// its stored hashes, inside tx, which is open on conn: it checks the
// ledger's last event and reads the stored hashes the new ones build on in
// tx (see tailFrontier), then computes and inserts the rows insertChunk at
// a time through conn's driver connection (see insertRows), and reads back
// what it wrote (see confirmRows).
func appendTx(ctx context.Context, conn *sql.Conn, tx *sql.Tx, events []Event, now func() time.Time) error {
	size, fr, err := tailFrontier(ctx, tx)
	if err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	rw := rowWriter{events: events, size: size, fr: fr, now: now}
	if err := insertRows(ctx, conn, &rw); err != nil {
		return err
	}
	if err := confirmRows(ctx, tx, events); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}

// tailFrontier returns the tree size and the frontier appending to it
// needs (see frontierAt), having checked the ledger's end: it refuses to
// append to a ledger whose last event does not match its leaf hash, whose
// last stored hashes are not what that event and the stored hashes before
// it give, or which holds stored hashes beyond its last event (a ledger
// [Ledger.Verify] calls damaged at its end). It reads the last event with
// its stored hashes, and the frontier before it, which with the last
// event's hashes is the frontier after it: about what reading that
// frontier alone costs.
func tailFrontier(ctx context.Context, q queryer) (int64, *frontier, error) {
	var last sql.NullInt64
	var cols [len(leafColumns) - 1][]byte
	var stored, hashes []byte
	var hmax sql.NullInt64
	dest := []any{&last}
	for i := range cols {
		dest = append(dest, &cols[i])
	}
	dest = append(dest, &stored, &hashes, &hmax)
	err := q.QueryRowContext(ctx, "SELECT seq, "+leafTextColumns+`, leaf_hash,
    (SELECT h.hashes FROM hashes AS h WHERE h.seq = events.seq), (SELECT max(seq) FROM hashes)
FROM events WHERE seq = (SELECT max(seq) FROM events)`).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) { // no events
		err = q.QueryRowContext(ctx, "SELECT max(seq) FROM hashes").Scan(&hmax)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read the ledger's last event: %w", classify(err))
	}
	n := int64(-1)
	if last.Valid {
		n = last.Int64
	}
	damaged := func(seq int64, format string, args ...any) error {
		return fmt.Errorf("refusing to append to a damaged ledger (run tokenaudit ledger verify): %w",
			&IntegrityError{Seq: seq, Problem: fmt.Sprintf(format, args...)})
	}
	if hmax.Valid && hmax.Int64 > n {
		return 0, nil, damaged(hmax.Int64, "there are stored hashes for seq %d, beyond the last event: events were removed from the end", hmax.Int64)
	}
	if n < 0 {
		return 0, newFrontier(nil), nil
	}
	rh := tlog.RecordHash(appendRowLeaf(nil, n, cols[:]))
	if !bytes.Equal(stored, rh[:]) {
		return 0, nil, damaged(n, "the row does not match its leaf_hash: a column was changed")
	}
	fr, err := frontierAt(ctx, q, n)
	if err != nil {
		return 0, nil, err
	}
	want, err := tlog.StoredHashesForRecordHash(n, rh, fr)
	if err != nil {
		return 0, nil, fmt.Errorf("compute the stored hashes of seq %d: %w", n, err)
	}
	if hashes == nil {
		return 0, nil, damaged(n, "the stored hashes of seq %d are missing", n)
	}
	if len(hashes) != len(want)*tlog.HashSize {
		return 0, nil, damaged(n, "the stored hashes of seq %d are %d bytes, not %d", n, len(hashes), len(want)*tlog.HashSize)
	}
	base := tlog.StoredHashIndex(0, n)
	for j, h := range want {
		if !bytes.Equal(hashes[j*tlog.HashSize:(j+1)*tlog.HashSize], h[:]) {
			return 0, nil, damaged(n, "%s does not match the events", describeHash(base+int64(j)))
		}
	}
	fr.add(n, want)
	return n + 1, fr, nil
}

// confirmRows checks, in the append's transaction, that the rows of events
// (just inserted) are there as written: as many events and stored-hash
// rows as were inserted from the first seq on, ending at the last seq,
// whose leaf hash is the one computed. A trigger that drops a row
// (RAISE(IGNORE)) or deletes or rewrites it must not let an append report
// success for an event that was not recorded.
func confirmRows(ctx context.Context, q queryer, events []Event) error {
	first, last := events[0].Seq, events[len(events)-1].Seq
	var nEvents, nHashes int64
	var maxEvent, maxHash sql.NullInt64
	var leaf []byte
	// BETWEEN rather than seq >= ?1: with max(seq) = ?2 it counts the same
	// rows, and PostgreSQL's generic plan for an open range may scan the
	// whole table.
	err := q.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM events WHERE seq BETWEEN ?1 AND ?2), (SELECT max(seq) FROM events),
    (SELECT leaf_hash FROM events WHERE seq = ?2), (SELECT count(*) FROM hashes WHERE seq BETWEEN ?1 AND ?2), (SELECT max(seq) FROM hashes)`,
		first, last).Scan(&nEvents, &maxEvent, &leaf, &nHashes, &maxHash)
	if err != nil {
		return fmt.Errorf("read back the appended events: %w", classify(err))
	}
	want := int64(len(events))
	if nEvents != want || nHashes != want || maxEvent.Int64 != last || maxHash.Int64 != last ||
		hex.EncodeToString(leaf) != events[len(events)-1].LeafHash {
		return &IntegrityError{Seq: first, Problem: fmt.Sprintf(
			"the ledger did not keep what was appended (%d of %d events and %d stored-hash rows found from seq %d, last seq %d): "+
				"something in its schema (a trigger) drops or changes rows; nothing was recorded",
			nEvents, want, nHashes, first, maxEvent.Int64)}
	}
	return nil
}

// rowWriter computes the rows of events, a chunk at a time, into buffers
// it reuses.
type rowWriter struct {
	events []Event
	size   int64 // the tree size before the first event
	fr     *frontier
	now    func() time.Time
	leaf   []byte
	blobs  []byte              // the chunk's stored hashes, back to back
	ev, h  []driver.NamedValue // the chunk's arguments: events, hashes
}

// chunk computes the rows of events[i:j] (seq, ts, leaf hash and stored
// hashes), setting those fields of the events, and leaves the arguments of
// their INSERT statements in rw.ev and rw.h.
func (rw *rowWriter) chunk(i, j int) error {
	rw.ev, rw.h = rw.ev[:0], rw.h[:0]
	rw.blobs = rw.blobs[:0]
	var ends [insertChunk]int // where each event's stored hashes end in blobs
	for k := i; k < j; k++ {
		e := &rw.events[k]
		e.Seq = rw.size + int64(k)
		e.TS = rw.now().UTC().Truncate(time.Microsecond)
		if y := e.TS.Year(); y < 1 || y > 9999 {
			return fmt.Errorf("the clock says %v, outside years 1 to 9999", e.TS)
		}
		if err := e.validate(); err != nil {
			return fmt.Errorf("event %d of %d: %w", k+1, len(rw.events), err)
		}
		row := e.row()
		rw.leaf = row.appendLeaf(rw.leaf[:0])
		hashes, err := tlog.StoredHashes(e.Seq, rw.leaf, rw.fr)
		if err != nil {
			return fmt.Errorf("compute stored hashes for seq %d: %w", e.Seq, err)
		}
		rw.fr.add(e.Seq, hashes)
		e.LeafHash = hex.EncodeToString(hashes[0][:])
		for _, h := range hashes {
			rw.blobs = append(rw.blobs, h[:]...)
		}
		ends[k-i] = len(rw.blobs)
		rw.ev = appendEventArgs(rw.ev, e, &row, nil) // leaf_hash: below, once blobs stops growing
		rw.h = append(rw.h, driver.NamedValue{Ordinal: len(rw.h) + 1, Value: e.Seq}, driver.NamedValue{Ordinal: len(rw.h) + 2})
	}
	start := 0
	for k := range j - i {
		b := rw.blobs[start:ends[k]:ends[k]]
		rw.ev[insertArgs*k+12].Value = b[:tlog.HashSize]
		rw.h[2*k+1].Value = b
		start = ends[k]
	}
	return nil
}

// appendEventArgs appends to dst the arguments of e's row in an INSERT of
// insertColumns, numbered on from len(dst): row holds e's column texts
// (see [Event.row]) and leaf its leaf hash.
func appendEventArgs(dst []driver.NamedValue, e *Event, row *leafRow, leaf []byte) []driver.NamedValue {
	var status, reqSeq, leafHash, key driver.Value
	if e.HTTPStatus != 0 {
		status = int64(e.HTTPStatus)
	}
	if e.RequestSeq != nil {
		reqSeq = *e.RequestSeq
	}
	if leaf != nil {
		leafHash = leaf
	}
	if e.Fingerprint != "" {
		key = fingerprintKey(e.Fingerprint)
	}
	for _, v := range [...]driver.Value{e.Seq, row[1], row[2], row[3], row[4], row[5], row[6], row[7],
		status, reqSeq, row[10], row[11], leafHash, key} {
		dst = append(dst, driver.NamedValue{Ordinal: len(dst) + 1, Value: v})
	}
	return dst
}

// frontierAt returns a frontier holding the stored hashes that appending
// records to a tree of size n needs, read from q in one query: the roots of
// the complete subtrees the tree splits into, one per bit set in n. (The
// record n needs the roots of the subtrees ending at its trailing 1 bits,
// and every later record either those or roots it built itself.)
func frontierAt(ctx context.Context, q queryer, n int64) (*frontier, error) {
	var ids []int64
	for level := 0; n>>level > 0; level++ {
		if (n>>level)&1 == 1 {
			ids = append(ids, tlog.StoredHashIndex(level, n>>level-1))
		}
	}
	hashes, err := dbHashReader{ctx, q}.ReadHashes(ids)
	if err != nil {
		return nil, err
	}
	fr := newFrontier(nil)
	for i, id := range ids {
		fr.m[id] = hashes[i]
	}
	return fr, nil
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

// insertArgs is the number of insertColumns.
const insertArgs = 14

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

// insertRows computes and inserts the rows of rw's events through conn's
// driver connection, inside the transaction open on conn, insertChunk rows
// per statement (prepared once per batch and size). Going to the driver
// directly skips database/sql's conversion of each argument, and running
// each statement without a cancellable context spares go-sqlite3 a
// goroutine per statement; ctx is checked before each statement instead.
// On PostgreSQL, insertPostgres does the same with pgx.
func insertRows(ctx context.Context, conn *sql.Conn, rw *rowWriter) error {
	err := conn.Raw(func(dc any) error {
		if pc, ok := dc.(pgConn); ok {
			return insertPostgres(ctx, pc, rw)
		}
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
		bg := context.Background()
		for i := 0; i < len(rw.events); i += n {
			if err := ctx.Err(); err != nil {
				return err
			}
			if k := min(insertChunk, len(rw.events)-i); k != n {
				n = k
				var err error
				if evStmt, err = prepare(insertSQL("events", insertColumns, insertArgs, n)); err != nil {
					return err
				}
				if hStmt, err = prepare(insertSQL("hashes", "seq, hashes", 2, n)); err != nil {
					return err
				}
			}
			if err := rw.chunk(i, i+n); err != nil {
				return err
			}
			first, last := rw.events[i].Seq, rw.events[i+n-1].Seq
			if _, err := evStmt.ExecContext(bg, rw.ev); err != nil {
				return fmt.Errorf("insert events %d to %d: %w", first, last, classify(err))
			}
			if _, err := hStmt.ExecContext(bg, rw.h); err != nil {
				return fmt.Errorf("insert the stored hashes of seq %d to %d: %w", first, last, classify(err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}
