package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenaudit/tokenaudit/audit"
)

// readmeBlock returns the first fenced block of the given language in the
// README that contains marker.
func readmeBlock(t *testing.T, lang, marker string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range strings.Split(string(b), "```"+lang+"\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		if strings.Contains(block, marker) {
			return block
		}
	}
	t.Fatalf("the README has no %s block holding %q", lang, marker)
	return ""
}

// TestReadmePythonCheck runs the README's Python check of the leaf hashes
// and of the tokens view's states on a ledger with every state change: an
// issue, a revoke, an import, a revoked_elsewhere and a seen_live. It fails
// when the check, or the view, is wrong.
func TestReadmePythonCheck(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the README's Python check is not run")
	}
	at := newAPITest(t)
	a := at.issue(t, "a")
	b := at.issue(t, "b")
	c := at.issue(t, "c")
	at.direct(t, "d")
	at.run(t, a+"\n", "revoke", "-").want(t, 0, nil, nil)
	if err := at.srv.RevokeDirect(b); err != nil {
		t.Fatal(err)
	}
	at.run(t, "", "reconcile", "--apply").want(t, 0, nil, nil)
	// c: recorded revoked (a revoke the server lost), yet live: seen_live.
	l, err := audit.Open(at.db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), audit.Event{Kind: audit.KindRevoke, Fingerprint: fingerprintOf(c), CData: "c"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	at.run(t, "", "reconcile", "--apply").want(t, 0, nil, nil)
	wantEqual(t, "kinds", queryRows(t, openSQL(t, at.db), "SELECT kind FROM events WHERE kind IN ('seen_live', 'revoked_elsewhere', 'import') ORDER BY seq"),
		[]string{"import", "revoked_elsewhere", "seen_live"})
	script := readmeBlock(t, "python", "hashlib")
	script = strings.Replace(script, `"file:ledger.db?mode=ro"`, `"file:`+at.db+`?mode=ro"`, 1)
	out, err := exec.Command(python, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("the README's Python check failed: %v\n%s", err, out)
	}
	// A view that disagreed with the events would fail the check: prove
	// the check can fail, on a copy whose view is redefined.
	bad := filepath.Join(t.TempDir(), "bad.db")
	copyLedger(t, at.db, bad)
	if _, err := openSQLMode(t, bad, "rw").Exec("DROP VIEW tokens; CREATE VIEW tokens AS SELECT fingerprint, 'active' AS state FROM events WHERE kind IN ('issue', 'import')"); err != nil {
		t.Fatal(err)
	}
	script = strings.Replace(script, at.db, bad, 1)
	if out, err := exec.Command(python, "-c", script).CombinedOutput(); err == nil {
		t.Errorf("the Python check passed a tokens view that ignores revocations:\n%s", out)
	}
}

// TestReadmeQueries runs every query of the README's "Queries you can
// paste" on a ledger, and checks that the one that finds a token's events
// by the 12 hex digits tables show finds them, through the index
// events_fp rather than by reading the whole table.
func TestReadmeQueries(t *testing.T) {
	at := newAPITest(t)
	fp := fingerprintOf(at.issue(t, "customer-42"))
	at.issue(t, "customer-43")
	db := openSQL(t, at.db)
	block := readmeBlock(t, "sql", "Everything about one token")
	queries := strings.Split(strings.TrimSpace(block), ";\n")
	if len(queries) < 5 {
		t.Fatalf("the README's SQL block holds %d queries:\n%s", len(queries), block)
	}
	for _, q := range queries[:len(queries)-1] {
		queryRows(t, db, q)
	}
	last := queries[len(queries)-1]
	if !strings.Contains(last, "0x01234567") || !strings.Contains(last, "sha256:0123456789ab*") {
		t.Fatalf("the README's last query is not the one by fingerprint prefix:\n%s", last)
	}
	last = strings.NewReplacer("0x01234567", "0x"+fp[7:15], "sha256:0123456789ab*", fp[:19]+"*").Replace(last)
	wantEqual(t, "events of the token", queryRows(t, db, strings.Replace(last, "seq, ts, kind, actor, error", "kind", 1)), []string{"issue"})
	plan := strings.Join(queryRows(t, db, "EXPLAIN QUERY PLAN "+last), "\n")
	if !strings.Contains(plan, "USING INDEX events_fp (fingerprint_key>? AND fingerprint_key<?)") {
		t.Errorf("the README's query by fingerprint prefix does not use events_fp:\n%s", plan)
	}
}
