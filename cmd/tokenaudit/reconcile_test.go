package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/audit"
)

func TestReconcile(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	globex := at.issue(t, "globex")
	shadow := at.direct(t, "shadow")
	if err := at.srv.RevokeDirect(globex); err != nil {
		t.Fatal(err)
	}
	before := eventKinds(t, at.db)

	r := at.run(t, "", "reconcile")
	r.want(t, 0, []string{"The API lists 2 live tokens; the ledger holds 2 active for it. 2 differences:\n",
		"│ not in ledger     │ " + short(shadow) + " │ shadow │",
		"│ revoked elsewhere │ " + short(globex) + " │ globex │"},
		[]string{`tokenaudit: hint: run "tokenaudit reconcile --apply" to record the differences` + "\n"})
	wantEqual(t, "events after reconcile without --apply", eventKinds(t, at.db), before)

	r = at.run(t, "", "reconcile", "--apply", "--format", "json")
	r.want(t, 0, nil, nil)
	if r.stderr != "" {
		t.Errorf("reconcile --format json wrote to stderr: %q", r.stderr)
	}
	res := decodeJSON[struct {
		InSync       bool `json:"in_sync"`
		Applied      bool
		Listed       int
		LedgerActive int `json:"ledger_active"`
		Unknown      []struct{ Fingerprint, CData string }
		Missing      []struct{ Fingerprint, CData string }
		Recorded     []struct {
			Seq         int
			Kind        string
			Fingerprint string
		}
	}](t, r.stdout)
	if res.InSync || !res.Applied || res.Listed != 2 || res.LedgerActive != 2 ||
		len(res.Unknown) != 1 || res.Unknown[0].Fingerprint != fingerprintOf(shadow) || res.Unknown[0].CData != "shadow" ||
		len(res.Missing) != 1 || res.Missing[0].Fingerprint != fingerprintOf(globex) ||
		len(res.Recorded) != 2 || res.Recorded[0].Kind != "import" || res.Recorded[0].Seq != 4 ||
		res.Recorded[1].Kind != "revoked_elsewhere" || res.Recorded[1].Fingerprint != fingerprintOf(globex) {
		t.Errorf("reconcile --apply --format json = %+v", res)
	}
	wantEqual(t, "tokens view", queryRows(t, openSQL(t, at.db), "SELECT cdata, state FROM tokens ORDER BY issued_seq"),
		[]string{"acme|active", "globex|revoked", "shadow|active"})

	r = at.run(t, "", "reconcile")
	if r.code != 0 || r.stdout != "The API lists 2 live tokens; the ledger holds 2 active for it. In sync.\n" || r.stderr != "" {
		t.Errorf("reconcile in sync: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// The ledger says revoked, the API still lists it: it works.
	l, err := audit.Open(at.db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), audit.Event{Kind: audit.KindRevoke, Fingerprint: fingerprintOf(shadow), CData: "shadow"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	r = at.run(t, "", "reconcile", "--format", "csv")
	r.want(t, 0, []string{"finding,fingerprint,cdata,subject,recorded\n", "revoked but live," + fingerprintOf(shadow) + ",shadow,"},
		[]string{"tokenaudit: warning: sha256:" + short(shadow) + ` (cdata "shadow") is recorded as revoked but the API lists it as live: ` +
			`revoke it again with "tokenaudit revoke --fingerprint ` + short(shadow) + ` --yes"`})

	// Without --apply, a missing ledger is not created.
	missing := filepath.Join(t.TempDir(), "none.db")
	at.run(t, "", "reconcile", "--db", missing).want(t, 1, nil, []string{"no ledger at " + missing})
	at.checkNoLeak(t)
}

func TestImport(t *testing.T) {
	at := newAPITest(t)
	t1, t2, t3 := at.direct(t, "legacy-1"), at.direct(t, "legacy-2"), at.direct(t, "legacy-3")
	file := filepath.Join(t.TempDir(), "issued.txt")
	content := "# exported from the old system\n" + t1 + "\n\nBearer " + t2 + "\n" + t1 + "\nnot-a.token\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	r := at.run(t, "", "import", "@"+file)
	r.want(t, exitMalformed, nil, nil)
	if r.stdout != "Read 4 tokens: imported 2, 0 already in the ledger, 1 repeated, 1 rejected.\n" {
		t.Errorf("import stdout = %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "tokenaudit: "+file+" line 6: input: wrong number of parts") ||
		!strings.HasSuffix(r.stderr, "tokenaudit: 1 of 4 lines were not tokens\n") {
		t.Errorf("import stderr = %q", r.stderr)
	}
	wantEqual(t, "imported", queryRows(t, openSQL(t, at.db),
		"SELECT kind, fingerprint, cdata, json_extract(detail, '$.source'), json_extract(detail, '$.claims.cdata') FROM events ORDER BY seq"),
		[]string{"import|" + fingerprintOf(t1) + "|legacy-1|" + file + "|legacy-1", "import|" + fingerprintOf(t2) + "|legacy-2|" + file + "|legacy-2"})

	// Again: everything is known; JSON says so.
	r = at.run(t, "", "import", "@"+file, "--format", "json")
	got := decodeJSON[map[string]any](t, r.stdout)
	if r.code != exitMalformed || got["read"] != 4.0 || got["imported"] != 0.0 || got["known"] != 2.0 || got["repeated"] != 1.0 ||
		got["rejected"] != 1.0 || got["dry_run"] != false {
		t.Errorf("import again: exit %d, %v", r.code, got)
	}

	// A dry run lists each token and records nothing.
	r = at.run(t, t3+"\n"+t1+"\n", "import", "--dry-run", "--format", "jsonl", "--source", "vault")
	r.want(t, 0, nil, nil)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("import --dry-run --format jsonl:\n%s", r.stdout)
	}
	first, second := decodeJSON[map[string]any](t, lines[0]), decodeJSON[map[string]any](t, lines[1])
	if first["input"] != "stdin line 1" || first["status"] != "imported" || first["fingerprint"] != fingerprintOf(t3) ||
		second["input"] != "stdin line 2" || second["status"] != "known" || second["cdata"] != "legacy-1" {
		t.Errorf("dry run records: %v, %v", first, second)
	}
	if n := len(eventKinds(t, at.db)); n != 2 {
		t.Errorf("a dry run recorded events: %d", n)
	}
	r = at.run(t, t3+"\n", "import", "--source", "vault")
	r.want(t, 0, []string{"Read 1 token: imported 1, 0 already in the ledger, 0 repeated, 0 rejected.\n"}, nil)
	wantEqual(t, "source", queryRows(t, openSQL(t, at.db), "SELECT json_extract(detail, '$.source') FROM events WHERE seq = 2"), []string{"vault"})
	if len(at.srv.Requests()) != 0 {
		t.Errorf("import made %d API requests", len(at.srv.Requests()))
	}
	at.checkNoLeak(t)
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	for run := 1; run <= 2; run++ {
		start := time.Now()
		r := cli(t, "", nil, "demo", "--db", db)
		elapsed := time.Since(start)
		r.want(t, 0, []string{
			"tokenaudit demo: a fake Woleet API at http://127.0.0.1:",
			"the ledger " + db,
			"1. Issue 4 tokens for 3 customers: each is recorded before anyone sees it.\n",
			"2. Revoke globex's token.",
			"3. Someone with the API password issues a token without tokenaudit.",
			"│ not in ledger ",
			"and recorded it as an import",
			"5. Verify the ledger",
			"   intact: ",
			"Tokens by state",
			"Live tokens per cdata",
			fmt.Sprintf("│ acme-corp │ %d    │", 2*run), // an earlier run's tokens stay live: left out, not guessed
			"Query the ledger it wrote:\n  sqlite3 'file:" + db + `?mode=ro' "SELECT fingerprint, cdata, state, issued_at FROM tokens"`,
		}, nil)
		if r.stderr != "" {
			t.Errorf("run %d wrote to stderr: %q", run, r.stderr)
		}
		if run == 2 && (!strings.Contains(r.stdout, "(10 events from earlier runs)") ||
			!strings.Contains(r.stdout, "and left out 4 live tokens from an earlier demo run: recorded for its fake API, another URL")) {
			t.Errorf("second run:\n%s", r.stdout)
		}
		if strings.Contains(r.stdout, "eyJ") {
			t.Errorf("the demo printed a token:\n%s", r.stdout)
		}
		if elapsed > 5*time.Second {
			t.Errorf("run %d took %v", run, elapsed)
		}
	}
	cli(t, "", nil, "ledger", "verify", "--db", db).want(t, 0, []string{"status           intact\n", "events verified  20\n"}, nil)
	wantEqual(t, "tokens", queryRows(t, openSQL(t, db), "SELECT count(*), sum(state = 'active') FROM tokens"), []string{"10|8"})
	for _, suffix := range []string{"", "-wal"} {
		if b, err := os.ReadFile(db + suffix); err == nil && bytes.Contains(b, []byte("eyJ")) {
			t.Errorf("the demo ledger%s holds a token", suffix)
		}
	}

	// By default it writes ./tokenaudit-demo.db, never TOKENAUDIT_DB.
	cmd := exec.Command(binary, "demo")
	cmd.Dir = dir
	real := filepath.Join(t.TempDir(), "real.db")
	cmd.Env = []string{"HOME=" + dir, "TOKENAUDIT_DB=" + real}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "the ledger "+filepath.Join(dir, "tokenaudit-demo.db")) {
		t.Errorf("demo in %s: %v\n%s", dir, err, out)
	}
	if _, err := os.Stat(real); err == nil {
		t.Error("the demo wrote to TOKENAUDIT_DB")
	}

	// A ledger with events of anything but a loopback API is refused.
	at := newAPITest(t)
	at.issue(t, "acme")
	if err := os.WriteFile(filepath.Join(dir, "t.txt"), []byte(at.tokens[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	imported := filepath.Join(t.TempDir(), "imported.db")
	cli(t, "", nil, "import", "--db", imported, "@"+filepath.Join(dir, "t.txt")).want(t, 0, nil, nil)
	before := sumFile(t, imported)
	cli(t, "", nil, "demo", "--db", imported).want(t, 1, nil, []string{
		"tokenaudit: demo: " + imported + " is not a demo ledger: it holds an event recorded without the API (seq 0)\n",
		"tokenaudit: hint: the demo writes to a new ledger or an earlier demo's: give another --db\n"})
	if sumFile(t, imported) != before {
		t.Error("the demo wrote to a ledger it refused")
	}
}

func TestLedgerCommandsHelp(t *testing.T) {
	r := cli(t, "", nil, "--help")
	for _, name := range []string{"issue", "revoke", "events", "tokens", "report", "reconcile", "import", "ledger", "demo"} {
		if !strings.Contains(r.stdout, "\n  "+name+" ") {
			t.Errorf("tokenaudit --help does not list %s", name)
		}
		h := cli(t, "", nil, name, "--help")
		h.want(t, 0, []string{"Usage:\n  tokenaudit " + name}, nil)
		if h.stderr != "" {
			t.Errorf("%s --help wrote to stderr: %q", name, h.stderr)
		}
	}
	for _, args := range [][]string{{"ledger"}, {"ledger", "--help"}} {
		r := cli(t, "", nil, args...)
		r.want(t, 0, []string{"tokenaudit ledger [command]", "\n  info ", "\n  verify "}, nil)
	}
	cli(t, "", nil, "ledger", "verify", "--help").want(t, 0, []string{"--db string", "--lock-timeout duration"}, nil)
	cli(t, "", nil, "issue", "--help").want(t, 0, []string{"--password-file string", "--timeout duration", "T=$(tokenaudit issue --cdata acme)"}, nil)
	cli(t, "", nil, "ledger", "nope").want(t, 1, nil, []string{`tokenaudit: unknown command "nope" for "tokenaudit ledger"`,
		`tokenaudit: hint: run "tokenaudit ledger --help" for usage`})
}
