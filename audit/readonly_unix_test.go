//go:build unix

package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envReader, set only in reader helper processes, is the path of the ledger
// TestReaderProcess reads.
const envReader = "TOKENAUDIT_AUDIT_READER"

// readResult is what a reader helper process found.
type readResult struct {
	Count      int64  `json:"count"`
	Verified   int64  `json:"verified"`
	Err        string `json:"err,omitempty"`
	Unreadable bool   `json:"unreadable,omitempty"`
}

// TestReaderProcess is not a test: it is the body of the child processes
// readAs starts. It opens the ledger read-only, counts and verifies it, and
// prints a readResult as JSON.
func TestReaderProcess(t *testing.T) {
	path := os.Getenv(envReader)
	if path == "" {
		return
	}
	var res readResult
	err := func() error {
		l, err := Open(path, WithReadOnly())
		if err != nil {
			return err
		}
		defer l.Close()
		ctx := context.Background()
		if res.Count, err = l.Count(ctx); err != nil {
			return err
		}
		rep, err := l.Verify(ctx)
		if err != nil {
			return err
		}
		res.Verified = rep.Verified
		return nil
	}()
	if err != nil {
		res.Err, res.Unreadable = err.Error(), errors.Is(err, ErrLedgerUnreadable)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		t.Fatal(err)
	}
}

// readAs reads the ledger at path in a child process that may not write its
// folder (dir, made read-only by the caller): as the user nobody when the
// tests run as root (permissions do not bind root), else as this user.
func readAs(t *testing.T, path string) readResult {
	t.Helper()
	bin := os.Args[0]
	cmd := exec.Command(bin, "-test.run=^TestReaderProcess$", "-test.count=1")
	if os.Geteuid() == 0 {
		// nobody must be able to run the test binary.
		binDir, err := os.MkdirTemp("", "tokenaudit-reader-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(binDir) })
		bin = filepath.Join(binDir, "audit.test")
		copyFileMode(t, os.Args[0], bin, 0o755)
		if err := os.Chmod(binDir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(bin, "-test.run=^TestReaderProcess$", "-test.count=1")
		cmd.Dir = binDir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	cmd.Env = append(os.Environ(), envReader+"="+path, envHelper+"=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reader process: %v\n%s", err, stderr.String())
	}
	var res readResult // the first line; the testing package's verdict follows
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&res); err != nil {
		t.Fatalf("reader process printed %q: %v\n%s", out, err, stderr.String())
	}
	return res
}

// readOnlyFolder returns a new folder everyone may enter, for a ledger
// named ledger.db; lock makes it and the ledger's files read-only for
// everyone (but root), unlock undoes that.
func readOnlyFolder(t *testing.T) (path string, lock, unlock func()) {
	t.Helper()
	dir, err := os.MkdirTemp("", "tokenaudit-rofolder-")
	if err != nil {
		t.Fatal(err)
	}
	unlock = func() {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(dir) })
	unlock()
	path = filepath.Join(dir, "ledger.db")
	lock = func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Chmod(path+suffix, 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	return path, lock, unlock
}

// TestReadOnlyFolder: a process that may read the ledger but not write its
// folder reads it, through the -wal and -shm files the ledger keeps, with a
// writer open or not, and after a writer was killed with events left in the
// WAL. Without those files it gets ErrLedgerUnreadable, not a wrong answer.
func TestReadOnlyFolder(t *testing.T) {
	path, lock, unlock := readOnlyFolder(t)
	ctx := context.Background()
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		mustAppend(t, w, Event{Kind: KindImport, Fingerprint: fp(i), CData: "acme"})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); err != nil {
			t.Fatalf("the ledger did not keep its %s file: %v", suffix, err)
		}
	}
	lock()
	before := fileSum(t, path)

	t.Run("closed", func(t *testing.T) {
		if res := readAs(t, path); res.Err != "" || res.Count != 30 || res.Verified != 30 {
			t.Errorf("read = %+v, want 30 events, verified", res)
		}
		if fileSum(t, path) != before {
			t.Error("reading changed the ledger file")
		}
	})

	t.Run("writer open", func(t *testing.T) {
		// The writer may still write: the files it needs exist. The events
		// it appends stay in the WAL (far from a checkpoint).
		w := openAt(t, path)
		for i := 30; i < 40; i++ {
			mustAppend(t, w, Event{Kind: KindImport, Fingerprint: fp(i), CData: "acme"})
		}
		if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
			t.Fatalf("the WAL holds no events: %v, %v", fi, err)
		}
		if res := readAs(t, path); res.Err != "" || res.Count != 40 || res.Verified != 40 {
			t.Errorf("read = %+v, want 40 events, verified", res)
		}
	})

	t.Run("writer killed", func(t *testing.T) {
		h := startHelper(t, path, "killed", 0)
		select {
		case <-h.first:
		case <-time.After(30 * time.Second):
			t.Fatalf("the writer acknowledged nothing: %s", h.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
		if err := h.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		acks := h.wait(t, false)
		if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
			t.Fatalf("the WAL holds no events: %v, %v", fi, err)
		}
		res := readAs(t, path)
		if res.Err != "" || res.Count < 40+int64(len(acks)) || res.Verified != res.Count {
			t.Errorf("read = %+v, want at least %d events, all verified", res, 40+len(acks))
		}
	})

	t.Run("shm unreadable", func(t *testing.T) {
		if err := os.Chmod(path+"-shm", 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(path+"-shm", 0o644)
		res := readAs(t, path)
		if !res.Unreadable || !strings.Contains(res.Err, "may not read ledger.db-shm") {
			t.Errorf("read = %+v, want ErrLedgerUnreadable naming the -shm file", res)
		}
	})

	t.Run("no wal and shm", func(t *testing.T) {
		// As an older tokenaudit left a ledger: checkpointed, without its
		// -wal and -shm files. Another process may start writing it at any
		// time (its owner may write the folder), so it cannot be read as
		// immutable.
		unlock()
		w, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			if err := os.Remove(path + suffix); err != nil {
				t.Fatal(err)
			}
		}
		lock()
		res := readAs(t, path)
		if !res.Unreadable || !strings.Contains(res.Err, "-wal and -shm files") {
			t.Errorf("read = %+v, want ErrLedgerUnreadable naming the -wal and -shm files", res)
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			if _, err := os.Stat(path + suffix); err == nil {
				t.Errorf("the reader created %s", suffix)
			}
		}
	})
}

// fileSum returns the contents of path, to compare before and after.
func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUnwritableFolderDecision: when SQLite cannot read a ledger whose
// folder this process may not write, it is read as immutable only on a
// read-only file system and only when no -wal file holds events; the
// failure is left alone when the folder is writable.
func TestUnwritableFolderDecision(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	w := openAt(t, path)
	for i := range 5 {
		mustAppend(t, w, Event{Kind: KindImport, Fingerprint: fp(i), CData: "acme"})
	}
	sqliteErr := errors.New("attempt to write a readonly database")
	access := func(writable, readOnlyFS bool) func(string) (bool, bool) {
		return func(d string) (bool, bool) {
			if filepath.Clean(d) != dir {
				t.Errorf("asked about %s, want %s", d, dir)
			}
			return writable, readOnlyFS
		}
	}
	for _, tc := range []struct {
		name                 string
		writable, readOnlyFS bool
		walData              bool
		immutable            bool
		err                  error
	}{
		{name: "writable folder", writable: true, err: sqliteErr},
		{name: "read-only file system", readOnlyFS: true, immutable: true},
		{name: "read-only file system, events in the WAL", readOnlyFS: true, walData: true, err: ErrLedgerUnreadable},
		{name: "folder of another user", err: ErrLedgerUnreadable},
		{name: "folder of another user, events in the WAL", walData: true, err: ErrLedgerUnreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.walData {
				mustAppend(t, w, Event{Kind: KindImport, Fingerprint: fp(99), CData: "acme"})
			} else if _, err := w.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path + "-wal")
			if err != nil || (fi.Size() > 0) != tc.walData {
				t.Fatalf("the WAL: %v, %v; want events in it: %v", fi, err, tc.walData)
			}
			immutable, err := unwritableFolder(path, sqliteErr, access(tc.writable, tc.readOnlyFS))
			if immutable != tc.immutable || !errors.Is(err, tc.err) {
				t.Fatalf("unwritableFolder = %v, %v; want %v, %v", immutable, err, tc.immutable, tc.err)
			}
		})
	}
	// What the immutable decision leads to: the ledger read from the file
	// alone, all of it (the WAL was checkpointed and is empty).
	if _, err := w.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	want, err := w.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	db, err := openPool(context.Background(), path, 1, map[string][]string{"mode": {"ro"}, "immutable": {"1"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got int64
	if err := db.QueryRow(sizeQuery).Scan(&got); err != nil || got != want {
		t.Errorf("immutable read: %d events, %v; want %d", got, err, want)
	}
}
