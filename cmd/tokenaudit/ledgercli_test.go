package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3" // plain SQL on the ledger, as a user would

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// apiTest is a fake Woleet API, a ledger path and the environment that
// points the binary at both. It remembers every token it saw and every
// stderr the binary wrote, to check at the end that no token leaked.
type apiTest struct {
	srv    *woleettest.Server
	db     string
	env    []string
	tokens []string
	stderr []string
}

// newAPITest starts a fake API with opts (closed when the test ends) and
// names a fresh ledger file.
func newAPITest(t *testing.T, opts ...woleettest.Option) *apiTest {
	t.Helper()
	srv := woleettest.NewServer(opts...)
	t.Cleanup(srv.Close)
	db := filepath.Join(t.TempDir(), "ledger.db")
	return &apiTest{srv: srv, db: db, env: []string{
		"WOLEET_API_URL=" + srv.URL,
		"WOLEET_USERNAME=" + woleettest.DefaultEmail,
		"WOLEET_PASSWORD=" + woleettest.DefaultPassword,
		"TOKENAUDIT_DB=" + db,
	}}
}

// run runs the binary against the fake API and the ledger.
func (at *apiTest) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := cli(t, stdin, at.env, args...)
	at.stderr = append(at.stderr, r.stderr)
	return r
}

// issue issues a token through the binary and returns it.
func (at *apiTest) issue(t *testing.T, cdata string) string {
	t.Helper()
	r := at.run(t, "", "issue", "--cdata", cdata)
	r.want(t, 0, nil, []string{"tokenaudit: issued sha256:"})
	tok := strings.TrimSuffix(r.stdout, "\n")
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("issue printed %q, want the token alone", r.stdout)
	}
	at.tokens = append(at.tokens, tok)
	return tok
}

// direct issues a token on the fake API behind the ledger's back.
func (at *apiTest) direct(t *testing.T, cdata string) string {
	t.Helper()
	tok, err := at.srv.IssueDirect(woleettest.DefaultEmail, cdata)
	if err != nil {
		t.Fatal(err)
	}
	at.tokens = append(at.tokens, tok)
	return tok
}

// live returns the number of tokens the fake API lists as live.
func (at *apiTest) live() int { return len(at.srv.LiveTokens(woleettest.DefaultEmail)) }

// checkNoLeak fails if a raw token (or the API password) appears in any
// stderr the binary wrote, or anywhere in the ledger's files.
func (at *apiTest) checkNoLeak(t *testing.T) {
	t.Helper()
	var files [][]byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(at.db + suffix); err == nil {
			files = append(files, b)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no ledger at %s", at.db)
	}
	for _, tok := range at.tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		for i, s := range at.stderr {
			if strings.Contains(s, tok) || strings.Contains(s, sig) {
				t.Errorf("stderr of run %d holds a raw token:\n%s", i, s)
			}
		}
		for _, b := range files {
			if bytes.Contains(b, []byte(tok)) || bytes.Contains(b, []byte(sig)) {
				t.Errorf("the ledger's files hold a raw token (or its signature)")
			}
		}
	}
	for i, s := range at.stderr {
		if strings.Contains(s, woleettest.DefaultPassword) {
			t.Errorf("stderr of run %d holds the password:\n%s", i, s)
		}
	}
}

// openSQL opens a ledger read-only with plain database/sql, as a user
// with sqlite3 would.
func openSQL(t *testing.T, path string) *sql.DB { return openSQLMode(t, path, "ro") }

// openSQLMode opens a ledger with plain database/sql in a SQLite mode
// (ro, rw).
func openSQLMode(t *testing.T, path, mode string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode="+mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryRows runs a query and returns its rows as "|"-joined text.
func queryRows(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		cells := make([]string, len(cols))
		for i, v := range vals {
			cells[i] = v.String
			if !v.Valid {
				cells[i] = "NULL"
			}
		}
		out = append(out, strings.Join(cells, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventKinds returns the kinds of the ledger's events, in seq order.
func eventKinds(t *testing.T, path string) []string {
	t.Helper()
	return queryRows(t, openSQL(t, path), "SELECT kind FROM events ORDER BY seq")
}

// decodeJSON decodes a JSON document, failing the test if it is not one.
func decodeJSON[T any](t *testing.T, text string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, text)
	}
	return v
}

// short is a fingerprint's first 12 hex digits, as tables show it.
func short(token string) string { return strings.TrimPrefix(fingerprintOf(token), "sha256:")[:12] }

// wantEqual fails unless got equals want.
func wantEqual[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}
