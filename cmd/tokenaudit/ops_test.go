package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// checkJSON is what "check --format json" prints.
type checkJSON struct {
	OK       bool
	Policies []struct {
		Policy     string
		Held       bool
		Violations int
	}
	Violations []struct {
		Policy, Fingerprint, CData, Message string
	}
}

// held returns the policies that held and those violated, by name.
func (c checkJSON) held() (held, violated []string) {
	for _, p := range c.Policies {
		if p.Held {
			held = append(held, p.Policy)
		} else {
			violated = append(violated, p.Policy)
		}
	}
	return held, violated
}

// TestCheckPolicies runs every policy of "check" holding, then broken:
// exit 0, then 7, and 5 when the ledger does not verify (5 wins over 7).
func TestCheckPolicies(t *testing.T) {
	at := newAPITest(t)
	keyFile, _ := keygen(t, "ops.example.com/tokenaudit")
	at.issue(t, "acme")
	at.issue(t, "globex")
	at.run(t, "", "reconcile", "--apply", "--record-run").want(t, 0, []string{"In sync."}, []string{"recorded 1 event"})
	at.run(t, "", "ledger", "checkpoint", "--key", keyFile).want(t, 0, nil, nil)
	all := []string{"check", "--max-age", "90d", "--max-live-per-cdata", "1", "--no-pending", "--reconcile",
		"--reconciled-within", "24h", "--verify", "--checkpoint-within", "7d"}

	r := at.run(t, "", all...)
	r.want(t, 0, []string{"Policies", "max-age", "90d", "holds", "checkpoint-within"}, nil)
	if strings.Contains(r.stdout, "Violations") || strings.Contains(r.stdout, "violated") {
		t.Errorf("every policy holds, yet:\n%s", r.stdout)
	}
	c := decodeJSON[checkJSON](t, at.run(t, "", append(all, "--format", "json")...).stdout)
	if held, violated := c.held(); !c.OK || len(held) != 7 || len(violated) != 0 {
		t.Errorf("check --format json: ok %v, held %v, violated %v", c.OK, held, violated)
	}

	// Break each policy but verify.
	old := woleetStyle(`{"sub":"u1","iat":1577836800,"jti":"j-old","cdata":"legacy"}`) // 2020-01-01
	at.tokens = append(at.tokens, old)
	at.run(t, old+"\n", "import", "-").want(t, 0, nil, nil)
	at.issue(t, "acme")
	at.srv.DropNext(1)
	at.run(t, "", "issue", "--cdata", "lost").want(t, 6, nil, nil)
	shadow := at.direct(t, "shadow")
	r = at.run(t, "", append(all, "--format", "json")...)
	r.want(t, 7, nil, []string{"tokenaudit: 4 of 7 policies violated"})
	c = decodeJSON[checkJSON](t, r.stdout)
	held, violated := c.held()
	wantEqual(t, "held", held, []string{"reconciled-within", "verify", "checkpoint-within"})
	wantEqual(t, "violated", violated, []string{"max-age", "max-live-per-cdata", "no-pending", "reconcile"})
	byPolicy := map[string][]string{}
	for _, v := range c.Violations {
		byPolicy[v.Policy] = append(byPolicy[v.Policy], v.Fingerprint+" "+v.CData)
	}
	wantEqual(t, "max-age violations", byPolicy["max-age"], []string{fingerprintOf(old) + " legacy"})
	wantEqual(t, "max-live-per-cdata violations", byPolicy["max-live-per-cdata"], []string{" acme"})
	wantEqual(t, "no-pending violations", byPolicy["no-pending"], []string{" lost"})
	if !slices.Contains(byPolicy["reconcile"], fingerprintOf(shadow)+" shadow") {
		t.Errorf("reconcile violations %v lack the token issued behind the ledger's back", byPolicy["reconcile"])
	}

	// The time policies, from the environment: they hold here; a ledger
	// with neither a recorded reconcile nor a checkpoint breaks them.
	cli(t, "", append(slices.Clone(at.env), "TOKENAUDIT_POLICY_RECONCILED_WITHIN=24h", "TOKENAUDIT_POLICY_CHECKPOINT_WITHIN=7d"),
		"check").want(t, 0, []string{"reconciled-within", "checkpoint-within", "holds"}, nil)
	emptyDB := filepath.Join(t.TempDir(), "empty.db")
	at.run(t, old+"\n", "import", "--db", emptyDB, "-").want(t, 0, nil, nil)
	r = at.run(t, "", "check", "--db", emptyDB, "--reconciled-within", "24h", "--checkpoint-within", "7d")
	r.want(t, 7, []string{"reconciled-within", `no complete "reconcile --apply --record-run" is recorded`, "checkpoint-within",
		"the ledger holds no signed checkpoint"}, []string{"2 of 2 policies violated"})

	// Policies from the environment; a flag wins over its variable.
	env := append(slices.Clone(at.env), "TOKENAUDIT_POLICY_MAX_LIVE_PER_CDATA=1")
	cli(t, "", env, "check").want(t, 7, []string{"max-live-per-cdata", "acme"}, nil)
	cli(t, "", env, "check", "--max-live-per-cdata", "5").want(t, 0, nil, nil)
	cli(t, "", append(slices.Clone(at.env), "TOKENAUDIT_POLICY_MAX_AGE=soon"), "check").want(t, 1, nil,
		[]string{`TOKENAUDIT_POLICY_MAX_AGE "soon"`})
	at.run(t, "", "check").want(t, 1, nil, []string{"no policy to check"})

	// A ledger edited behind tokenaudit's back: 5, even with other
	// policies violated.
	withoutTriggers(t, at.db, func(db *sql.DB) { mustSQL(t, db, "UPDATE events SET cdata = 'evil' WHERE seq = 1") })
	r = at.run(t, "", "check", "--verify", "--max-live-per-cdata", "1")
	r.want(t, 5, []string{"verify", "violated", "seq", "max-live-per-cdata"}, nil)
	at.checkNoLeak(t)
}

// failingProxy forwards to the fake API and makes the nth DELETE /token
// (counting from 1) fail with a 500, through woleettest's FailNext.
func failingProxy(t *testing.T, srv *woleettest.Server, nth int) string {
	t.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	var (
		mu      sync.Mutex
		deletes int
	)
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			mu.Lock()
			deletes++
			if deletes == nth {
				srv.FailNext(1, http.StatusInternalServerError, nil)
			}
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ps.Close)
	return ps.URL + target.Path
}

// TestRotateWithAFailingRevoke rotates the tokens of a cdata while the
// second revocation fails: the new token stands and is printed, the failure
// is recorded and shown, the exit status is the API's, and the events are
// linked.
func TestRotateWithAFailingRevoke(t *testing.T) {
	at := newAPITest(t)
	a1, a2, a3 := at.issue(t, "acme"), at.issue(t, "acme"), at.issue(t, "acme")
	globex := at.issue(t, "globex")

	// --cdata completes from the ledger's live tokens.
	at.run(t, "", "__complete", "rotate", "--cdata", "").want(t, 0, []string{"acme\n", "globex\n"}, nil)

	// A dry run issues and revokes nothing.
	r := at.run(t, "", "rotate", "--cdata", "acme", "--keep-newest", "1", "--dry-run")
	r.want(t, 0, []string{short(a1), short(a2), "would revoke", short(a3), "would keep"},
		[]string{"dry run: a new token would be issued with cdata \"acme\", 2 old tokens revoked and 1 kept"})
	if at.live() != 4 {
		t.Fatalf("a dry run changed the API: %d live tokens", at.live())
	}

	env := slices.Clone(at.env)
	env[0] = "WOLEET_API_URL=" + failingProxy(t, at.srv, 2)
	r = cli(t, "", env, "rotate", "--cdata", "acme", "--keep-newest", "1", "--reason", "yearly rotation")
	at.stderr = append(at.stderr, r.stderr)
	r.want(t, 6, nil, []string{"revoked", "failed", "kept", short(a1), short(a2), short(a3),
		"revoked 1 of 2 old tokens, kept 1", "the new token stands"})
	newTok := strings.TrimSuffix(r.stdout, "\n")
	at.tokens = append(at.tokens, newTok)
	if strings.Count(newTok, ".") != 2 || strings.ContainsAny(newTok, " \n\t") {
		t.Fatalf("rotate printed %q, want the new token alone", r.stdout)
	}
	if !at.srv.Revoked(a1) || at.srv.Revoked(a2) || at.srv.Revoked(a3) || at.srv.Revoked(newTok) || at.srv.Revoked(globex) {
		t.Errorf("revoked on the API: a1 %v, a2 %v, a3 %v, new %v, globex %v (want only a1)",
			at.srv.Revoked(a1), at.srv.Revoked(a2), at.srv.Revoked(a3), at.srv.Revoked(newTok), at.srv.Revoked(globex))
	}
	rows := queryRows(t, openSQL(t, at.db), `SELECT kind, fingerprint, coalesce(json_extract(detail, '$.rotated_by'), ''),
  coalesce(json_extract(detail, '$.rotates'), ''), coalesce(json_extract(detail, '$.reason'), '') FROM events WHERE seq >= 8 ORDER BY seq`)
	nf := fingerprintOf(newTok)
	want := []string{
		"issue_requested||||yearly rotation",
		"issue|" + nf + "||" + `["` + fingerprintOf(a1) + `","` + fingerprintOf(a2) + `"]|yearly rotation`,
		"revoke|" + fingerprintOf(a1) + "|" + nf + "||yearly rotation",
		"revoke_failed|" + fingerprintOf(a2) + "|" + nf + "||yearly rotation",
	}
	wantEqual(t, "the rotation's events", rows, want)

	// events shows the rotation as one act.
	r = at.run(t, "", "events", "--after-seq", "7")
	r.want(t, 0, []string{"why", "yearly rotation; rotation: replaces 2 tokens", "yearly rotation; rotation: replaced by sha256:" + short(newTok)}, nil)
	r = at.run(t, "", "report")
	r.want(t, 0, []string{"Recent revocations", short(a1), "yearly rotation; rotation: replaced by sha256:" + short(newTok)}, nil)
	at.checkNoLeak(t)
}

// TestIssueCDataFileAndReasons issues one token per line of a file, and
// records reasons on issue, revoke and reconcile --apply.
func TestIssueCDataFileAndReasons(t *testing.T) {
	at := newAPITest(t)
	file := writeFile(t, "customers.txt", "acme\n\nglobex corp\r\ninitech\n")
	r := at.run(t, "", "issue", "--cdata-file", file, "--reason", "onboarding batch 12")
	r.want(t, 0, nil, []string{"tokenaudit: issued 3 tokens"})
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	var cdatas []string
	for _, line := range lines {
		cdata, tok, ok := strings.Cut(line, "\t")
		if !ok || strings.Count(tok, ".") != 2 {
			t.Fatalf("issue --cdata-file printed %q, want cdata<TAB>token lines", r.stdout)
		}
		at.tokens = append(at.tokens, tok)
		cdatas = append(cdatas, cdata)
	}
	wantEqual(t, "cdata printed", cdatas, []string{"acme", "globex corp", "initech"})
	wantEqual(t, "issue events", queryRows(t, openSQL(t, at.db),
		"SELECT cdata, json_extract(detail, '$.reason') FROM events WHERE kind = 'issue' ORDER BY seq"),
		[]string{"acme|onboarding batch 12", "globex corp|onboarding batch 12", "initech|onboarding batch 12"})

	// A bad line stops everything before anything is issued.
	bad := writeFile(t, "bad.txt", "fine\n"+strings.Repeat("x", 65)+"\n")
	at.run(t, "", "issue", "--cdata-file", bad).want(t, 1, nil, []string{"bad.txt line 2 is 65 characters long"})
	if at.live() != 3 {
		t.Errorf("a bad --cdata-file issued tokens: %d live", at.live())
	}
	r = at.run(t, "nova\n", "issue", "--cdata-file", "-", "--format", "jsonl")
	rec := decodeJSON[issueRecord](t, r.stdout)
	at.tokens = append(at.tokens, rec.Token)
	if rec.CData != "nova" || rec.Fingerprint != fingerprintOf(rec.Token) {
		t.Errorf("issue --cdata-file - --format jsonl = %+v", rec)
	}

	at.run(t, "", "revoke", at.tokens[0], "--reason", "leaked in ticket OPS-1").want(t, 0, []string{"revoked"}, nil)
	at.direct(t, "shadow")
	at.run(t, "", "reconcile", "--apply", "--record-run", "--reason", "nightly").want(t, 0, nil, nil)
	at.run(t, "", "reconcile", "--reason", "nightly").want(t, 1, nil, []string{"--reason is recorded with --apply"})
	wantEqual(t, "reasons", queryRows(t, openSQL(t, at.db),
		"SELECT kind, cdata, json_extract(detail, '$.reason') FROM events WHERE kind IN ('revoke', 'import', 'reconciled') ORDER BY seq"),
		[]string{"revoke|acme|leaked in ticket OPS-1", "import|shadow|nightly", "reconciled||nightly"})
	at.run(t, "", "events", "--kind", "revoke").want(t, 0, []string{"why", "leaked in ticket OPS-1"}, nil)
	r = at.run(t, "", "events", "--kind", "issue_requested")
	if strings.Contains(r.stdout, "why") == false {
		t.Errorf("events of issue requests with a reason lack the why column:\n%s", r.stdout)
	}
	r = at.run(t, "", "report", "--format", "json")
	rep := decodeJSON[struct {
		Recent []struct {
			Kind   string
			Detail struct{ Reason string }
		} `json:"recent_revocations"`
	}](t, r.stdout)
	if len(rep.Recent) != 1 || rep.Recent[0].Detail.Reason != "leaked in ticket OPS-1" {
		t.Errorf("report recent_revocations = %+v", rep.Recent)
	}
	at.checkNoLeak(t)
}

// follower is a running "events --follow --format jsonl" process whose
// seqs are collected as they come.
type follower struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr strings.Builder
	mu     sync.Mutex
	seqs   []int64
	done   chan struct{}
}

// startFollower starts a follower with the extra arguments.
func startFollower(t *testing.T, env []string, args ...string) *follower {
	t.Helper()
	f := &follower{done: make(chan struct{})}
	f.cmd = exec.Command(binary, append([]string{"events", "--follow", "--format", "jsonl"}, args...)...)
	f.cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	f.cmd.Stderr = &f.stderr
	var err error
	if f.stdout, err = f.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(f.stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e struct{ Seq int64 }
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				continue
			}
			f.mu.Lock()
			f.seqs = append(f.seqs, e.Seq)
			f.mu.Unlock()
		}
	}()
	return f
}

// waitFor waits until the follower has seen n events, or fails.
func (f *follower) waitFor(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		got := len(f.seqs)
		f.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the follower saw %d events in %v, want %d", len(f.seqs), within, n)
}

// stop ends the follower with SIGINT and returns its exit status.
func (f *follower) stop(t *testing.T) int {
	t.Helper()
	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-f.done
	err := f.cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestEventsFollowThreeWriters follows a ledger that three processes write
// at once, stops, writes more, and resumes with --after-seq: the seqs seen
// are exactly the ledger's, none missed, none repeated.
func TestEventsFollowThreeWriters(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "first") // the ledger exists: seqs 0 and 1
	f := startFollower(t, at.env)
	writers := [][]string{
		{"issue", "--cdata", "w1", "--count", "5"},
		{"issue", "--cdata", "w2", "--count", "5"},
		{"issue", "--cdata", "w3", "--count", "5"},
	}
	for _, r := range at.runAll(t, writers) {
		r.want(t, 0, nil, nil)
		at.tokens = append(at.tokens, strings.Fields(r.stdout)...)
	}
	total := 2 + 3*5*2
	f.waitFor(t, total, 5*time.Second)
	// A new event from another process shows within a second.
	start := time.Now()
	at.issue(t, "late")
	total += 2
	f.waitFor(t, total, 5*time.Second)
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("the follower took %v to show an issue (process start included)", d)
	}
	if code := f.stop(t); code != exitInterrupted {
		t.Fatalf("follower stopped with status %d: %s", code, f.stderr.String())
	}
	last := f.seqs[len(f.seqs)-1]
	if !strings.Contains(f.stderr.String(), "stopped following after seq "+itoa(int(last))+": resume with --after-seq "+itoa(int(last))) {
		t.Errorf("follower's stderr = %q, want where to resume", f.stderr.String())
	}
	first := slices.Clone(f.seqs)

	// More events while nobody follows, then resume.
	for _, r := range at.runAll(t, writers) {
		r.want(t, 0, nil, nil)
		at.tokens = append(at.tokens, strings.Fields(r.stdout)...)
	}
	total += 3 * 5 * 2
	g := startFollower(t, at.env, "--after-seq", itoa(int(last)))
	g.waitFor(t, total-len(first), 5*time.Second)
	time.Sleep(300 * time.Millisecond) // nothing more may come
	if code := g.stop(t); code != exitInterrupted {
		t.Fatalf("second follower stopped with status %d: %s", code, g.stderr.String())
	}
	var want []string
	for _, row := range queryRows(t, openSQL(t, at.db), "SELECT seq FROM events ORDER BY seq") {
		want = append(want, row)
	}
	var got []string
	for _, s := range append(first, g.seqs...) {
		got = append(got, itoa(int(s)))
	}
	wantEqual(t, "seqs followed (first run, then resumed)", got, want)
	if len(want) != total {
		t.Errorf("the ledger holds %d events, want %d", len(want), total)
	}
	at.checkNoLeak(t)
}

// TestEventsFollowEndsWhenStdoutCloses: a follower whose reader goes away
// ends by itself, with status 0, even when no event comes.
func TestEventsFollowEndsWhenStdoutCloses(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	f := startFollower(t, at.env)
	f.waitFor(t, 2, 5*time.Second)
	f.stdout.Close()
	exited := make(chan error, 1)
	go func() { exited <- f.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("follower ended with %v: %s", err, f.stderr.String())
		}
	case <-time.After(3 * time.Second):
		f.cmd.Process.Kill()
		t.Fatal("the follower did not end within 3s of its reader going away")
	}

	// A reader that reads one line and goes away: the follower says that
	// it read up to the first event, whatever else was written to the pipe.
	for range 3 {
		at.issue(t, "more")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "events", "--follow", "--format", "jsonl")
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, at.env...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = pw, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	time.Sleep(700 * time.Millisecond) // every event written into the pipe
	one := make([]byte, 1)
	var line []byte
	for {
		if _, err := pr.Read(one); err != nil {
			t.Fatal(err)
		}
		if line = append(line, one[0]); one[0] == '\n' {
			break
		}
	}
	pr.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("follower ended with %v: %s", err, stderr.String())
	}
	if want := "the reader went away after seq 0: resume with --after-seq 0"; !strings.Contains(stderr.String(), want) {
		t.Errorf("follower's stderr = %q, want %q (it read %q)", stderr.String(), want, line)
	}
	at.run(t, "", "events", "--follow", "--format", "json").want(t, 1, nil, []string{"use --format jsonl"})
	at.run(t, "", "events", "--follow", "--limit", "3").want(t, 1, nil, []string{"--follow lists events until stopped"})
}

// TestOpsCommandsDocumented: check, rotate, --reason, --follow and exit
// status 7 are in --help and in the README.
func TestOpsCommandsDocumented(t *testing.T) {
	r := cli(t, "", nil, "--help")
	r.want(t, 0, []string{"\n  check ", "\n  rotate ", `7 a policy of
"tokenaudit check" is violated`}, nil)
	h := cli(t, "", nil, "check", "--help")
	h.want(t, 0, []string{"Usage:\n  tokenaudit check"}, nil)
	for _, name := range policyFlags {
		if !strings.Contains(h.stdout, "--"+name) || !strings.Contains(h.stdout, policyEnv(name)) {
			t.Errorf("check --help lacks --%s or %s", name, policyEnv(name))
		}
	}
	cli(t, "", nil, "rotate", "--help").want(t, 0, []string{"--keep-newest", "--dry-run", "--reason", "detail.rotated_by"}, nil)
	cli(t, "", nil, "events", "--help").want(t, 0, []string{"--follow", "--after-seq N"}, nil)
	cli(t, "", nil, "inspect", "--help").want(t, 0, []string{"--no-ledger", "--db", `"ledger"`}, nil)
	cli(t, "", nil, "verify", "--help").want(t, 0, []string{"--no-ledger", `"ledger"`}, nil)
	cli(t, "", nil, "issue", "--help").want(t, 0, []string{"--cdata-file", "--reason"}, nil)
	cli(t, "", nil, "revoke", "--help").want(t, 0, []string{"--reason"}, nil)
	cli(t, "", nil, "reconcile", "--help").want(t, 0, []string{"--reason", "--record-run"}, nil)
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| 7 | a policy of `tokenaudit check` is violated", "| `check ", "| `rotate --cdata X",
		"--cdata-file", "events --follow", "`--reason TEXT`", "| `reconciled` |", "TOKENAUDIT_POLICY_MAX_AGE",
		"`--no-ledger` skips it", "and `ledger` (what"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("the README lacks %q", s)
		}
	}
}

// ledgerMember is the "ledger" member of inspect's and verify's JSON.
type ledgerMember struct {
	Ledger *struct {
		Path, State, CData string
		IssuedBy           string  `json:"issued_by"`
		IssuedSeq          *int64  `json:"issued_seq"`
		RevokedBy          *string `json:"revoked_by"`
		RevokedSeq         *int64  `json:"revoked_seq"`
	} `json:"ledger"`
}

// TestInspectKnowsTheLedger: inspect and verify say what the ledger knows
// of an active, a revoked and an unknown token, in the table and as the
// JSON member "ledger" (null without a ledger or with --no-ledger).
func TestInspectKnowsTheLedger(t *testing.T) {
	at := newAPITest(t)
	active := at.issue(t, "acme")
	revoked := at.issue(t, "globex")
	at.run(t, "", "revoke", revoked, "--reason", "test").want(t, 0, nil, nil)
	unknown := at.direct(t, "shadow")

	member := func(args ...string) ledgerMember {
		t.Helper()
		r := at.run(t, "", append([]string{"inspect", "--format", "json"}, args...)...)
		r.want(t, 0, []string{`"ledger": `}, nil)
		return decodeJSON[ledgerMember](t, r.stdout)
	}
	m := member(active)
	if m.Ledger == nil || m.Ledger.Path != at.db || m.Ledger.State != "active" || m.Ledger.CData != "acme" ||
		*m.Ledger.IssuedSeq != 1 || !strings.Contains(m.Ledger.IssuedBy, "via basic:") || m.Ledger.RevokedSeq != nil {
		t.Errorf("inspect of an active token: ledger %+v", m.Ledger)
	}
	m = member(revoked)
	if m.Ledger == nil || m.Ledger.State != "revoked" || *m.Ledger.IssuedSeq != 3 || m.Ledger.RevokedSeq == nil ||
		*m.Ledger.RevokedSeq != 4 || m.Ledger.RevokedBy == nil {
		t.Errorf("inspect of a revoked token: ledger %+v", m.Ledger)
	}
	m = member(unknown)
	if m.Ledger == nil || m.Ledger.State != "unknown" || m.Ledger.IssuedSeq != nil {
		t.Errorf("inspect of an unknown token: ledger %+v", m.Ledger)
	}
	if m = member("--no-ledger", active); m.Ledger != nil {
		t.Errorf("inspect --no-ledger: ledger %+v, want null", m.Ledger)
	}
	r := cli(t, "", []string{"TOKENAUDIT_DB=" + filepath.Join(t.TempDir(), "none.db")}, "inspect", "--format", "jsonl", active)
	r.want(t, 0, []string{`"ledger":null}`}, nil)
	cli(t, "", nil, "inspect", "--db", filepath.Join(t.TempDir(), "none.db"), active).want(t, 1, nil, []string{"no ledger at"})

	// Streams: one line per token, each with its own answer.
	r = at.run(t, active+"\n"+revoked+"\n"+unknown+"\n", "inspect", "--format", "jsonl", "-")
	var states []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		states = append(states, decodeJSON[ledgerMember](t, line).Ledger.State)
	}
	wantEqual(t, "states of a stream", states, []string{"active", "revoked", "unknown"})

	at.run(t, "", "inspect", active).want(t, 0, []string{"Ledger " + at.db, "state        active since", "issued by    "}, nil)
	at.run(t, "", "inspect", revoked).want(t, 0, []string{"state        revoked at", "revoked by   "}, nil)
	at.run(t, "", "inspect", unknown).want(t, 0, []string{"state        unknown: the ledger has no record of this token"}, nil)
	r = at.run(t, "", "inspect", "--no-ledger", active)
	if strings.Contains(r.stdout, "Ledger") {
		t.Errorf("inspect --no-ledger shows the ledger:\n%s", r.stdout)
	}

	// verify, on a signed vector the ledger first does not know, then does.
	tok, err := os.ReadFile(vec("rfc7515_A.2.jwsc"))
	if err != nil {
		t.Fatal(err)
	}
	verify := []string{"verify", "@" + vec("rfc7515_A.2.jwsc"), "--key", vec("rfc7515_A.2.pub.pem"), "--leeway", longAgo}
	at.run(t, "", verify...).want(t, 0, []string{"valid", "ledger       unknown: the ledger has no record of this token"}, nil)
	at.run(t, string(tok), "import", "-").want(t, 0, nil, nil)
	at.run(t, "", verify...).want(t, 0, []string{"ledger       active since", "issued by: "}, nil)
	r = at.run(t, "", append(verify, "--format", "json")...)
	if m := decodeJSON[ledgerMember](t, r.stdout); m.Ledger == nil || m.Ledger.State != "active" {
		t.Errorf("verify --format json: ledger %+v", m.Ledger)
	}
	at.checkNoLeak(t)
}

// TestCheckNoPendingLeavesRequestsInFlight: an issue request whose process
// died a moment ago looks like one still in flight, which its process may
// yet answer: --no-pending leaves it alone for --in-flight, and counts it
// with --in-flight 0.
func TestCheckNoPendingLeavesRequestsInFlight(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	at.srv.SetLatency(10 * time.Second)
	cmd := exec.Command(binary, "issue", "--cdata", "killed")
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, at.env...)
	var out strings.Builder
	cmd.Stdout = &out // issue refuses a standard output that leads nowhere
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Killed once its request is recorded, while the API takes its time.
	requested := func() bool {
		return len(queryRows(t, openSQL(t, at.db), "SELECT seq FROM events WHERE kind = 'issue_requested' AND cdata = 'killed'")) == 1
	}
	for deadline := time.Now().Add(5 * time.Second); !requested() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	at.srv.SetLatency(0)
	wantEqual(t, "pending", queryRows(t, openSQL(t, at.db),
		"SELECT kind, cdata FROM events WHERE kind = 'issue_requested' AND seq NOT IN (SELECT request_seq FROM events WHERE request_seq IS NOT NULL)"),
		[]string{"issue_requested|killed"})
	at.run(t, "", "check", "--no-pending").want(t, 0, []string{"no-pending", "holds"}, nil)
	at.run(t, "", "check", "--no-pending", "--in-flight", "0").want(t, 7, []string{"issue_requested", "killed", "has no known outcome"},
		[]string{"1 of 1 policies violated"})
}

// BenchmarkLedgerMemberNull is what inspect --format jsonl adds to each
// line without a ledger: the member "ledger": null.
func BenchmarkLedgerMemberNull(b *testing.B) {
	line := []byte(`{"kind":"jws","alg":"HS256","cdata":"customer-0001","fingerprint":"sha256:0123","verified":null}` + "\n")
	buf := make([]byte, 0, 4096)
	var k *tokenLedger
	ctx := context.Background()
	for b.Loop() {
		out, err := k.addJSON(ctx, append(buf[:0], line...), 0, "t")
		if err != nil || len(out) != len(line)+len(ledgerNull) {
			b.Fatal(err)
		}
	}
}
