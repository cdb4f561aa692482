package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// clock is a test clock that moves forward by step on every reading.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

// newClock starts at 2025-01-02T03:04:05Z and ticks one second per reading.
func newClock() *clock {
	return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), step: time.Second}
}

// Now returns the current reading and advances the clock.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// openTest opens a new ledger in a fresh temporary directory.
func openTest(t testing.TB, opts ...Option) *Ledger {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "ledger.db"), opts...)
}

// openAt opens the ledger at path and closes it when the test ends.
func openAt(t testing.TB, path string, opts ...Option) *Ledger {
	t.Helper()
	l, err := Open(path, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fp returns a fingerprint made from i, for tests.
func fp(i int) string {
	return fmt.Sprintf("sha256:%064x", i)
}

// mustAppend appends e or fails the test.
func mustAppend(t testing.TB, l *Ledger, e Event) Event {
	t.Helper()
	got, err := l.Append(context.Background(), e)
	if err != nil {
		t.Fatalf("Append(%+v): %v", e, err)
	}
	return got
}

// rawDB opens the ledger file with plain SQL, bypassing the library, the
// way someone editing it by hand would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenCreatesPrivateLedger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "ledger.db")
	l := openAt(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("ledger mode = %v, want 0600", m)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := di.Mode().Perm(); m != 0o700 {
		t.Errorf("directory mode = %v, want 0700", m)
	}
	if l.SchemaVersion() != SchemaVersion {
		t.Errorf("SchemaVersion() = %d, want %d", l.SchemaVersion(), SchemaVersion)
	}
	if l.Path() != path {
		t.Errorf("Path() = %q, want %q", l.Path(), path)
	}
	db := rawDB(t, path)
	var appID, version int
	if err := db.QueryRow("SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)").Scan(&appID, &version); err != nil {
		t.Fatal(err)
	}
	if appID != ApplicationID || version != SchemaVersion {
		t.Errorf("application_id, user_version = %#x, %d; want %#x, %d", appID, version, ApplicationID, SchemaVersion)
	}
	var strict int
	if err := db.QueryRow("SELECT count(*) FROM pragma_table_list WHERE name IN ('events', 'hashes', 'meta') AND strict = 1").Scan(&strict); err != nil {
		t.Fatal(err)
	}
	if strict != 3 {
		t.Errorf("%d of 3 tables are STRICT", strict)
	}
}

func TestOpenPragmasTookEffect(t *testing.T) {
	l := openTest(t, WithBusyTimeout(1234*time.Millisecond))
	ctx := context.Background()
	conn, err := l.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "1234",
		"temp_store": "2", "wal_autocheckpoint": strconv.Itoa(walAutocheckpoint)} {
		var got string
		if err := conn.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("writer PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	// The read pool must refuse writes.
	if _, err := l.r.ExecContext(ctx, "INSERT INTO meta VALUES ('x', 'y')"); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestOpenRefusesNonLedgersUntouched(t *testing.T) {
	otherApp := func(t *testing.T, path string) {
		db, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello')"); err != nil {
			t.Fatal(err)
		}
	}
	newer := func(t *testing.T, path string) {
		l, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		db, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion+1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string)
		want  error
	}{
		{"text file", func(t *testing.T, p string) { os.WriteFile(p, []byte("not a database\n"), 0o600) }, ErrNotALedger},
		{"short file", func(t *testing.T, p string) { os.WriteFile(p, []byte("SQLite"), 0o600) }, ErrNotALedger},
		{"sqlite header then junk", func(t *testing.T, p string) {
			os.WriteFile(p, append([]byte("SQLite format 3\x00"), bytes.Repeat([]byte{0xff}, 4000)...), 0o600)
		}, ErrNotALedger},
		{"other application", otherApp, ErrNotALedger},
		{"newer schema", newer, ErrNewerSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "file.db")
			tc.setup(t, path)
			before := snapshotDir(t, dir)
			for _, opts := range [][]Option{nil, {WithReadOnly()}} {
				l, err := Open(path, opts...)
				if err == nil {
					l.Close()
					t.Fatalf("Open(%v) succeeded", opts)
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("Open(%v) = %v, want %v", opts, err, tc.want)
				}
			}
			if after := snapshotDir(t, dir); after != before {
				t.Errorf("Open changed the directory:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// snapshotDir describes every file in dir: name, size, mode, mtime, content hash.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %d %v %v %x; ", e.Name(), fi.Size(), fi.Mode(), fi.ModTime().UnixNano(), tlog.RecordHash(data))
	}
	return b.String()
}

func TestOpenRefusesEmptyFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A ledger truncated to 0 bytes, even with its (empty) -wal and -shm
	// beside it, is not started over by a writer, nor read as "older".
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.WriteFile(empty+suffix, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range [][]Option{nil, {WithReadOnly()}} {
		_, err := Open(empty, opts...)
		if !errors.Is(err, ErrNotALedger) || !errors.Is(err, ErrLedgerEmpty) {
			t.Errorf("Open(empty file, %d options) = %v, want ErrNotALedger and ErrLedgerEmpty", len(opts), err)
		}
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("the empty file was written to: %v, %v", fi, err)
	}

	// An empty SQLite database: not a ledger either.
	emptyDB := filepath.Join(dir, "emptydb.db")
	db := rawDB(t, emptyDB)
	if _, err := db.Exec("PRAGMA journal_mode = WAL"); err != nil { // writes the header, no schema
		t.Fatal(err)
	}
	db.Close()
	for _, opts := range [][]Option{nil, {WithReadOnly()}} {
		if _, err := Open(emptyDB, opts...); !errors.Is(err, ErrNotALedger) {
			t.Errorf("Open(empty database, %d options) = %v, want ErrNotALedger", len(opts), err)
		}
	}

	// A -wal left where the ledger was: refused, and nothing created.
	gone := filepath.Join(dir, "gone.db")
	if err := os.WriteFile(gone+"-wal", []byte("wal frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]Option{nil, {WithReadOnly()}} {
		if _, err := Open(gone, opts...); !errors.Is(err, ErrNotALedger) || !strings.Contains(err.Error(), "gone.db-wal is there") {
			t.Errorf("Open(missing ledger with a -wal, %d options) = %v, want ErrNotALedger", len(opts), err)
		}
	}
	if _, err := os.Stat(gone); err == nil {
		t.Error("a ledger was created beside a leftover -wal")
	}
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	// An empty file, of mode 0644, with the empty -wal and -shm a
	// truncated ledger leaves: replaced by a new ledger of mode 0600.
	empty := filepath.Join(dir, "empty.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.WriteFile(empty+suffix, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Create(empty)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, Event{Kind: KindIssueRequested})
	if _, err := l.Verify(context.Background()); err != nil {
		t.Errorf("Verify of the new ledger: %v", err)
	}
	l.Close()
	if fi, err := os.Stat(empty); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the new ledger's mode = %v, %v; want 0600", fi.Mode(), err)
	}
	// A ledger: refused, untouched.
	if _, err := Create(empty); !errors.Is(err, ErrLedgerExists) {
		t.Errorf("Create(a ledger) = %v, want ErrLedgerExists", err)
	}
	l = openAt(t, empty)
	if n, err := l.Count(context.Background()); err != nil || n != 1 {
		t.Errorf("Create changed a ledger: %d events, %v", n, err)
	}
	// Anything else: refused.
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("not a database\n"), 0o600)
	if _, err := Create(junk); !errors.Is(err, ErrNotALedger) {
		t.Errorf("Create(a text file) = %v, want ErrNotALedger", err)
	}
	// A -wal that holds pages: refused.
	gone := filepath.Join(dir, "gone.db")
	os.WriteFile(gone+"-wal", []byte("wal frames"), 0o600)
	if _, err := Create(gone); err == nil || !strings.Contains(err.Error(), "move it away") {
		t.Errorf("Create beside a -wal holding pages = %v", err)
	}
	// A new path: as Open.
	l = openAt(t, filepath.Join(dir, "sub", "new.db"))
	if _, err := Create(l.Path()); !errors.Is(err, ErrLedgerExists) {
		t.Errorf("Create(a ledger Open made) = %v, want ErrLedgerExists", err)
	}
	if _, err := Create(filepath.Join(dir, "x.db"), WithReadOnly()); err == nil {
		t.Error("Create accepted WithReadOnly")
	}
}

func TestOpenCreatesOneLedgerUnderConcurrency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	const n = 8
	errs := make(chan error, n)
	ids := make(chan string, n)
	for range n {
		go func() {
			l, err := Open(path)
			if err != nil {
				errs <- err
				return
			}
			defer l.Close()
			info, err := l.Info(context.Background())
			if err == nil {
				ids <- info.LedgerID
			}
			errs <- err
		}()
	}
	seen := map[string]bool{}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open of a new path: %v", err)
		}
	}
	close(ids)
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Errorf("%d ledger ids, want 1: %v", len(seen), seen)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".new-") {
			t.Errorf("a temporary file was left: %s", e.Name())
		}
	}
}

func TestOpenReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	if _, err := Open(path, WithReadOnly()); err == nil {
		t.Fatal("read-only Open created a missing ledger")
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("read-only Open created the file")
	}
	w := openAt(t, path)
	mustAppend(t, w, Event{Kind: KindIssueRequested, CData: "acme"})
	r := openAt(t, path, WithReadOnly())
	if !r.ReadOnly() || w.ReadOnly() {
		t.Errorf("ReadOnly() = %v, %v; want true, false", r.ReadOnly(), w.ReadOnly())
	}
	if _, err := r.Append(context.Background(), Event{Kind: KindIssueRequested}); !errors.Is(err, ErrLedgerReadOnly) {
		t.Errorf("Append on a read-only ledger = %v, want ErrLedgerReadOnly", err)
	}
	if n, err := r.Count(context.Background()); err != nil || n != 1 {
		t.Errorf("Count() = %d, %v; want 1", n, err)
	}
}

func TestOptionsValidate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	for name, o := range map[string]Option{
		"nil clock":   WithNow(nil),
		"zero busy":   WithBusyTimeout(0),
		"empty actor": WithActor(""),
	} {
		if _, err := Open(path, o); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a failed Open created the file")
	}
}

func TestClose(t *testing.T) {
	l := openTest(t)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	ctx := context.Background()
	if _, err := l.Append(ctx, Event{Kind: KindIssueRequested}); !errors.Is(err, ErrLedgerClosed) {
		t.Errorf("Append after Close = %v, want ErrLedgerClosed", err)
	}
	if _, err := l.Count(ctx); !errors.Is(err, ErrLedgerClosed) {
		t.Errorf("Count after Close = %v, want ErrLedgerClosed", err)
	}
	if _, err := l.Verify(ctx); !errors.Is(err, ErrLedgerClosed) {
		t.Errorf("Verify after Close = %v, want ErrLedgerClosed", err)
	}
}

func TestTriggersRefuseUpdateAndDelete(t *testing.T) {
	l := openTest(t)
	mustAppend(t, l, Event{Kind: KindIssueRequested, CData: "acme"})
	db := rawDB(t, l.Path())
	for _, stmt := range []string{
		"UPDATE events SET cdata = 'evil'",
		"DELETE FROM events",
		"UPDATE hashes SET hashes = zeroblob(32)",
		"DELETE FROM hashes",
		"UPDATE meta SET value = 'x'",
		"DELETE FROM meta",
		"INSERT INTO events (seq, ts, kind, leaf_hash) VALUES (5, '2025-01-01T00:00:00.000000Z', 'issue_requested', zeroblob(32))",
		"INSERT INTO events (seq, ts, kind, detail, leaf_hash) VALUES (1, '2025-01-01T00:00:00.000000Z', 'issue_requested', '[1]', zeroblob(32))",
		"INSERT INTO events (seq, ts, kind, leaf_hash) VALUES (1, '2025-01-01 00:00:00', 'issue_requested', zeroblob(32))",
		"INSERT INTO events (seq, ts, kind, fingerprint, leaf_hash) VALUES (1, '2025-01-01T00:00:00.000000Z', 'issue', 'sha256:xyz', zeroblob(32))",
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("%s: succeeded", stmt)
		}
	}
	if _, err := l.Verify(context.Background()); err != nil {
		t.Errorf("Verify after refused edits: %v", err)
	}
}

func TestAppendAndTreeHead(t *testing.T) {
	c := newClock()
	l := openTest(t, WithNow(c.Now), WithActor("tester@host"))
	ctx := context.Background()
	th, err := l.TreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if th.Size != 0 {
		t.Fatalf("empty ledger has size %d", th.Size)
	}
	var leaves [][]byte
	for i := range 37 {
		req := int64(0)
		e := Event{Kind: KindIssue, Fingerprint: fp(i), CData: fmt.Sprintf("cust-%d", i%5), RequestSeq: &req,
			Detail: []byte(`{ "claims" : { "cdata": "x" } }`)}
		if i == 0 {
			e = Event{Kind: KindIssueRequested}
		}
		got := mustAppend(t, l, e)
		if got.Seq != int64(i) {
			t.Fatalf("event %d got seq %d", i, got.Seq)
		}
		if got.Actor != "tester@host" {
			t.Errorf("actor = %q", got.Actor)
		}
		if i > 0 && string(got.Detail) != `{"claims":{"cdata":"x"}}` {
			t.Errorf("detail not compacted: %s", got.Detail)
		}
		leaves = append(leaves, got.LeafBytes())
		if h := tlog.RecordHash(got.LeafBytes()); fmt.Sprintf("%x", h[:]) != got.LeafHash {
			t.Errorf("seq %d: LeafHash %s is not the hash of LeafBytes", i, got.LeafHash)
		}
		th, err := l.TreeHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := independentRoot(leaves); th.Size != int64(len(leaves)) || th.Hash != want {
			t.Fatalf("after %d events: TreeHead = %d %v, want %d %v", i+1, th.Size, th.Hash, len(leaves), want)
		}
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	th, _ = l.TreeHead(ctx)
	if !rep.OK() || rep.Verified != 37 || rep.Head != th {
		t.Errorf("Verify = %+v, want OK, 37 events, head %v", rep, th)
	}
}

// independentRoot computes the RFC 6962 Merkle tree hash (section 2.1)
// of leaves without tlog, straight from the RFC's recursive definition.
func independentRoot(leaves [][]byte) tlog.Hash {
	var mth func(d [][]byte) tlog.Hash
	mth = func(d [][]byte) tlog.Hash {
		switch len(d) {
		case 0:
			return tlog.Hash(sha256Sum(nil))
		case 1:
			return tlog.Hash(sha256Sum(append([]byte{0}, d[0]...)))
		}
		k := 1
		for k*2 < len(d) {
			k *= 2
		}
		l, r := mth(d[:k]), mth(d[k:])
		return tlog.Hash(sha256Sum(append(append([]byte{1}, l[:]...), r[:]...)))
	}
	return mth(leaves)
}

func TestAppendRejects(t *testing.T) {
	l := openTest(t)
	ctx := context.Background()
	mustAppend(t, l, Event{Kind: KindIssueRequested})
	neg := int64(-1)
	future := int64(5)
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJjZGF0YSI6ImFjbWUifQ.c2lnbmF0dXJl"
	for name, e := range map[string]Event{
		"unknown kind":          {Kind: "issued"},
		"empty kind":            {},
		"issue without fp":      {Kind: KindIssue},
		"bad fingerprint":       {Kind: KindRevoke, Fingerprint: "sha256:ABC"},
		"uppercase fingerprint": {Kind: KindRevoke, Fingerprint: strings.ToUpper(fp(1))},
		"bad status":            {Kind: KindIssueFailed, HTTPStatus: 42},
		"negative request":      {Kind: KindIssueFailed, RequestSeq: &neg},
		"future request":        {Kind: KindIssueFailed, RequestSeq: &future},
		"detail not json":       {Kind: KindIssueRequested, Detail: []byte("{")},
		"detail array":          {Kind: KindIssueRequested, Detail: []byte("[1]")},
		"bad utf8":              {Kind: KindIssueRequested, CData: "\xff"},
		"nul":                   {Kind: KindIssueRequested, CData: "a\x00b"},
		"token in error":        {Kind: KindIssueFailed, Error: "server said " + jwt},
		"token in detail":       {Kind: KindIssueRequested, Detail: []byte(`{"t":"` + jwt + `"}`)},
		"token in cdata":        {Kind: KindIssueRequested, CData: jwt},
		"unsigned token":        {Kind: KindIssueRequested, Subject: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
	} {
		if got, err := l.Append(ctx, e); err == nil {
			t.Errorf("%s: Append accepted %+v", name, got)
		}
	}
	// A batch is all or nothing.
	if _, err := l.AppendBatch(ctx, []Event{{Kind: KindIssueRequested}, {Kind: "bogus"}}); err == nil {
		t.Error("AppendBatch accepted a bad event")
	}
	if n, _ := l.Count(ctx); n != 1 {
		t.Errorf("Count() = %d after refused appends, want 1", n)
	}
	if _, err := l.Verify(ctx); err != nil {
		t.Error(err)
	}
}

func TestAppendBatch(t *testing.T) {
	l := openTest(t)
	ctx := context.Background()
	mustAppend(t, l, Event{Kind: KindIssueRequested})
	var batch []Event
	for i := range 300 {
		batch = append(batch, Event{Kind: KindImport, Fingerprint: fp(i), CData: "bulk"})
	}
	got, err := l.AppendBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		if e.Seq != int64(i+1) || e.Fingerprint != fp(i) || e.LeafHash == "" {
			t.Fatalf("batch event %d = %+v", i, e)
		}
	}
	if batch[0].Seq != 0 || batch[0].LeafHash != "" {
		t.Error("AppendBatch modified its argument")
	}
	if got, err := l.AppendBatch(ctx, nil); err != nil || got != nil {
		t.Errorf("AppendBatch(nil) = %v, %v", got, err)
	}
	if _, err := l.Verify(ctx); err != nil {
		t.Error(err)
	}
}

// TestAppendBatchIsAtomic: a batch that fails in its third statement
// (insertChunk rows each) leaves nothing behind, and the next batch
// continues the ledger.
func TestAppendBatchIsAtomic(t *testing.T) {
	l := openTest(t)
	ctx := context.Background()
	mustAppend(t, l, Event{Kind: KindIssueRequested})
	db := rawDB(t, l.Path())
	bad := int64(1 + 2*insertChunk + 3)
	mustExec(t, db, fmt.Sprintf("CREATE TRIGGER test_fail BEFORE INSERT ON events WHEN NEW.seq = %d BEGIN SELECT RAISE(ABORT, 'test failure'); END", bad))
	var batch []Event
	for i := range 4 * insertChunk {
		batch = append(batch, Event{Kind: KindImport, Fingerprint: fp(i), CData: "bulk"})
	}
	if _, err := l.AppendBatch(ctx, batch); err == nil || !strings.Contains(err.Error(), "test failure") {
		t.Fatalf("AppendBatch = %v, want the trigger's failure", err)
	}
	if n, err := l.Count(ctx); err != nil || n != 1 {
		t.Fatalf("after a failed batch Count = %d, %v; want 1", n, err)
	}
	mustExec(t, db, "DROP TRIGGER test_fail")
	for _, size := range []int{1, insertChunk - 1, insertChunk, insertChunk + 1, 3*insertChunk + 5} {
		before, err := l.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.AppendBatch(ctx, batch[:size])
		if err != nil {
			t.Fatalf("batch of %d: %v", size, err)
		}
		for i, e := range got {
			if e.Seq != before+int64(i) {
				t.Fatalf("batch of %d: event %d has seq %d, want %d", size, i, e.Seq, before+int64(i))
			}
		}
		var stored []Event
		for e, err := range l.Events(ctx, EventFilter{FromSeq: before}) {
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, e)
		}
		if len(stored) != size {
			t.Fatalf("batch of %d: %d events stored", size, len(stored))
		}
		for i := range stored {
			if stored[i].Fingerprint != got[i].Fingerprint || stored[i].LeafHash != got[i].LeafHash {
				t.Fatalf("batch of %d: stored event %d = %+v, returned %+v", size, i, stored[i], got[i])
			}
		}
	}
	if _, err := l.Verify(ctx); err != nil {
		t.Error(err)
	}
}

// sha256Sum is crypto/sha256.Sum256, named for the RFC's MTH definition.
func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func TestInfo(t *testing.T) {
	l := openTest(t)
	ctx := context.Background()
	mustAppend(t, l, Event{Kind: KindIssueRequested})
	info, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := l.TreeHead(ctx)
	if info.Path != l.Path() || info.SchemaVersion != SchemaVersion || len(info.LedgerID) != 32 || !isLowerHex(info.LedgerID) ||
		time.Since(info.CreatedAt) > time.Hour || info.Head != head || info.Head.Size != 1 || info.FileBytes == 0 {
		t.Errorf("Info() = %+v", info)
	}
	b, err := json.Marshal(info.Head)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`{"size":1,"hash":"%x"}`, head.Hash[:]); string(b) != want {
		t.Errorf("head JSON = %s, want %s", b, want)
	}
	// Another Open sees the same identity.
	again := openAt(t, l.Path(), WithReadOnly())
	if info2, err := again.Info(ctx); err != nil || info2.LedgerID != info.LedgerID {
		t.Errorf("second Info() = %+v, %v", info2, err)
	}
}
