package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// copyBinary copies the test binary to dir/name and returns its path.
func copyBinary(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tokenaudit")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDemoClosingHintRuns runs the commands the demo ends with, as printed:
// they name the binary the way the user can run it again, and sqlite3
// reads the ledger without deleting its -wal and -shm files.
func TestDemoClosingHintRuns(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct {
		name      string
		dir       string // where the binary is
		onPath    bool
		wantSelf  string // "" for the binary's path
		wantBuild bool
	}{
		{"on PATH", "bin", true, "tokenaudit", false},
		{"in the current directory", "work", false, "./tokenaudit", false},
		{"elsewhere", "opt", false, "", false},
		{"built by go run", "go-build1234/b001/exe", false, "./tokenaudit", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			exe := copyBinary(t, filepath.Join(root, c.dir))
			work := filepath.Join(root, "work")
			os.MkdirAll(work, 0o755)
			db := filepath.Join(t.TempDir(), "demo.db")
			path := os.Getenv("PATH")
			if c.onPath {
				path = filepath.Dir(exe) + string(os.PathListSeparator) + path
			}
			cmd := exec.Command(exe, "demo", "--db", db)
			cmd.Dir = work
			cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + path}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("demo: %v\n%s", err, out)
			}
			_, hint, _ := strings.Cut(string(out), "Query the ledger it wrote:\n")
			self := c.wantSelf
			if self == "" {
				self = exe
			}
			for _, want := range []string{
				"  sqlite3 'file:" + db + `?mode=ro' "SELECT fingerprint, cdata, state, issued_at FROM tokens"` + "\n",
				"\n  " + self + " events --db " + db + "\n",
				"\n  " + self + " ledger verify --db " + db + "\n",
			} {
				if !strings.Contains(hint, want) {
					t.Errorf("the closing hint lacks %q:\n%s", want, hint)
				}
			}
			if got := strings.Contains(hint, "\n  go build -o tokenaudit ./cmd/tokenaudit"); got != c.wantBuild {
				t.Errorf("the closing hint says how to build tokenaudit: %v, want %v:\n%s", got, c.wantBuild, hint)
			}
			if c.wantBuild {
				return // the binary named is the one the user builds
			}
			// Run every printed tokenaudit command, as printed, in the directory the demo ran in.
			for _, line := range regexp.MustCompile(`(?m)^  (\S*tokenaudit .*)$`).FindAllStringSubmatch(hint, -1) {
				sh := exec.Command("sh", "-c", line[1])
				sh.Dir, sh.Env = work, cmd.Env
				if out, err := sh.CombinedOutput(); err != nil {
					t.Errorf("%s: %v\n%s", line[1], err, out)
				}
			}
		})
	}
}

// TestDemoSQLiteHintKeepsTheWAL runs the sqlite3 command the demo prints, as
// the ledger's owner, and checks that the -wal and -shm files the ledger
// keeps for read-only users are still there.
func TestDemoSQLiteHintKeepsTheWAL(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("no sqlite3 shell")
	}
	db := filepath.Join(t.TempDir(), "demo.db")
	r := cli(t, "", nil, "demo", "--db", db)
	r.want(t, 0, nil, nil)
	line := regexp.MustCompile(`(?m)^  (sqlite3 .*)$`).FindStringSubmatch(r.stdout)
	if line == nil {
		t.Fatalf("no sqlite3 command in:\n%s", r.stdout)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(db + suffix); err != nil {
			t.Fatalf("before sqlite3: %v", err)
		}
	}
	out, err := exec.Command("sh", "-c", line[1]).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("|shadow-ci|active|")) {
		t.Fatalf("%s: %v\n%s", line[1], err, out)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(db + suffix); err != nil {
			t.Errorf("after %s: %v", line[1], err)
		}
	}
}
