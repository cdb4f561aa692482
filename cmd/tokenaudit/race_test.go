package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// runAll runs the binary once per argument list, all at once, each as its
// own process on the same ledger and fake API, and returns their results.
func (at *apiTest) runAll(t *testing.T, argss [][]string) []result {
	t.Helper()
	results := make([]result, len(argss))
	errs := make([]error, len(argss))
	home := t.TempDir()
	var wg sync.WaitGroup
	for i, args := range argss {
		wg.Go(func() {
			cmd := exec.Command(binary, args...)
			cmd.Env = append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}, at.env...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				err = nil
				results[i].code = exit.ExitCode()
			}
			results[i].stdout, results[i].stderr, errs[i] = out.String(), errb.String(), err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	return results
}

// eventsPerToken counts the events of the given kinds per fingerprint.
func (at *apiTest) eventsPerToken(t *testing.T, kinds ...string) map[string]int {
	t.Helper()
	q := "SELECT fingerprint, count(*) FROM events WHERE kind IN ('" + strings.Join(kinds, "', '") + "') GROUP BY fingerprint"
	out := map[string]int{}
	for _, row := range queryRows(t, openSQL(t, at.db), q) {
		var n int
		fp, count, _ := strings.Cut(row, "|")
		fmt.Sscan(count, &n)
		out[fp] = n
	}
	return out
}

// TestRacingImports: 8 processes importing the same 1,000 tokens record
// each token once.
func TestRacingImports(t *testing.T) {
	at := newAPITest(t)
	var lines []string
	for i := range 1000 {
		lines = append(lines, at.direct(t, fmt.Sprintf("c%d", i%7)))
	}
	file := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var argss [][]string
	for range 8 {
		argss = append(argss, []string{"import", "@" + file})
	}
	for i, r := range at.runAll(t, argss) {
		if r.code != 0 {
			t.Errorf("import %d: exit %d\n%s", i, r.code, r.stderr)
		}
	}
	per := at.eventsPerToken(t, "import")
	if len(per) != 1000 {
		t.Errorf("%d tokens imported, want 1000", len(per))
	}
	for fp, n := range per {
		if n != 1 {
			t.Errorf("%s imported %d times", fp, n)
		}
	}
	at.run(t, "", "ledger", "verify").want(t, 0, []string{"status           intact\n"}, nil)
}

// TestRacingReconciles: 4 processes reconciling the same 30 unknown tokens
// at once record each once.
func TestRacingReconciles(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "ours")
	for i := range 30 {
		at.direct(t, fmt.Sprintf("shadow-%d", i))
	}
	var argss [][]string
	for range 4 {
		argss = append(argss, []string{"reconcile", "--apply"})
	}
	for i, r := range at.runAll(t, argss) {
		if r.code != 0 {
			t.Errorf("reconcile %d: exit %d\n%s", i, r.code, r.stderr)
		}
	}
	per := at.eventsPerToken(t, "import", "issue")
	if len(per) != 31 {
		t.Errorf("%d tokens recorded, want 31", len(per))
	}
	for fp, n := range per {
		if n != 1 {
			t.Errorf("%s recorded %d times", fp, n)
		}
	}
}

// TestReconcileRacingRevoke: a bulk revoke and reconciles at the same
// time record one revocation per token, by the revoke.
func TestReconcileRacingRevoke(t *testing.T) {
	at := newAPITest(t)
	at.run(t, "", "issue", "--cdata", "victim", "--count", "20").want(t, 0, nil, nil)
	at.issue(t, "bystander")
	argss := [][]string{{"revoke", "--cdata", "victim", "--yes"}}
	for range 3 {
		argss = append(argss, []string{"reconcile", "--apply", "--yes"})
	}
	for i, r := range at.runAll(t, argss) {
		if r.code != 0 {
			t.Errorf("process %d (%v): exit %d\n%s", i, argss[i], r.code, r.stderr)
		}
	}
	revokes := at.eventsPerToken(t, "revoke")
	elsewhere := at.eventsPerToken(t, "revoked_elsewhere")
	if len(revokes) != 20 {
		t.Errorf("%d tokens revoked, want 20", len(revokes))
	}
	for fp, n := range revokes {
		if n != 1 || elsewhere[fp] != 0 {
			t.Errorf("%s: %d revoke and %d revoked_elsewhere events, want 1 and 0", fp, n, elsewhere[fp])
		}
	}
	wantEqual(t, "states", queryRows(t, openSQL(t, at.db), "SELECT cdata, state, count(*) FROM tokens GROUP BY cdata, state ORDER BY cdata"),
		[]string{"bystander|active|1", "victim|revoked|20"})
}

// TestReconcileRacingIssue: tokens issued while reconciles run are
// recorded once, as issued, never again as imports.
func TestReconcileRacingIssue(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "first")
	argss := [][]string{{"issue", "--cdata", "new", "--count", "15"}}
	for range 3 {
		argss = append(argss, []string{"reconcile", "--apply"})
	}
	for i, r := range at.runAll(t, argss) {
		if r.code != 0 {
			t.Errorf("process %d (%v): exit %d\n%s", i, argss[i], r.code, r.stderr)
		}
	}
	wantEqual(t, "imports", queryRows(t, openSQL(t, at.db), "SELECT count(*) FROM events WHERE kind = 'import'"), []string{"0"})
	wantEqual(t, "issues", queryRows(t, openSQL(t, at.db), "SELECT count(DISTINCT fingerprint), count(*) FROM events WHERE kind = 'issue'"), []string{"16|16"})
}

// TestReconcileAgainstAnotherAPI: pointed at another Woleet (a second
// emulator), reconcile leaves the ledger's tokens out and records nothing;
// most live tokens missing at once needs --yes.
func TestReconcileAgainstAnotherAPI(t *testing.T) {
	at := newAPITest(t)
	var toks []string
	for i := range 5 {
		toks = append(toks, at.issue(t, fmt.Sprintf("c%d", i)))
	}
	other := newAPITest(t)
	other.db = at.db
	other.env = append(other.env, "TOKENAUDIT_DB="+at.db)
	r := other.run(t, "", "reconcile", "--apply")
	r.want(t, 0, []string{"the ledger holds 0 active for it.", "Left out: 5 live token(s) recorded for another API or account"}, nil)
	wantEqual(t, "events", queryRows(t, openSQL(t, at.db), "SELECT count(*) FROM events"), []string{"10"})

	for _, tok := range toks[:4] {
		if err := at.srv.RevokeDirect(tok); err != nil {
			t.Fatal(err)
		}
	}
	r = at.run(t, "", "reconcile", "--apply")
	r.want(t, 1, []string{"revoked elsewhere"}, []string{"the server no longer lists 4 of the 5 live tokens", "nothing was recorded", "--yes"})
	wantEqual(t, "events", queryRows(t, openSQL(t, at.db), "SELECT count(*) FROM events"), []string{"10"})
	at.run(t, "", "reconcile", "--apply", "--yes").want(t, 0, nil, []string{"recorded 4 events"})
	wantEqual(t, "states", queryRows(t, openSQL(t, at.db), "SELECT state, count(*) FROM tokens GROUP BY state"), []string{"active|1", "revoked|4"})
}

// TestTimeoutsAreAPIErrors: a revoke whose answer does not come in time
// exits 6 and records outcome unknown (the server did revoke it); a
// reconcile that times out exits 6 and records nothing; the next reconcile
// settles the revoke.
func TestTimeoutsAreAPIErrors(t *testing.T) {
	at := newAPITest(t)
	tok := at.issue(t, "slow")
	at.srv.SetLatency(3 * time.Second)
	r := at.run(t, tok+"\n", "revoke", "--timeout", "300ms", "-")
	r.want(t, 6, nil, []string{"outcome unknown", "reconcile"})
	wantEqual(t, "last event", queryRows(t, openSQL(t, at.db),
		"SELECT kind, json_extract(detail, '$.outcome') FROM events ORDER BY seq DESC LIMIT 1"), []string{"revoke_failed|unknown"})
	at.run(t, "", "reconcile", "--apply", "--timeout", "300ms").want(t, 6, nil, nil)
	wantEqual(t, "events", queryRows(t, openSQL(t, at.db), "SELECT count(*) FROM events"), []string{"3"})
	at.srv.SetLatency(0)
	at.run(t, "", "reconcile", "--apply").want(t, 0, nil, []string{"recorded 1 event"})
	wantEqual(t, "settled", queryRows(t, openSQL(t, at.db),
		"SELECT kind, request_seq FROM events ORDER BY seq DESC LIMIT 1"), []string{"revoke|2"})
	at.run(t, "", "report").want(t, 0, []string{"Requests with no known outcome\n(none)"}, nil)
}

// TestCompletionFromTheLedger: --cdata and --fingerprint complete from the
// ledger (live tokens for revoke), and complete nothing, quietly, without
// a ledger.
func TestCompletionFromTheLedger(t *testing.T) {
	at := newAPITest(t)
	acme := at.issue(t, "acme")
	at.issue(t, "acme-eu")
	gone := at.issue(t, "acorn")
	at.run(t, gone+"\n", "revoke", "-").want(t, 0, nil, nil)
	lines := func(r result) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
				out = append(out, l)
			}
		}
		return out
	}
	wantEqual(t, "revoke --cdata ac", lines(at.run(t, "", "__complete", "revoke", "--cdata", "ac")), []string{"acme", "acme-eu"})
	wantEqual(t, "tokens --cdata ac", lines(at.run(t, "", "__complete", "tokens", "--cdata", "ac")), []string{"acme", "acme-eu", "acorn"})
	fp := fingerprintOf(acme)
	short := strings.TrimPrefix(fp, "sha256:")[:12]
	got := lines(at.run(t, "", "__complete", "events", "--fingerprint", short[:3]))
	if !slices.Contains(got, short+"\tacme") {
		t.Errorf("events --fingerprint %s completes to %q, want %s", short[:3], got, short)
	}
	got = lines(at.run(t, "", "__complete", "revoke", "--fingerprint", strings.TrimPrefix(fp, "sha256:")[:9]))
	if len(got) != 1 || got[0] != short+"\tacme" {
		t.Errorf("revoke --fingerprint by a 9-digit prefix completes to %q", got)
	}
	r := cli(t, "", []string{"TOKENAUDIT_DB=" + filepath.Join(t.TempDir(), "none.db")}, "__complete", "revoke", "--cdata", "")
	if r.code != 0 || len(lines(r)) != 0 {
		t.Errorf("completion without a ledger: exit %d, %q", r.code, r.stdout)
	}
}

// TestAPIURLFlag: --api-url names the API as WOLEET_API_URL does, and wins
// over it.
func TestAPIURLFlag(t *testing.T) {
	at := newAPITest(t)
	env := []string{"WOLEET_API_URL=http://127.0.0.1:9/v1", "WOLEET_USERNAME=" + woleettest.DefaultEmail,
		"WOLEET_PASSWORD=" + woleettest.DefaultPassword, "TOKENAUDIT_DB=" + at.db}
	r := cli(t, "", env, "issue", "--cdata", "flag", "--api-url", at.srv.URL)
	r.want(t, 0, nil, []string{"tokenaudit: issued sha256:"})
	wantEqual(t, "api_url", queryRows(t, openSQL(t, at.db), "SELECT DISTINCT api_url FROM events"), []string{at.srv.URL})
}
