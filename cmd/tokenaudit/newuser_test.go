package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests cover what a new user of tokenaudit met with a wrong answer
// (issue 12): each runs the built binary.

func TestLedgerPathIsADirectory(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		environ []string
		args    []string
		where   string
	}{
		{"tokens --db", nil, []string{"tokens", "--db", dir}, "--db " + dir},
		{"ledger verify --db", nil, []string{"ledger", "verify", "--db", dir}, "--db " + dir},
		{"import --db", nil, []string{"import", "--db", dir, "-"}, "--db " + dir},
		{"demo --db", nil, []string{"demo", "--db", dir}, "--db " + dir},
		{"TOKENAUDIT_DB", []string{"TOKENAUDIT_DB=" + dir}, []string{"events"}, "TOKENAUDIT_DB " + dir},
		{"issue", []string{"TOKENAUDIT_DB=" + dir, "WOLEET_API_TOKEN=t", "WOLEET_API_URL=http://127.0.0.1:1/v1"},
			[]string{"issue", "--cdata", "x"}, "TOKENAUDIT_DB " + dir},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := cli(t, "", c.environ, c.args...)
			r.want(t, exitError, nil, []string{
				"tokenaudit: " + c.where + " is a directory, not a ledger file\n",
				"hint: name the ledger file itself, such as " + filepath.Join(dir, "ledger.db"),
			})
			if strings.Contains(r.stderr, "backup") || strings.Contains(r.stderr, "damaged") {
				t.Errorf("a directory is called a damaged ledger:\n%s", r.stderr)
			}
		})
	}
}

// noCgoSentence is what a build without cgo says.
const noCgoSentence = "tokenaudit needs cgo and a C compiler for SQLite: install gcc"

func TestBuildWithoutCgoSaysWhy(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"CGO_ENABLED=0", []string{"CGO_ENABLED=0"}},
		// With CGO_ENABLED unset and no C compiler on PATH, the go command
		// turns cgo off by itself: what a user without gcc meets.
		{"no gcc on PATH", []string{"CGO_ENABLED=", "CC=", "PATH=" + filepath.Dir(goBin)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(goBin, "build", "-o", filepath.Join(t.TempDir(), "tokenaudit"), ".")
			cmd.Env = append(os.Environ(), c.env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the build succeeded without cgo:\n%s", out)
			}
			text := strings.TrimSpace(string(out))
			if !strings.Contains(text, noCgoSentence) {
				t.Errorf("the build's error does not say %q:\n%s", noCgoSentence, text)
			}
			if strings.Contains(text, "undefined") || strings.Count(text, "\n") > 0 {
				t.Errorf("the build fails with more than the one line that says why:\n%s", text)
			}
		})
	}
}
