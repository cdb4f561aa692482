//go:build unix

package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyProc is the binary running on a pseudo-terminal, as in a user's
// terminal: standard input, output and error are the terminal, and it is
// the terminal's foreground process, so that typing Ctrl-C sends SIGINT.
type ptyProc struct {
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// startPTY starts the binary on a new pseudo-terminal with the extra
// environment variables environ.
func startPTY(t *testing.T, environ []string, args ...string) *ptyProc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "TERM=xterm"}, environ...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyProc{cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return // EIO once the process has ended
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		tty.Close()
	})
	return p
}

// output returns what the terminal has shown so far.
func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the terminal shows s.
func (p *ptyProc) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q:\n%q", s, p.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// typeKeys types keys on the terminal ("\x03" is Ctrl-C).
func (p *ptyProc) typeKeys(t *testing.T, keys string) {
	t.Helper()
	if _, err := io.WriteString(p.tty, keys); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the process to end and returns its exit status and all
// it showed.
func (p *ptyProc) wait(t *testing.T) (int, string) {
	t.Helper()
	timer := time.AfterFunc(20*time.Second, func() { p.cmd.Process.Kill() })
	defer timer.Stop()
	code := exitStatus(t, p.cmd.Wait())
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
	}
	return code, p.output()
}

// TestInspectColoursOnTerminal: on a real terminal the Findings table
// colours the severity, and the colour is not escaped as if it were the
// token's text; the token's own escape codes still are.
func TestInspectColoursOnTerminal(t *testing.T) {
	tok := woleetStyle(`{"sub":"u1","iat":1764320000,"cdata":"evil\u001b[31m"}`)
	p := startPTY(t, nil, "inspect", tok)
	code, out := p.wait(t)
	if code != 0 {
		t.Fatalf("exit %d\n%q", code, out)
	}
	for _, want := range []string{"\x1b[36mlow\x1b[0m", `evil\x1b[31m`, "\x1b[1mFindings\x1b[0m"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, `\x1b[36m`) || strings.Contains(out, "evil\x1b[31m") {
		t.Errorf("a colour was escaped, or the token's escape code was not:\n%q", out)
	}
	// NO_COLOR: no colour at all, and nothing escaped in its place.
	p = startPTY(t, []string{"NO_COLOR=1"}, "inspect", tok)
	if _, out = p.wait(t); strings.Contains(out, "\x1b[") || strings.Contains(out, `\x1b[36m`) || !strings.Contains(out, "│ low ") {
		t.Errorf("NO_COLOR output:\n%q", out)
	}
}

// TestConfirmCtrlC: Ctrl-C typed at the [y/N] question cancels at once,
// without waiting for Enter: nothing is revoked, exit status 130.
func TestConfirmCtrlC(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	at.issue(t, "acme")
	before := eventKinds(t, at.db)
	p := startPTY(t, at.env, "revoke", "--cdata", "acme")
	p.waitFor(t, "Revoke these 2 tokens? [y/N] ")
	p.typeKeys(t, "\x03")
	exited := make(chan struct{})
	timer := time.AfterFunc(3*time.Second, func() {
		select {
		case <-exited:
		default:
			io.WriteString(p.tty, "\n") // the old behaviour: only Enter ended the wait
		}
	})
	defer timer.Stop()
	code, out := p.wait(t)
	close(exited)
	at.stderr = append(at.stderr, out)
	if code != exitInterrupted || !strings.Contains(out, "tokenaudit: interrupted: nothing was revoked") {
		t.Errorf("exit %d, want %d; the terminal showed:\n%q", code, exitInterrupted, out)
	}
	if at.live() != 2 {
		t.Errorf("%d tokens live after Ctrl-C at the question, want 2", at.live())
	}
	wantEqual(t, "events", eventKinds(t, at.db), before)
	at.checkNoLeak(t)
}
