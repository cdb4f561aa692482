package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sumFile returns the SHA-256 of a file's bytes and of its -wal, to check
// that a command left them untouched.
func sumFile(t *testing.T, path string) [2][32]byte {
	t.Helper()
	var sums [2][32]byte
	for i, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(b)
	}
	return sums
}

// writeSQL opens a ledger read-write with plain SQL, bypassing tokenaudit,
// as someone tampering with it would.
func writeSQL(t *testing.T, path string) *sql.DB { return openSQLMode(t, path, "rw") }

func TestLedgerVerifyTampered(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	at.issue(t, "globex")
	at.run(t, "", "ledger", "verify").want(t, 0, []string{"status           intact\n", "events verified  4\n"}, nil)

	// Rewrite the cdata of seq 1 behind the triggers' back.
	db := writeSQL(t, at.db)
	for _, q := range []string{"DROP TRIGGER events_no_update", "UPDATE events SET cdata = 'mallory' WHERE seq = 1"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	r := at.run(t, "", "ledger", "verify")
	r.want(t, exitIntegrity, []string{"status           FAILED\n", "events verified  1\n", "first bad seq    1\n",
		"problem          ledger integrity: seq 1: ", "problem          ledger integrity: trigger events_no_update is missing\n"},
		[]string{"tokenaudit: the ledger fails verification: ledger integrity: seq 1: ",
			"tokenaudit: hint: do not append to it; restore it from a backup"})
	r = at.run(t, "", "ledger", "verify", "--format", "json")
	res := decodeJSON[map[string]any](t, r.stdout)
	if r.code != exitIntegrity || res["ok"] != false || res["first_bad_seq"] != 1.0 || res["verified"] != 1.0 ||
		len(res["problems"].([]any)) != 2 {
		t.Errorf("ledger verify --format json = %d, %v", r.code, res)
	}
}

func TestLedgerOpenErrors(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")

	// No ledger: reading commands say where they looked and create nothing.
	missing := filepath.Join(t.TempDir(), "none.db")
	for _, cmd := range []string{"tokens", "events", "report", "ledger verify", "ledger info"} {
		r := at.run(t, "", append(strings.Fields(cmd), "--db", missing)...)
		r.want(t, 1, nil, []string{"tokenaudit: no ledger at " + missing + "\n",
			"tokenaudit: hint: the first issue, revoke, import or reconcile creates it"})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a reading command created the ledger")
	}

	// Not a ledger: exit 5, untouched, by reading and writing commands.
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte("not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"tokens"}, {"issue", "--cdata", "x"}} {
		at.run(t, "", append(args, "--db", junk)...).want(t, exitIntegrity, nil,
			[]string{"tokenaudit: open ledger " + junk + ": not a tokenaudit ledger: not a SQLite database\n",
				"tokenaudit: hint: nothing was written to it"})
	}
	if b, _ := os.ReadFile(junk); string(b) != "not a database\n" {
		t.Errorf("the file was changed: %q", b)
	}

	// A newer schema: refused by every command, and left as it was.
	newer := filepath.Join(t.TempDir(), "newer.db")
	copyLedger(t, at.db, newer)
	db := writeSQL(t, newer)
	if _, err := db.Exec("PRAGMA user_version = 9"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := sumFile(t, newer)
	for _, args := range [][]string{{"issue", "--cdata", "x"}, {"report"}, {"import", "-"}} {
		at.run(t, "", append(args, "--db", newer)...).want(t, 1, nil, []string{
			"the ledger's schema is newer than this tokenaudit: schema version 9, this tokenaudit knows up to 3\n",
			"tokenaudit: hint: nothing was written to it: upgrade tokenaudit to use it\n"})
	}
	if sumFile(t, newer) != before {
		t.Error("a ledger of a newer schema was written to")
	}
	if at.live() != 1 {
		t.Errorf("issue asked the API for a token it could not record: %d live", at.live())
	}

	// Damaged pages: exit 5, with what to do.
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	copyLedger(t, at.db, damaged)
	b, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	for off := 4096; off+64 < len(b); off += 4096 {
		copy(b[off+8:], strings.Repeat("\xde\xad", 16))
	}
	if err := os.WriteFile(damaged, b, 0o600); err != nil {
		t.Fatal(err)
	}
	at.run(t, "", "ledger", "verify", "--db", damaged).want(t, exitIntegrity, nil,
		[]string{"database disk image is malformed", "tokenaudit: hint: the ledger file is damaged"})
	at.checkNoLeak(t)
}

// copyLedger copies a ledger, checkpointed, to dst.
func copyLedger(t *testing.T, src, dst string) {
	t.Helper()
	db := writeSQL(t, src)
	if _, err := db.Exec("VACUUM INTO ?", dst); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func TestLedgerLocked(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	requests := len(at.srv.Requests())
	db := writeSQL(t, at.db)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	before := eventKinds(t, at.db)

	r := at.run(t, "", "issue", "--cdata", "x", "--lock-timeout", "200ms")
	r.want(t, 1, nil, []string{"the ledger is locked by another writer",
		"tokenaudit: hint: another process is writing to the ledger: try again, or wait longer with --lock-timeout\n"})
	if r.stdout != "" || len(at.srv.Requests()) != requests {
		t.Errorf("issue on a locked ledger printed %q and made %d requests", r.stdout, len(at.srv.Requests())-requests)
	}
	// Readers are not blocked by a writer.
	at.run(t, "", "tokens", "--format", "csv").want(t, 0, []string{fingerprintOf(at.tokens[0])}, nil)
	at.run(t, "", "ledger", "verify").want(t, 0, []string{"intact"}, nil)
	at.run(t, "", "issue", "--cdata", "x", "--lock-timeout", "0s").want(t, 1, nil, []string{"--lock-timeout 0s is shorter than 1ms"})

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	wantEqual(t, "events", eventKinds(t, at.db), before)
}

func TestLedgerVerifyDamagedIndex(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	tok := at.issue(t, "globex")
	at.run(t, "", "revoke", tok).want(t, 0, nil, nil)

	// One letter of a cdata, changed in the index events_cdata only (its
	// root page, found through sqlite_schema).
	edited := filepath.Join(t.TempDir(), "edited.db")
	copyLedger(t, at.db, edited)
	db := openSQLMode(t, edited, "ro")
	var root, size int
	if err := db.QueryRow("SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_schema WHERE name = 'events_cdata'").Scan(&root, &size); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := os.ReadFile(edited)
	if err != nil {
		t.Fatal(err)
	}
	page := b[(root-1)*size : root*size]
	at0 := bytes.LastIndex(page, []byte("globex"))
	if at0 < 0 {
		t.Fatal("the cdata is not in the index's root page")
	}
	page[at0] ^= 0x20
	if err := os.WriteFile(edited, b, 0o600); err != nil {
		t.Fatal(err)
	}

	r := at.run(t, "", "ledger", "verify", "--db", edited)
	r.want(t, exitIntegrity, []string{"status           FAILED\n", "index events_cdata does not match table events"},
		[]string{"tokenaudit: the ledger fails verification: ledger integrity: index events_cdata"})
	r = at.run(t, "", "ledger", "verify", "--db", edited, "--format", "json")
	res := decodeJSON[map[string]any](t, r.stdout)
	if r.code != exitIntegrity || res["ok"] != false || !strings.Contains(fmt.Sprint(res["problems"]), "events_cdata") {
		t.Errorf("ledger verify --format json = %d, %v", r.code, res)
	}
	// The untouched ledger verifies, indexes included.
	at.run(t, "", "ledger", "verify").want(t, 0, []string{"status           intact\n"}, nil)
}

func TestIssueRefusesAlteredSchema(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	db := writeSQL(t, at.db)
	if _, err := db.Exec("CREATE TRIGGER sneaky BEFORE INSERT ON events BEGIN SELECT RAISE(IGNORE); END"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := eventKinds(t, at.db)

	r := at.run(t, "", "issue", "--cdata", "globex")
	r.want(t, exitIntegrity, nil, []string{"refusing to write to it: ledger integrity: the schema is not the one tokenaudit creates: unexpected trigger sneaky\n",
		"tokenaudit: hint: the ledger file is damaged: do not append to it"})
	if r.stdout != "" || at.live() != 1 {
		t.Errorf("issue printed %q and left %d live tokens, want nothing and 1", r.stdout, at.live())
	}
	wantEqual(t, "events", eventKinds(t, at.db), before)
	at.run(t, "", "ledger", "verify").want(t, exitIntegrity, []string{"unexpected trigger sneaky"}, nil)
	at.checkNoLeak(t)
}

func TestEmptiedLedger(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	if err := os.Truncate(at.db, 0); err != nil {
		t.Fatal(err)
	}
	empty := []string{"tokenaudit: open ledger " + at.db + ": not a tokenaudit ledger: the ledger file is empty: it was truncated, or is not a ledger\n"}

	// verify says what it is, exit 5; a command that writes refuses it,
	// asks nothing of the API and leaves the file empty.
	at.run(t, "", "ledger", "verify").want(t, exitIntegrity, nil, append(empty,
		`tokenaudit: hint: to start a new ledger there, run "tokenaudit ledger init" with its path`))
	r := at.run(t, "", "issue", "--cdata", "globex")
	r.want(t, exitIntegrity, nil, empty)
	if r.stdout != "" || at.live() != 1 {
		t.Errorf("issue printed %q and left %d live tokens", r.stdout, at.live())
	}
	if fi, err := os.Stat(at.db); err != nil || fi.Size() != 0 {
		t.Fatalf("the emptied ledger was written to: %v, %v", fi, err)
	}

	// ledger init starts it over, 0600 although the file was 0644.
	if err := os.Chmod(at.db, 0o644); err != nil {
		t.Fatal(err)
	}
	at.run(t, "", "ledger", "init", at.db).want(t, 0, nil, []string{"tokenaudit: created the ledger " + at.db})
	if fi, err := os.Stat(at.db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the new ledger's mode = %v, %v; want 0600", fi.Mode(), err)
	}
	at.run(t, "", "ledger", "init", at.db).want(t, 1, nil, []string{"a ledger already exists there"})
	at.issue(t, "globex")
	at.run(t, "", "ledger", "verify").want(t, 0, []string{"events verified  2\n"}, nil)

	// A ledger deleted without its -wal: refused by writers and readers.
	gone := filepath.Join(t.TempDir(), "gone.db")
	if err := os.WriteFile(gone+"-wal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"issue", "--cdata", "x"}, {"ledger", "verify"}} {
		at.run(t, "", append(args, "--db", gone)...).want(t, exitIntegrity, nil, []string{"gone.db is missing but its write-ahead log gone.db-wal is there"})
	}
	if _, err := os.Stat(gone); err == nil {
		t.Error("a ledger was created beside a leftover -wal")
	}
	at.run(t, "", "ledger", "init", "--db", gone).want(t, 0, nil, []string{"created the ledger"})
	at.checkNoLeak(t)
}
