package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenaudit/tokenaudit/internal/pgtest"
)

// withUser returns the PostgreSQL URL u as another user, with a password
// when password is not empty.
func withUser(t *testing.T, u, user, password string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.User = url.User(user)
	if password != "" {
		p.User = url.UserPassword(user, password)
	}
	return p.String()
}

// setEnv replaces (or adds) NAME=value in env.
func setEnv(env []string, name, value string) []string {
	out := []string{name + "=" + value}
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestPostgresCLI: every command works on a ledger on PostgreSQL, created
// with ledger init and used through a writer role whose URL (password
// included, in TOKENAUDIT_DB) is never printed with its password.
func TestPostgresCLI(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := context.Background()
	owner := srv.SchemaURL(t)
	b := make([]byte, 4)
	rand.Read(b)
	writer := "cliw_" + hex.EncodeToString(b)
	if err := srv.Exec(ctx, "CREATE ROLE "+writer+" LOGIN"); err != nil {
		t.Skipf("cannot create a role on this server: %v", err)
	}
	t.Cleanup(func() { srv.Exec(ctx, "DROP OWNED BY "+writer+"; DROP ROLE "+writer) })

	r := cli(t, "", nil, "ledger", "init", owner, "--writer", writer)
	r.want(t, 0, []string{"status           created\n", "writer           " + writer + " (INSERT, SELECT)"}, nil)
	cli(t, "", nil, "ledger", "init", owner).want(t, 0, []string{"already a ledger"}, nil)

	const password = "s3cret-pw-not-printed"
	at := newAPITest(t)
	keyFile, vkey := keygen(t, "ops.example.com/tokenaudit")
	at.env = setEnv(at.env, "TOKENAUDIT_DB", withUser(t, owner, writer, password))
	at.env = append(at.env, "TOKENAUDIT_CHECKPOINT_KEY="+keyFile, "TOKENAUDIT_CHECKPOINT_EVERY=3")
	tok := at.issue(t, "acme")
	at.issue(t, "globex")
	at.issue(t, "initech")
	at.run(t, "", "revoke", tok).want(t, 0, nil, nil)
	at.direct(t, "behind-its-back")
	at.run(t, "", "reconcile", "--apply").want(t, 0, nil, nil)
	imported := at.direct(t, "imported")
	at.run(t, imported+"\n", "import", "-").want(t, 0, nil, nil)

	tokens := decodeJSON[[]map[string]any](t, at.run(t, "", "tokens", "--format", "json").stdout)
	states := map[string]int{}
	for _, tk := range tokens {
		states[tk["state"].(string)]++
	}
	if states["active"] != 4 || states["revoked"] != 1 {
		t.Errorf("tokens: %v", states)
	}
	events := at.run(t, "", "events", "--format", "jsonl").stdout
	if n := strings.Count(events, "\n"); n < 9 {
		t.Errorf("events: %d lines\n%s", n, events)
	}
	rep := decodeJSON[map[string]any](t, at.run(t, "", "report", "--format", "json").stdout)
	if live := rep["tokens"].(map[string]any)["active"].(float64); live != 4 {
		t.Errorf("report: %v live tokens, want 4", live)
	}
	r = at.run(t, "", "ledger", "verify", "--verifier", vkey)
	r.want(t, 0, []string{"status           intact\n"}, nil)
	info := at.run(t, "", "ledger", "info", "--format", "json")
	rec := decodeJSON[map[string]any](t, info.stdout)
	if p := rec["path"].(string); !strings.HasPrefix(p, "postgres://"+writer+"@") || rec["schema_version"].(float64) != 3 {
		t.Errorf("ledger info: %s", info.stdout)
	}
	cp := at.run(t, "", "ledger", "checkpoint", "--key", keyFile)
	cp.want(t, 0, []string{"\n\n— ops.example.com/tokenaudit "}, nil)
	cpFile := writeFile(t, "checkpoint.txt", cp.stdout)
	at.run(t, "", "ledger", "verify", "--checkpoint", cpFile, "--verifier", vkey).want(t, 0, []string{"intact"}, nil)
	at.run(t, "", "ledger", "prove", "--checkpoint", cpFile, "2").want(t, 0, nil, nil)
	stored := queryPG(t, srv, owner, "SELECT count(*) FROM checkpoints")
	if stored < 3 {
		t.Errorf("%d checkpoints stored, want the automatic ones and one more", stored)
	}

	// A password on the command line is refused, and never echoed.
	r = cli(t, "", nil, "tokens", "--db", withUser(t, owner, writer, password))
	r.want(t, 1, nil, []string{"holds a password", "PGPASSWORD"})
	at.stderr = append(at.stderr, r.stderr, info.stdout, events)
	for i, s := range at.stderr {
		if strings.Contains(s, password) {
			t.Errorf("output %d holds the ledger's password:\n%s", i, s)
		}
	}

	// A superuser who disables the triggers and edits a row is caught.
	mustPG(t, srv, owner, "ALTER TABLE events DISABLE TRIGGER USER; UPDATE events SET cdata = 'mallory' WHERE seq = 4; ALTER TABLE events ENABLE TRIGGER USER")
	r = at.run(t, "", "ledger", "verify")
	r.want(t, 5, []string{"first bad seq    4\n"}, []string{"the ledger fails verification"})
}

// TestPostgresUnreachable: with the server unreachable, issue ends before
// the API is called, and says so; exit status 1 (not the API's 6).
func TestPostgresUnreachable(t *testing.T) {
	dir := t.TempDir()
	at := newAPITest(t)
	at.env = setEnv(at.env, "TOKENAUDIT_DB", "postgres://nobody@/ledger?host="+url.QueryEscape(dir)+"&connect_timeout=2")
	r := at.run(t, "", "issue", "--cdata", "acme")
	r.want(t, 1, nil, []string{"cannot be reached"})
	if at.live() != 0 {
		t.Errorf("the API issued %d tokens while the ledger was unreachable", at.live())
	}
	at.run(t, "", "tokens").want(t, 1, nil, []string{"cannot be reached"})
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

// queryPG runs a query returning one number on the ledger at loc, as the
// server's superuser.
func queryPG(t *testing.T, srv *pgtest.Server, loc, q string) int64 {
	t.Helper()
	var n int64
	if err := srv.QueryRow(context.Background(), schemaOf(t, loc), q, &n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// mustPG runs SQL on the ledger at loc as the server's superuser.
func mustPG(t *testing.T, srv *pgtest.Server, loc, q string) {
	t.Helper()
	if err := srv.Exec(context.Background(), "SET search_path = "+schemaOf(t, loc)+"; "+q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// schemaOf returns the schema parameter of a ledger URL.
func schemaOf(t *testing.T, loc string) string {
	t.Helper()
	p, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query().Get("schema")
}

// TestLedgerCopyCLI: ledger copy SQLite → PostgreSQL → SQLite keeps the
// root hash, and a checkpoint signed on the first verifies each copy.
func TestLedgerCopyCLI(t *testing.T) {
	pg := pgtest.URL(t)
	ct := newCheckpointTest(t, 3)
	cp := ct.checkpoint(t)
	root := decodeJSON[map[string]any](t, ct.run(t, "", "ledger", "info", "--format", "json").stdout)["root_hash"].(string)
	back := filepath.Join(t.TempDir(), "back.db")
	for _, step := range [][2]string{{ct.db, pg}, {pg, back}} {
		r := cli(t, "", nil, "ledger", "copy", step[0], step[1], "--format", "json")
		r.want(t, 0, []string{`"root_hash": "` + root + `"`, `"checkpoints": 1`}, nil)
		r = cli(t, "", nil, "ledger", "verify", "--db", step[1], "--checkpoint", cp, "--verifier", ct.vkey)
		r.want(t, 0, []string{"status           intact\n", "root hash        " + root}, nil)
	}
	r := cli(t, "", nil, "ledger", "copy", ct.db, back)
	r.want(t, 1, nil, []string{"not empty", "hint: copy into a new file"})
}
