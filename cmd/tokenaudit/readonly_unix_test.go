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

// TestReadOnReadOnlyFolder: the reading commands work for a user who may
// read the ledger but not write its folder (they read through the -wal and
// -shm files the ledger keeps); when those files are missing, they fail with
// what to do instead of SQLite's "attempt to write a readonly database".
func TestReadOnReadOnlyFolder(t *testing.T) {
	at := newAPITest(t)
	dir, err := os.MkdirTemp("", "tokenaudit-rofolder-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700); os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "tokenaudit")
	copyFile(t, binary, bin, 0o755)
	db := filepath.Join(dir, "ledger.db")
	at.db = db
	at.env = append(at.env, "TOKENAUDIT_DB="+db)
	at.issue(t, "acme") // by the ledger's owner, who may write the folder
	at.issue(t, "globex")
	lock := func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Chmod(db+suffix, 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	lock()
	before := sumFile(t, db)
	for _, tc := range []struct {
		args   []string
		stdout []string
	}{
		{[]string{"tokens"}, []string{"acme", "globex", "active"}},
		{[]string{"events", "--format", "jsonl"}, []string{`"kind":"issue_requested"`, `"cdata":"globex"`}},
		{[]string{"report"}, []string{"acme", "globex"}},
		{[]string{"ledger", "verify"}, []string{"intact"}},
		{[]string{"ledger", "info"}, []string{db}},
	} {
		runAsOther(t, bin, dir, at.env, tc.args...).want(t, 0, tc.stdout, nil)
	}
	if sumFile(t, db) != before {
		t.Error("reading changed the ledger")
	}

	// As an older tokenaudit left it: no -wal and -shm files.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil {
			t.Fatal(err)
		}
	}
	lock()
	runAsOther(t, bin, dir, at.env, "report").want(t, 1, nil, []string{
		"tokenaudit: open ledger " + db + ": the ledger cannot be read safely: this process may not create files in " + dir,
		"tokenaudit: hint: run any tokenaudit command on the ledger once as a user who may write its folder",
	})
	at.checkNoLeak(t)
}

// runAsOther runs bin with args and the environment env (NAME=value) as a
// user who may not write dir: as nobody when the tests run as root, whom
// permissions do not bind.
func runAsOther(t *testing.T, bin, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}, env...)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running tokenaudit: %v", err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
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
