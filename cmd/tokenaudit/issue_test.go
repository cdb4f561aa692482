package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// TestIssueInspectRevokeReportSQLVerify is a day with the tool: issue,
// inspect, revoke, report, plain SQL on the tokens view, ledger verify.
func TestIssueInspectRevokeReportSQLVerify(t *testing.T) {
	at := newAPITest(t)

	acme := at.issue(t, "acme")
	if live := at.srv.LiveTokens(woleettest.DefaultEmail); len(live) != 1 || live[0] != acme {
		t.Fatalf("the API holds %d live tokens, want the one printed", len(live))
	}
	r := at.run(t, "", "issue", "--cdata", "globex", "--format", "json")
	r.want(t, 0, nil, []string{"tokenaudit: issued sha256:"})
	rec := decodeJSON[map[string]any](t, r.stdout)
	globex, _ := rec["token"].(string)
	at.tokens = append(at.tokens, globex)
	if len(rec) != 4 || rec["fingerprint"] != fingerprintOf(globex) || rec["cdata"] != "globex" || rec["seq"] != 3.0 {
		t.Errorf("issue --format json = %v, want {token, fingerprint, cdata: globex, seq: 3}", rec)
	}
	wantStderr := `tokenaudit: issued sha256:` + short(globex) + ` for cdata "globex" (ledger seq 3)` + "\n"
	if r.stderr != wantStderr {
		t.Errorf("issue stderr = %q, want %q", r.stderr, wantStderr)
	}

	// The token is a JWT anyone can read offline.
	at.run(t, "", "inspect", "--format", "json", acme).want(t, 0,
		[]string{`"cdata": "acme"`, `"fingerprint": "` + fingerprintOf(acme) + `"`}, nil)

	r = at.run(t, "", "revoke", acme)
	r.want(t, 0, []string{"argument 1", short(acme), "acme", "active", "revoked", "│ 4 "}, nil)
	if !at.srv.Revoked(acme) || at.srv.Revoked(globex) {
		t.Fatalf("after revoke: acme revoked %v, globex revoked %v", at.srv.Revoked(acme), at.srv.Revoked(globex))
	}
	if r.stderr != "" {
		t.Errorf("revoke of a known token wrote to stderr: %q", r.stderr)
	}

	r = at.run(t, "", "report", "--format", "json")
	r.want(t, 0, nil, nil)
	rep := decodeJSON[struct {
		Ledger string
		Tokens struct{ Active, Revoked, Total int }
		Events map[string]int
		Head   struct {
			Size int
			Hash string
		}
		LiveByCData []struct {
			CData string
			Live  int
		} `json:"live_by_cdata"`
		OldestLive []struct{ Fingerprint string } `json:"oldest_live"`
	}](t, r.stdout)
	if rep.Tokens.Active != 1 || rep.Tokens.Revoked != 1 || rep.Tokens.Total != 2 || rep.Head.Size != 5 ||
		rep.Events["issue"] != 2 || rep.Events["revoke"] != 1 || len(rep.LiveByCData) != 1 ||
		rep.LiveByCData[0].CData != "globex" || rep.LiveByCData[0].Live != 1 ||
		len(rep.OldestLive) != 1 || rep.OldestLive[0].Fingerprint != fingerprintOf(globex) || rep.Ledger != at.db {
		t.Errorf("report --format json = %+v", rep)
	}
	r = at.run(t, "", "report")
	r.want(t, 0, []string{"Ledger " + at.db + ": 5 events, root hash " + rep.Head.Hash,
		"Tokens by state", "│ active  │ 1      │", "│ revoked │ 1      │", "│ total   │ 2      │",
		"Live tokens per cdata", "│ globex │ 1    │", "Oldest live tokens", short(globex),
		"Requests with no known outcome\n(none)", "Recent failures\n(none)"}, nil)
	r = at.run(t, "", "report", "--format", "markdown")
	r.want(t, 0, []string{"## Token ledger report", "### Tokens by state", "| state | tokens |", "| active | 1 |"}, nil)

	// The tokens view, with plain SQL.
	db := openSQL(t, at.db)
	wantEqual(t, "tokens view", queryRows(t, db, "SELECT fingerprint, cdata, state, issued_seq, revoked_seq FROM tokens ORDER BY issued_seq"),
		[]string{fingerprintOf(acme) + "|acme|revoked|1|4", fingerprintOf(globex) + "|globex|active|3|NULL"})
	wantEqual(t, "events", eventKinds(t, at.db), []string{"issue_requested", "issue", "issue_requested", "issue", "revoke"})

	r = at.run(t, "", "ledger", "verify")
	r.want(t, 0, []string{"ledger           " + at.db + "\n", "status           intact\n", "events verified  5\n",
		"root hash        " + rep.Head.Hash + "\n"}, nil)
	r = at.run(t, "", "ledger", "info", "--format", "json")
	info := decodeJSON[map[string]any](t, r.stdout)
	if info["path"] != at.db || info["schema_version"] != 3.0 || info["events"] != 5.0 || info["tree_size"] != 5.0 ||
		info["root_hash"] != rep.Head.Hash || len(info["ledger_id"].(string)) != 32 {
		t.Errorf("ledger info --format json = %v", info)
	}
	at.run(t, "", "ledger", "info").want(t, 0, []string{"path             " + at.db + "\n", "schema version   3\n", "events           5\n"}, nil)
	at.checkNoLeak(t)
}

func TestIssueFormatsAndCount(t *testing.T) {
	at := newAPITest(t)
	r := at.run(t, "", "issue", "--cdata", "load-test", "--count", "3")
	r.want(t, 0, nil, nil)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	at.tokens = append(at.tokens, lines...)
	wantEqual(t, "printed tokens", lines, at.srv.LiveTokens(woleettest.DefaultEmail))
	if n := strings.Count(r.stderr, "tokenaudit: issued sha256:"); n != 3 {
		t.Errorf("stderr has %d issued lines, want 3:\n%s", n, r.stderr)
	}

	r = at.run(t, "", "issue", "--cdata", "ci", "--count", "2", "--format", "jsonl")
	r.want(t, 0, nil, nil)
	for i, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		rec := decodeJSON[map[string]any](t, line)
		at.tokens = append(at.tokens, rec["token"].(string))
		if rec["cdata"] != "ci" || rec["seq"] != float64(7+2*i) || rec["fingerprint"] != fingerprintOf(rec["token"].(string)) {
			t.Errorf("jsonl line %d = %v", i, rec)
		}
	}

	r = at.run(t, "", "issue", "--cdata", "csv, \"quoted\"", "--format", "csv")
	r.want(t, 0, nil, nil)
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 2 || strings.Join(rows[0], ",") != "token,fingerprint,cdata,seq" ||
		rows[1][2] != `csv, "quoted"` || rows[1][1] != fingerprintOf(rows[1][0]) || rows[1][3] != "11" {
		t.Errorf("issue --format csv = %q, %v", rows, err)
	}
	at.tokens = append(at.tokens, rows[1][0])
	at.checkNoLeak(t)
}

func TestIssueUsageErrors(t *testing.T) {
	at := newAPITest(t)
	at.run(t, "", "issue").want(t, 1, nil, []string{"tokenaudit: say whom the token is for with --cdata\n",
		`tokenaudit: hint: --cdata "" issues a token without cdata`})
	at.run(t, "", "issue", "--cdata", "x", "--count", "0").want(t, 1, nil, []string{"--count 0: want 1 to 100"})
	at.run(t, "", "issue", "--cdata", strings.Repeat("é", 65)).want(t, 1, nil, []string{"cdata must be valid UTF-8 of at most 64 code points"})
	if at.live() != 0 || len(at.srv.Requests()) != 0 {
		t.Errorf("a refused issue reached the API")
	}
	if _, err := os.Stat(at.db); err == nil {
		// The cdata check runs after the ledger opens, but nothing is recorded.
		if kinds := eventKinds(t, at.db); len(kinds) != 0 {
			t.Errorf("refused issues recorded %v", kinds)
		}
	}
}

// TestAPIErrors: the API refusing, down, or given no or wrong credentials.
func TestAPIErrors(t *testing.T) {
	at := newAPITest(t)

	// No credentials: which variables to set; no ledger is created.
	noCreds := []string{"WOLEET_API_URL=" + at.srv.URL, "TOKENAUDIT_DB=" + at.db}
	r := cli(t, "", noCreds, "issue", "--cdata", "x")
	r.want(t, 1, nil, []string{"tokenaudit: no Woleet API credentials\n",
		"tokenaudit: hint: set WOLEET_API_TOKEN, or WOLEET_USERNAME and WOLEET_PASSWORD (or --password-file)"})
	if _, err := os.Stat(at.db); err == nil {
		t.Error("issue without credentials created the ledger")
	}

	// Wrong password: 401, exit 6, and the password is not repeated.
	wrong := append(append([]string{}, at.env...), "WOLEET_PASSWORD=not-the-password")
	r = cli(t, "", wrong, "issue", "--cdata", "x")
	r.want(t, exitAPI, nil, []string{"tokenaudit: issue: generate token: GET /v1/token: 401 Unauthorized",
		"tokenaudit: hint: the Woleet API is " + at.srv.URL + " (WOLEET_API_URL)\n",
		"tokenaudit: hint: check WOLEET_API_TOKEN, or WOLEET_USERNAME and WOLEET_PASSWORD\n"})
	if r.stdout != "" || strings.Contains(r.stderr, "not-the-password") {
		t.Errorf("stdout %q; stderr %q", r.stdout, r.stderr)
	}

	// The API answers 503: the outcome is unknown, recorded, and said.
	at.srv.FailNext(1, 503, nil)
	r = at.run(t, "", "issue", "--cdata", "x")
	r.want(t, exitAPI, nil, []string{"503 Service Unavailable", "a token may have been issued: run reconcile to find it",
		"tokenaudit: hint: the Woleet API is " + at.srv.URL + " (WOLEET_API_URL)"})
	if r.stdout != "" {
		t.Errorf("a failed issue printed %q", r.stdout)
	}
	db := openSQL(t, at.db)
	wantEqual(t, "events after the 401 and the 503", queryRows(t, db,
		"SELECT kind, coalesce(http_status, ''), request_seq, json_extract(detail, '$.outcome') FROM events WHERE seq >= 2 ORDER BY seq"),
		[]string{"issue_requested||NULL|NULL", "issue_failed|503|2|unknown"})

	// The API is down: exit 6 with the host, quickly with --timeout.
	at.srv.Close()
	for _, args := range [][]string{
		{"issue", "--cdata", "x", "--timeout", "1s"},
		{"reconcile", "--timeout", "1s"},
		{"revoke", "--cdata", "x", "--yes", "--timeout", "1s"},
	} {
		r = at.run(t, "", args...)
		host := strings.TrimPrefix(strings.TrimSuffix(at.srv.URL, "/v1"), "http://")
		r.want(t, exitAPI, nil, []string{host, "connection refused", "tokenaudit: hint: the Woleet API is " + at.srv.URL})
		if r.stdout != "" {
			t.Errorf("%v printed %q", args, r.stdout)
		}
	}
	at.run(t, "", "issue", "--cdata", "x", "--timeout", "-1s").want(t, 1, nil, []string{"--timeout -1s is negative"})
	at.checkNoLeak(t)
}

// waitLedger waits until the ledger's event kinds satisfy done; after 10
// seconds it kills cmd and fails the test, saying that what never came.
func (at *apiTest) waitLedger(t *testing.T, cmd *exec.Cmd, what string, done func(kinds []string) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !done(eventKinds(t, at.db)) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("%s was never recorded", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdWriteLock takes the ledger's write lock, as another writer would,
// until release is called.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := writeSQL(t, path).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return func() {
		conn.ExecContext(ctx, "ROLLBACK")
		conn.Close()
	}
}

// TestIssueFailsClosed: the API issues a token, then the ledger cannot
// record it (another writer holds it). The token is revoked again, nothing
// is printed, and the exit status is 5.
func TestIssueFailsClosed(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "warm-up") // creates the ledger
	at.srv.SetLatency(600 * time.Millisecond)

	cmd := exec.Command(binary, "issue", "--cdata", "acme", "--lock-timeout", "300ms")
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, at.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Once the request is recorded (and the API is slowly answering),
	// take the write lock until the command ends.
	at.waitLedger(t, cmd, "issue_requested", func(kinds []string) bool { return len(kinds) >= 3 })
	release := holdWriteLock(t, at.db)
	err := cmd.Wait()
	release()
	at.stderr = append(at.stderr, errb.String())

	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitIntegrity {
		t.Fatalf("exit: %v\nstderr: %s", err, errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("a token that could not be recorded was printed: %q", out.String())
	}
	if !strings.Contains(errb.String(), "but the ledger could not record it") ||
		!strings.Contains(errb.String(), "the token was revoked again and not handed out") {
		t.Errorf("stderr: %s", errb.String())
	}
	toks := at.srv.Tokens()
	last := toks[len(toks)-1]
	at.tokens = append(at.tokens, last.Token)
	if last.CData != "acme" || !last.Revoked {
		t.Errorf("the API's last token: cdata %q, revoked %v; want acme, revoked", last.CData, last.Revoked)
	}
	wantEqual(t, "events", eventKinds(t, at.db), []string{"issue_requested", "issue", "issue_requested"})
	at.checkNoLeak(t)
}

// TestIssueIgnoresEnvFormat: TOKENAUDIT_FORMAT is for listings; issue
// prints the bare token unless --format is on its own command line.
func TestIssueIgnoresEnvFormat(t *testing.T) {
	at := newAPITest(t)
	at.env = append(at.env, "TOKENAUDIT_FORMAT=json")
	tok := at.issue(t, "acme") // fails unless stdout is the token alone
	r := at.run(t, "", "issue", "--cdata", "acme", "--format", "jsonl")
	r.want(t, 0, []string{`{"token":"`}, nil)
	rec := decodeJSON[map[string]any](t, r.stdout)
	at.tokens = append(at.tokens, rec["token"].(string))
	r = at.run(t, "", "--format", "csv", "issue", "--cdata", "acme")
	r.want(t, 0, []string{"token,fingerprint,cdata,seq\n"}, nil)
	at.tokens = append(at.tokens, strings.Split(strings.Split(r.stdout, "\n")[1], ",")[0])
	// Listings still follow it.
	r = at.run(t, "", "tokens")
	r.want(t, 0, []string{`"fingerprint": "` + fingerprintOf(tok) + `"`}, nil)
	at.checkNoLeak(t)
}

// TestErrorsRedactTokens: an API error body that quotes a token reaches
// stderr with the token replaced by its short fingerprint, as the ledger
// records it.
func TestErrorsRedactTokens(t *testing.T) {
	at := newAPITest(t)
	leaked := at.direct(t, "leaked")
	other := at.direct(t, "other")
	body := `{"message":"cannot store ` + leaked + "\x1b]0;pwned\x07" + `"}`
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, body)
	}))
	t.Cleanup(api.Close)
	env := []string{"WOLEET_API_URL=" + api.URL, "WOLEET_API_TOKEN=bearer-secret", "TOKENAUDIT_DB=" + at.db}
	redacted := "[token sha256:" + short(leaked) + "]"
	for _, args := range [][]string{
		{"issue", "--cdata", "x"},
		{"revoke", other},
		{"revoke", "--cdata", "x", "--yes"},
	} {
		r := cli(t, "", env, args...)
		at.stderr = append(at.stderr, r.stderr, r.stdout)
		r.want(t, exitAPI, nil, []string{"400 Bad Request", redacted})
		if strings.ContainsRune(r.stderr, 0x1b) || strings.ContainsRune(r.stdout, 0x1b) {
			t.Errorf("%v: a raw ESC reached the output:\n%q", args, r.stderr)
		}
	}
	at.checkNoLeak(t)
}
