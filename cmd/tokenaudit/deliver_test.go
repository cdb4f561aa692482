package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// runStdout runs the binary against at with standard output given by the
// shell redirection redir ("> /dev/full", ">&-", "| head -c 10"): a real
// file descriptor, as a user's shell sets it up. It returns tokenaudit's
// stderr and exit status (the first command's of a pipeline).
func (at *apiTest) runStdout(t *testing.T, redir string, args ...string) result {
	t.Helper()
	script := `"$0" "$@" 2>"$ERR_FILE" ` + redir + `; exit "${PIPESTATUS[0]}"`
	errFile := t.TempDir() + "/stderr"
	cmd := exec.Command("bash", append([]string{"-c", script, binary}, args...)...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "ERR_FILE=" + errFile}, at.env...)
	code := exitStatus(t, cmd.Run())
	stderr, _ := os.ReadFile(errFile)
	at.stderr = append(at.stderr, string(stderr))
	return result{stderr: string(stderr), code: code}
}

// TestIssueUndelivered: a token that standard output does not take (a
// pipe closed before reading it, a full disk, a closed standard output)
// is revoked again and recorded so, the rest of --count is not issued, and
// the command says so. Nothing is left live that nobody holds.
func TestIssueUndelivered(t *testing.T) {
	for _, tc := range []struct {
		name, redir string
		code        int
		stderr      []string
		kinds       []string
	}{
		{"pipe closed early", "| head -c 10", exitError,
			[]string{"token 1 of 3 (sha256:", "the reader closed the pipe with ", "broken pipe", "it was revoked again (ledger seq 2); the other 2 tokens were not issued"},
			[]string{"issue_requested", "issue", "revoke"}},
		{"disk full", "> /dev/full", exitError,
			[]string{"token 1 of 3 (sha256:", "no space left on device", "it was revoked again (ledger seq 2); the other 2 tokens were not issued"},
			[]string{"issue_requested", "issue", "revoke"}},
		// The Go runtime puts /dev/null on a closed descriptor: nothing is
		// issued at all.
		{"stdout closed", ">&-", exitError,
			[]string{"standard output is closed or /dev/null: an issued token would reach nobody: nothing was issued"}, nil},
		{"stdout /dev/null", "> /dev/null", exitError,
			[]string{"standard output is closed or /dev/null"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := newAPITest(t)
			r := at.runStdout(t, tc.redir, "issue", "--cdata", "pipe", "--count", "3")
			r.want(t, tc.code, nil, tc.stderr)
			if strings.Contains(r.stderr, "tokenaudit: issued") {
				t.Errorf("stderr claims a token was handed out:\n%s", r.stderr)
			}
			for _, tok := range at.srv.Tokens() {
				at.tokens = append(at.tokens, tok.Token)
				if !tok.Revoked {
					t.Errorf("token %s for cdata %q is live on the API", short(tok.Token), tok.CData)
				}
			}
			if tc.kinds == nil {
				if len(at.srv.Requests()) != 0 {
					t.Errorf("the API was asked %d times", len(at.srv.Requests()))
				}
				return
			}
			wantEqual(t, "events", eventKinds(t, at.db), tc.kinds)
			wantEqual(t, "tokens view", queryRows(t, openSQL(t, at.db), "SELECT state FROM tokens"), []string{"revoked"})
			at.checkNoLeak(t)
		})
	}
}

// TestIssuePipeRead: a reader that reads every token gets all of them,
// and they stay live.
func TestIssuePipeRead(t *testing.T) {
	at := newAPITest(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "issue", "--cdata", "pipe", "--count", "3")
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, at.env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	at.stderr = append(at.stderr, errb.String())
	lines := strings.Fields(string(out))
	at.tokens = append(at.tokens, lines...)
	wantEqual(t, "printed tokens", lines, at.srv.LiveTokens(woleettest.DefaultEmail))
	at.checkNoLeak(t)
}

// TestIssueUndeliveredUnrecorded: the token's write fails and the ledger
// cannot record its revocation (another writer holds the ledger): the API
// has revoked it, the command says that the ledger does not know, and the
// exit status is 5.
func TestIssueUndeliveredUnrecorded(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "warm-up") // creates the ledger
	at.srv.SetLatency(600 * time.Millisecond)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	cmd := exec.Command(binary, "issue", "--cdata", "acme", "--lock-timeout", "300ms")
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, at.env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = full, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Once the issue is recorded (and the API is slowly revoking the
	// token), take the write lock until the command ends.
	at.waitLedger(t, cmd, "the issue", func(kinds []string) bool { return len(kinds) >= 4 })
	release := holdWriteLock(t, at.db)
	code := exitStatus(t, cmd.Wait())
	release()
	at.stderr = append(at.stderr, errb.String())
	r := result{stderr: errb.String(), code: code}
	r.want(t, exitIntegrity, nil, []string{"was issued, but writing it to standard output failed (write /dev/stdout: no space left on device)",
		"the API revoked it again, but the ledger could not record that",
		`tokenaudit: hint: run "tokenaudit reconcile --apply" once the ledger works: it records the revocation`})
	toks := at.srv.Tokens()
	last := toks[len(toks)-1]
	at.tokens = append(at.tokens, last.Token)
	if last.CData != "acme" || !last.Revoked {
		t.Errorf("the API's last token: cdata %q, revoked %v; want acme, revoked", last.CData, last.Revoked)
	}
	wantEqual(t, "events", eventKinds(t, at.db), []string{"issue_requested", "issue", "issue_requested", "issue"})
	at.checkNoLeak(t)
}
