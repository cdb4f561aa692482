package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

func TestBulkRevokeByCData(t *testing.T) {
	at := newAPITest(t)
	acme1 := at.issue(t, "acme")
	acme2 := at.issue(t, "acme")
	globex := at.issue(t, "globex")
	shadow := at.direct(t, "acme") // the ledger never saw it
	before := eventKinds(t, at.db)

	// No terminal and no --yes: refused before the API is asked.
	requests := len(at.srv.Requests())
	r := at.run(t, "", "revoke", "--cdata", "acme")
	r.want(t, 1, nil, []string{"tokenaudit: refusing to revoke without confirmation: there is no terminal to ask on\n",
		"tokenaudit: hint: add --yes to revoke what matches, or --dry-run to only list it\n"})
	if len(at.srv.Requests()) != requests || at.live() != 4 {
		t.Fatal("a refused revoke reached the API")
	}

	// --dry-run lists exactly the live acme tokens, and what the ledger knows.
	r = at.run(t, "", "revoke", "--cdata", "acme", "--dry-run", "--format", "csv")
	r.want(t, 0, nil, nil)
	wantEqual(t, "dry run", strings.Split(strings.TrimSpace(r.stdout), "\n"), []string{
		"fingerprint,cdata,ledger,result,seq,note",
		fingerprintOf(acme1) + ",acme,active,would revoke,,",
		fingerprintOf(acme2) + ",acme,active,would revoke,,",
		fingerprintOf(shadow) + ",acme,unknown,would revoke,,",
	})
	if r.stderr != "tokenaudit: dry run: 3 tokens would be revoked\n" {
		t.Errorf("dry run stderr = %q", r.stderr)
	}
	if at.live() != 4 {
		t.Fatal("a dry run revoked tokens")
	}
	wantEqual(t, "events after the dry run", eventKinds(t, at.db), before)

	// --yes revokes them, the unknown one included, and records each.
	r = at.run(t, "", "revoke", "--cdata", "acme", "--yes", "--format", "json")
	r.want(t, 0, nil, nil)
	recs := decodeJSON[[]map[string]any](t, r.stdout)
	if len(recs) != 3 {
		t.Fatalf("revoke --yes --format json = %v", recs)
	}
	for i, want := range []struct {
		token, ledger string
		seq           float64
	}{{acme1, "active", 6}, {acme2, "active", 7}, {shadow, "unknown", 9}} {
		if recs[i]["fingerprint"] != fingerprintOf(want.token) || recs[i]["ledger"] != want.ledger ||
			recs[i]["result"] != "revoked" || recs[i]["seq"] != want.seq || recs[i]["cdata"] != "acme" {
			t.Errorf("result %d = %v, want %s %s seq %v", i, recs[i], short(want.token), want.ledger, want.seq)
		}
	}
	wantStderr := "tokenaudit: revoking 3 live tokens with cdata \"acme\"\ntokenaudit: revoked 3 of 3\n"
	if r.stderr != wantStderr {
		t.Errorf("stderr = %q, want %q", r.stderr, wantStderr)
	}
	if live := at.srv.LiveTokens(woleettest.DefaultEmail); len(live) != 1 || live[0] != globex {
		t.Fatalf("after revoking acme, %d tokens are live", len(live))
	}
	wantEqual(t, "tokens view", queryRows(t, openSQL(t, at.db), "SELECT cdata, state FROM tokens ORDER BY issued_seq"),
		[]string{"acme|revoked", "acme|revoked", "globex|active", "acme|revoked"})

	// Nothing left to revoke.
	r = at.run(t, "", "revoke", "--cdata", "acme", "--yes")
	r.want(t, 0, nil, []string{"tokenaudit: no live token with cdata \"acme\"\n"})
	if r.stdout != "" {
		t.Errorf("stdout = %q", r.stdout)
	}

	// By fingerprint prefix.
	prefix := short(globex)[:8]
	r = at.run(t, "", "revoke", "--fingerprint", prefix, "--yes")
	r.want(t, 0, []string{short(globex), "globex", "active", "revoked", "│ 10  │"}, nil)
	if at.live() != 0 {
		t.Error("revoke --fingerprint left the token live")
	}

	for _, args := range [][]string{
		{"--cdata", "x", "--fingerprint", prefix},
		{"--cdata", "x", acme1},
		{"--fingerprint", "abc", "--yes"},
		{"--cdata-prefix", "--yes"},
		{"--cdata", "", "--cdata-prefix", "--yes"},
		{"--cdata", "x", "--dry-run", "--yes"},
	} {
		at.run(t, "", append([]string{"revoke"}, args...)...).want(t, 1, nil, []string{"tokenaudit: "})
	}
	at.checkNoLeak(t)
}

func TestRevokeGivenTokens(t *testing.T) {
	at := newAPITest(t)
	known := at.issue(t, "acme")
	stranger := at.direct(t, "stranger")

	// A token the ledger never saw: revoked, recorded, and said so.
	r := at.run(t, "", "revoke", stranger)
	r.want(t, 0, []string{"argument 1", short(stranger), "stranger", "unknown", "revoked", "never seen by the ledger: recorded now"},
		[]string{"tokenaudit: argument 1: sha256:" + short(stranger) + " was not in the ledger: it is revoked, and recorded now (import, then revoke at seq 3)\n"})
	wantEqual(t, "events", eventKinds(t, at.db), []string{"issue_requested", "issue", "import", "revoke"})

	// From standard input, with a bad line and an already revoked token:
	// the good one is revoked, each failure reported, and the exit status
	// is the first failure's (2, for the line that is not a token).
	stdin := "# tokens to revoke\nAuthorization: Bearer " + known + "\nnot.a.token!\n" + stranger + "\n"
	r = at.run(t, stdin, "revoke", "-", "--format", "jsonl")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != exitMalformed || len(lines) != 3 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	first := decodeJSON[map[string]any](t, lines[0])
	bad := decodeJSON[map[string]any](t, lines[1])
	again := decodeJSON[map[string]any](t, lines[2])
	if first["input"] != "stdin line 2" || first["result"] != "revoked" || first["ledger"] != "active" || first["seq"] != 4.0 {
		t.Errorf("line 1 = %v", first)
	}
	if bad["input"] != "stdin line 3" || bad["result"] != "malformed" || bad["fingerprint"] != "" {
		t.Errorf("line 2 = %v", bad)
	}
	// The ledger has it as revoked: not sent again.
	if again["input"] != "stdin line 4" || again["result"] != "already revoked" || again["ledger"] != "revoked" ||
		again["seq"] != 3.0 || again["error"] != nil {
		t.Errorf("line 3 = %v", again)
	}
	if !at.srv.Revoked(known) {
		t.Error("the token from stdin was not revoked")
	}
	wantEqual(t, "events", eventKinds(t, at.db)[4:], []string{"revoke"})

	// In table mode the failures go to stderr too.
	r = at.run(t, "not-a.token\n", "revoke")
	r.want(t, exitMalformed, []string{"stdin line 1", "malformed"}, []string{"tokenaudit: stdin line 1: "})
	at.run(t, "# nothing\n", "revoke").want(t, 1, nil, []string{"tokenaudit: no token given: the input held no token\n"})
	at.checkNoLeak(t)
}

// TestRevokeConfirmOnTerminal runs the command in this process, with
// standard input and standard error taken for a terminal.
func TestRevokeConfirmOnTerminal(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	at.issue(t, "acme")
	vars := map[string]string{}
	for _, kv := range at.env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	term := func(answer string) (stdout, stderr string, code int) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(answer), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] },
			now: time.Now, stdinTTY: true, stderrTTY: true}
		code = run(context.Background(), []string{"revoke", "--cdata", "acme", "--format", "csv"}, e)
		return out.String(), errb.String(), code
	}

	stdout, stderr, code := term("n\n")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "Live tokens with cdata \"acme\":") ||
		!strings.Contains(stderr, "Revoke these 2 tokens? [y/N] ") || !strings.Contains(stderr, "tokenaudit: cancelled: nothing was revoked\n") {
		t.Errorf("declined: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if at.live() != 2 {
		t.Fatal("a declined revoke revoked tokens")
	}

	stdout, stderr, code = term("yes\n")
	if code != 0 || strings.Count(stdout, ",revoked,") != 2 || !strings.Contains(stderr, "\rrevoking [===============               ] 1/2") ||
		!strings.Contains(stderr, "2/2\r\x1b[K") {
		t.Errorf("confirmed: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if at.live() != 0 {
		t.Error("a confirmed revoke left tokens live")
	}
	kinds := eventKinds(t, at.db)
	if !slices.Equal(kinds[len(kinds)-2:], []string{"revoke", "revoke"}) {
		t.Errorf("events %v", kinds)
	}
}

// TestRevokeAlreadyRevoked: a token the ledger has as revoked is reported
// "already revoked (seq N)" and not sent (exit 0), in a dry run too;
// --force sends it anyway (and the API refuses it: exit 6, revoke_failed).
func TestRevokeAlreadyRevoked(t *testing.T) {
	at := newAPITest(t)
	tok := at.issue(t, "acme")
	at.run(t, tok+"\n", "revoke").want(t, 0, []string{"revoked"}, nil)
	requests := len(at.srv.Requests())
	before := eventKinds(t, at.db)
	wantStderr := "tokenaudit: stdin line 1: sha256:" + short(tok) + " is already revoked (seq 2): not sent again; --force sends it anyway\n"
	for _, args := range [][]string{{"revoke"}, {"revoke", "--dry-run"}} {
		r := at.run(t, tok+"\n", args...)
		r.want(t, 0, []string{"already revoked", "│ 2   │", "not sent again: --force sends it"}, nil)
		if r.stderr != wantStderr {
			t.Errorf("%v: stderr = %q, want %q", args, r.stderr, wantStderr)
		}
	}
	r := at.run(t, tok+"\n", "revoke", "--format", "csv")
	r.want(t, 0, []string{"stdin line 1," + fingerprintOf(tok) + ",acme,revoked,already revoked,2,not sent again: --force sends it\n"}, nil)
	if len(at.srv.Requests()) != requests {
		t.Fatalf("an already revoked token was sent again")
	}
	wantEqual(t, "events", eventKinds(t, at.db), before)

	r = at.run(t, tok+"\n", "revoke", "--force")
	r.want(t, exitAPI, []string{"failed"}, []string{"400 Bad Request"})
	if len(at.srv.Requests()) != requests+1 {
		t.Errorf("--force sent %d requests, want 1", len(at.srv.Requests())-requests)
	}
	wantEqual(t, "events", eventKinds(t, at.db), append(before, "revoke_failed"))
	at.run(t, "", "revoke", "--force", "--cdata", "acme", "--yes").want(t, exitError, nil, []string{"--force is for given tokens"})
	at.checkNoLeak(t)
}

// TestBulkRevokeInterrupted: Ctrl-C (SIGINT) during a bulk revoke stops
// it: the results say what was done, the exit status is 130, and the
// message says how many were revoked and which command revokes the rest;
// that command then does.
func TestBulkRevokeInterrupted(t *testing.T) {
	at := newAPITest(t)
	for range 5 {
		at.issue(t, "acme")
	}
	at.srv.SetLatency(300 * time.Millisecond)
	r := at.interruptAfterRevoke(t, "", "revoke", "--cdata", "acme", "--yes", "--format", "jsonl")
	if r.code != exitInterrupted {
		t.Fatalf("exit status %d, want %d\nstderr:\n%s", r.code, exitInterrupted, r.stderr)
	}
	var done int
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if decodeJSON[map[string]any](t, line)["result"] == "revoked" {
			done++
		}
	}
	if done < 1 || done >= 5 {
		t.Fatalf("%d revoked before Ctrl-C:\n%s", done, r.stdout)
	}
	for _, want := range []string{
		fmt.Sprintf("tokenaudit: interrupted: revoked %d of 5 with cdata \"acme\"\n", done),
		"tokenaudit: hint: to revoke the rest, run: tokenaudit revoke --cdata acme --yes\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// The request under way at Ctrl-C was sent: its outcome is unknown
	// until the API is asked again, which the command in the hint does.
	at.srv.SetLatency(0)
	at.run(t, "", "revoke", "--cdata", "acme", "--yes").want(t, 0, nil, nil)
	if at.live() != 0 {
		t.Errorf("%d tokens still live after the command in the hint", at.live())
	}
	at.checkNoLeak(t)
}

// TestRevokeGivenInterrupted: Ctrl-C while revoking given tokens exits
// 130 and says how to finish: the same command again, which does not send
// the tokens the ledger has as revoked.
func TestRevokeGivenInterrupted(t *testing.T) {
	at := newAPITest(t)
	var stdin string
	for range 4 {
		stdin += at.issue(t, "acme") + "\n"
	}
	at.srv.SetLatency(300 * time.Millisecond)
	r := at.interruptAfterRevoke(t, stdin, "revoke", "-")
	r.want(t, exitInterrupted, nil, []string{"tokenaudit: interrupted at token ",
		"tokenaudit: hint: to revoke the rest, run the same command again",
		"was under way at Ctrl-C: whether the API acted is unknown until \"tokenaudit reconcile --apply\" records it"})
	// The request under way at Ctrl-C may have been acted on: reconcile
	// says, then the same command finishes.
	at.srv.SetLatency(0)
	at.run(t, "", "reconcile", "--apply").want(t, 0, nil, nil)
	r = at.run(t, stdin, "revoke", "-")
	r.want(t, 0, []string{"already revoked"}, nil)
	if at.live() != 0 {
		t.Errorf("%d tokens live after running the command again", at.live())
	}
	at.checkNoLeak(t)
}

// interruptAfterRevoke starts the binary with args against at, sends it
// SIGINT (Ctrl-C) once the ledger records a revoke and the API is slowly
// answering the next one (set a latency), and returns what it printed and
// its exit status.
func (at *apiTest) interruptAfterRevoke(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, at.env...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	at.waitLedger(t, cmd, "a revoke", func(kinds []string) bool { return slices.Contains(kinds, "revoke") })
	deadline := time.Now().Add(10 * time.Second)
	for deletes := 0; deletes < 2; {
		deletes = 0
		for _, r := range at.srv.Requests() {
			if r.Method == "DELETE" {
				deletes++
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the second revocation never reached the API")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	code := exitStatus(t, cmd.Wait())
	at.stderr = append(at.stderr, errb.String())
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}
