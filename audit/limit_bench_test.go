package audit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"golang.org/x/mod/sumdb/tlog"
)

// stripChecks returns the CREATE TABLE statement ddl without its CHECK
// constraints (and the white space before each).
func stripChecks(ddl string) string {
	var b strings.Builder
	for {
		i := strings.Index(ddl, "CHECK (")
		if i < 0 {
			b.WriteString(ddl)
			return b.String()
		}
		b.WriteString(strings.TrimRight(ddl[:i], " "))
		depth, quoted := 0, false
		j := i + len("CHECK ")
	scan:
		for ; j < len(ddl); j++ {
			switch c := ddl[j]; {
			case c == '\'':
				quoted = !quoted
			case quoted:
			case c == '(':
				depth++
			case c == ')':
				depth--
				if depth == 0 {
					break scan
				}
			}
		}
		ddl = ddl[j+1:]
	}
}

// ledgerIndexes returns the CREATE INDEX statements of the ledger's
// indexes on events and hashes.
func ledgerIndexes(tb testing.TB) []string {
	tb.Helper()
	objs, err := expectedSchema(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		if o.typ == "index" && (strings.Contains(o.sql, " ON events ") || strings.Contains(o.sql, " ON hashes ")) {
			out = append(out, o.sql)
		}
	}
	return out
}

// v2Indexes are the indexes on events of schema versions 1 and 2.
var v2Indexes = []string{
	"CREATE INDEX events_token ON events (fingerprint, kind, cdata)",
	"CREATE INDEX events_cdata ON events (cdata)",
	"CREATE INDEX events_kind ON events (kind)",
	"CREATE INDEX events_ts ON events (ts)",
	"CREATE INDEX events_request_seq ON events (request_seq) WHERE request_seq IS NOT NULL",
}

// limitDB is a database to measure SQLite's limit for the ledger's rows
// in: the ledger's events and hashes tables, with or without their CHECK
// constraints and triggers, with a chosen set of indexes, on a writer
// connection set up as the ledger's (openWriter: WAL, synchronous=FULL,
// the same cache), into which rows computed beforehand are inserted as
// AppendBatch inserts them (insertChunk rows per prepared statement,
// through the driver connection, one transaction per batch).
type limitDB struct {
	db *sql.DB
}

// openLimit creates a limitDB in a temporary directory: the ledger's
// tables, bare (stripped of CHECK constraints and without triggers) or,
// with schema, as the ledger has them, with its triggers; then the extra
// DDL (indexes).
func openLimit(tb testing.TB, schema bool, ddl ...string) *limitDB {
	tb.Helper()
	ctx := context.Background()
	objs, err := expectedSchema(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "limit.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	db, err := openWriter(ctx, path, time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	stmts := []string{objs["table events"].sql, objs["table hashes"].sql}
	if schema {
		for _, o := range objs {
			if o.typ == "trigger" && (strings.Contains(o.sql, " ON events") || strings.Contains(o.sql, " ON hashes")) {
				stmts = append(stmts, o.sql)
			}
		}
	} else {
		stmts[0], stmts[1] = stripChecks(stmts[0]), stripChecks(stmts[1])
	}
	for _, q := range append(stmts, ddl...) {
		if _, err := db.Exec(q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	return &limitDB{db: db}
}

// limitRows are the INSERT arguments of a batch, insertChunk rows a statement.
type limitRows struct {
	n     []int                 // rows per statement
	ev, h [][]driver.NamedValue // arguments per statement: events, hashes
}

// limitRowsOf computes the INSERT arguments of events as stored (Seq, TS,
// LeafHash set) and of their stored hashes.
func limitRowsOf(events []Event, hashes [][]byte) *limitRows {
	rr := &limitRows{}
	for i := 0; i < len(events); i += insertChunk {
		j := min(i+insertChunk, len(events))
		var ev, h []driver.NamedValue
		for k := i; k < j; k++ {
			e := &events[k]
			row := e.row()
			ev = appendEventArgs(ev, e, &row, hashes[k][:tlog.HashSize])
			h = append(h, driver.NamedValue{Ordinal: len(h) + 1, Value: e.Seq}, driver.NamedValue{Ordinal: len(h) + 2, Value: hashes[k]})
		}
		rr.n, rr.ev, rr.h = append(rr.n, j-i), append(rr.ev, ev), append(rr.h, h)
	}
	return rr
}

// insert writes rr in one transaction.
func (r *limitDB) insert(tb testing.TB, rr *limitRows) {
	ctx := context.Background()
	conn, err := r.db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	err = conn.Raw(func(dc any) error {
		c := dc.(*sqlite3.SQLiteConn)
		stmts := map[string]driver.Stmt{}
		defer func() {
			for _, st := range stmts {
				st.Close()
			}
		}()
		exec := func(q string, args []driver.NamedValue) error {
			st, ok := stmts[q]
			if !ok {
				var err error
				if st, err = c.Prepare(q); err != nil {
					return err
				}
				stmts[q] = st
			}
			_, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
			return err
		}
		for i, n := range rr.n {
			if err := exec(insertSQL("events", insertColumns, insertArgs, n), rr.ev[i]); err != nil {
				return err
			}
			if err := exec(insertSQL("hashes", "seq, hashes", 2, n), rr.h[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// storedHashes reads the stored hashes of seq from and on from l.
func storedHashes(tb testing.TB, l *Ledger, from int64) [][]byte {
	tb.Helper()
	rows, err := l.r.Query("SELECT hashes FROM hashes WHERE seq >= ? ORDER BY seq", from)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			tb.Fatal(err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// meter adds up the wall and CPU time of one part of a benchmark.
type meter struct {
	wall  time.Duration
	cpu   cpuMeter
	begun time.Time
}

func (m *meter) start() { m.cpu.start(); m.begun = time.Now() }

func (m *meter) stop() { m.wall += time.Since(m.begun); m.cpu.stop() }

// rate returns events per second of wall time.
func (m *meter) rate(events int) float64 { return float64(events) / m.wall.Seconds() }

// hasher computes leaf and stored hashes as AppendBatch does, and nothing
// else.
type hasher struct {
	fr   *frontier
	leaf []byte
}

// hash computes the leaf and stored hashes of events as stored.
func (h *hasher) hash(tb testing.TB, events []Event) {
	if h.fr == nil {
		h.fr = newFrontier(nil)
	}
	for i := range events {
		e := &events[i]
		row := e.row()
		h.leaf = row.appendLeaf(h.leaf[:0])
		hashes, err := tlog.StoredHashes(e.Seq, h.leaf, h.fr)
		if err != nil {
			tb.Fatal(err)
		}
		h.fr.add(e.Seq, hashes)
	}
}

// sideBySide is one part of a benchmark that runs in the same loop as the
// others, on the same rows.
type sideBySide struct {
	name   string
	ledger *Ledger  // AppendBatch into it, or
	db     *limitDB // insert the rows AppendBatch stored into it, or
	hash   *hasher  // hash those rows
	m      meter
}

// benchSideBySide runs the parts side by side: each iteration generates a
// batch of size events of fresh tokens, appends it with AppendBatch to
// parts[0].ledger, and gives every part the same batch (the events as
// stored, with their stored hashes, for limitDBs and hashers), each part
// timed on its own. It reports each part's events/s ("NAME-events/s"; the
// first part's as events/s, with its CPU time per event) and returns the
// parts, for ratios.
func benchSideBySide(b *testing.B, size int, parts ...*sideBySide) {
	ctx := context.Background()
	gens := make([]benchGen, len(parts))
	for b.Loop() {
		var stored []Event
		var rows *limitRows
		for i, p := range parts {
			switch {
			case p.ledger != nil:
				events := gens[i].next(size)
				p.m.start()
				out, err := p.ledger.AppendBatch(ctx, events)
				p.m.stop()
				if err != nil {
					b.Fatal(err)
				}
				if stored == nil {
					stored = out
					rows = limitRowsOf(out, storedHashes(b, p.ledger, out[0].Seq))
				}
			case p.db != nil:
				p.m.start()
				p.db.insert(b, rows)
				p.m.stop()
			default:
				p.m.start()
				p.hash.hash(b, stored)
				p.m.stop()
			}
		}
	}
	events := b.N * size
	for i, p := range parts {
		if i == 0 {
			b.ReportMetric(p.m.rate(events), "events/s")
			b.ReportMetric(float64(p.m.cpu.total.Nanoseconds())/float64(events), "cpu-ns/event")
			continue
		}
		b.ReportMetric(p.m.rate(events), p.name+"-events/s")
	}
}

// BenchmarkAppendLimit measures AppendBatch side by side with SQLite's
// limit for the same rows with the same indexes, in the same loop: each
// iteration appends one batch of fresh tokens (batches of 1,000 and of
// 10,000, into a ledger that grows as the benchmark runs) with
// AppendBatch, then inserts the same rows, as stored, into a bare copy of
// the ledger's tables (no CHECK constraints, no triggers) with the
// ledger's indexes (see limitDB), and into a copy with the ledger's
// constraints and triggers too. It reports:
//
//   - limit-ratio: AppendBatch's events/s over the bare copy's, wall
//     time; cpu-limit-ratio the same for CPU time, which counts less of
//     the other work on a shared machine;
//   - schema-ratio: AppendBatch's events/s over the full copy's: what the
//     Go code costs (hashing, checking, the tree's frontier), as the
//     constraints cost both alike;
//   - hashing-events/s: the leaf and stored hashes alone.
func BenchmarkAppendLimit(b *testing.B) {
	for _, size := range []int{1000, 10_000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			indexes := ledgerIndexes(b)
			app := &sideBySide{name: "append", ledger: openTest(b, WithActor(benchActor))}
			limit := &sideBySide{name: "limit", db: openLimit(b, false, indexes...)}
			schema := &sideBySide{name: "schema", db: openLimit(b, true, indexes...)}
			hashing := &sideBySide{name: "hashing", hash: &hasher{}}
			benchSideBySide(b, size, app, limit, schema, hashing)
			b.ReportMetric(limit.m.wall.Seconds()/app.m.wall.Seconds(), "limit-ratio")
			b.ReportMetric(limit.m.cpu.total.Seconds()/app.m.cpu.total.Seconds(), "cpu-limit-ratio")
			b.ReportMetric(schema.m.wall.Seconds()/app.m.wall.Seconds(), "schema-ratio")
		})
	}
}

// BenchmarkIndexCost measures, side by side in one loop (see
// benchSideBySide), what the indexes cost: AppendBatch (with this
// schema's indexes, and with those of schema version 2 put back), and
// SQLite's limit for the same rows (bare tables, see limitDB) with no
// index, with one index on the fingerprint's text, with the indexes of
// version 2, with this version's, and with this version's but
// fingerprint_key a virtual column generated in SQL rather than written
// by AppendBatch; and the hashing alone. This is the table of the README's
// performance section. append_checks_ignored is AppendBatch with the
// writer's CHECK constraints off (PRAGMA ignore_check_constraints), to
// show what they cost.
func BenchmarkIndexCost(b *testing.B) {
	var digits []string // those of fingerprint_key: 8 at the start of the hash, 8 at its end
	for i := range 16 {
		c := 8 + i + 48*(i/8)
		digits = append(digits, fmt.Sprintf("(instr('123456789abcdef', substr(fingerprint, %d, 1)) << %d)", c, 60-4*i))
	}
	generated := []string{
		"ALTER TABLE events ADD COLUMN generated_key INTEGER GENERATED ALWAYS AS (CASE WHEN fingerprint <> '' THEN " + strings.Join(digits, " | ") + " END) VIRTUAL",
		"CREATE INDEX events_generated ON events (generated_key, kind, cdata) WHERE generated_key IS NOT NULL",
	}
	var current []string
	for _, q := range ledgerIndexes(b) {
		if !strings.Contains(q, "events_fp") {
			current = append(current, q)
		}
	}
	for _, size := range []int{1000, 10_000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			before := openTest(b, WithActor(benchActor))
			for _, q := range []string{"DROP INDEX events_fp", v2Indexes[0]} {
				if _, err := before.w.Exec(q); err != nil {
					b.Fatal(err)
				}
			}
			unchecked := openTest(b, WithActor(benchActor))
			if _, err := unchecked.w.Exec("PRAGMA ignore_check_constraints = ON"); err != nil {
				b.Fatal(err)
			}
			benchSideBySide(b, size,
				&sideBySide{name: "append", ledger: openTest(b, WithActor(benchActor))},
				&sideBySide{name: "append_v2_indexes", ledger: before},
				&sideBySide{name: "append_checks_ignored", ledger: unchecked},
				&sideBySide{name: "raw_no_index", db: openLimit(b, false)},
				&sideBySide{name: "raw_fingerprint_text_index", db: openLimit(b, false, "CREATE INDEX t ON events (fingerprint)")},
				&sideBySide{name: "raw_v2_indexes", db: openLimit(b, false, v2Indexes...)},
				&sideBySide{name: "raw_indexes", db: openLimit(b, false, ledgerIndexes(b)...)},
				&sideBySide{name: "raw_generated_key", db: openLimit(b, false, append(generated, current...)...)},
				&sideBySide{name: "hashing", hash: &hasher{}},
			)
		})
	}
}
