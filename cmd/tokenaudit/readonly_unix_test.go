//go:build unix

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestIssueOnReadOnlyLedger: a ledger the process may not write. issue
// prints no token, asks the API for none, and fails. Permissions do not
// bind root, so as root the binary runs as the user nobody.
func TestIssueOnReadOnlyLedger(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")

	// A directory everyone may read, holding the binary and the ledger.
	dir, err := os.MkdirTemp("", "tokenaudit-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "tokenaudit")
	copyFile(t, binary, bin, 0o755)
	db := filepath.Join(dir, "ledger.db")
	copyLedger(t, at.db, db)
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	before := sumFile(t, db)
	requests := len(at.srv.Requests())

	cmd := exec.Command(bin, "issue", "--cdata", "x", "--db", db)
	cmd.Env = append([]string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}, at.env...)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("issue on a read-only ledger: %v\nstdout %q\nstderr %q", err, out.String(), errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("issue on a read-only ledger printed %q", out.String())
	}
	for _, want := range []string{"tokenaudit: open ledger " + db + ": the ledger is read-only", "tokenaudit: hint: nothing was written"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	if len(at.srv.Requests()) != requests || at.live() != 1 {
		t.Errorf("issue asked the API for a token it could not record")
	}
	if sumFile(t, db) != before {
		t.Error("the read-only ledger was changed")
	}
}

// copyFile copies src to dst with the given mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
