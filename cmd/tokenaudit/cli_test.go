package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the tokenaudit binary built once for all tests, so that every
// test runs the tool the way a user does.
var binary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tokenaudit-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "tokenaudit")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tokenaudit:", err)
		return 1
	}
	return m.Run()
}

// result is what one run of the binary produced.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with args, stdin and extra environment variables
// (NAME=value), in a clean environment, and returns what it printed and its
// exit status.
func cli(t *testing.T, stdin string, environ []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{
		"HOME=" + t.TempDir(),
		"PATH=" + os.Getenv("PATH"),
		"XDG_DATA_HOME=" + t.TempDir(),
	}, environ...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := exitStatus(t, cmd.Run())
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// exitStatus returns the exit status of a process that ended with err (a
// Run's or a Wait's), and fails the test when it did not run or did not
// exit (a signal killed it).
func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case !errors.As(err, &exit):
		t.Fatalf("running tokenaudit: %v", err)
	case exit.ExitCode() < 0:
		t.Fatalf("tokenaudit did not exit: %v", err)
	}
	return exit.ExitCode()
}

// want fails the test unless r has the exit code and its streams contain the
// given texts.
func (r result) want(t *testing.T, code int, stdoutHas, stderrHas []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdoutHas {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	cli(t, "", nil, "version").want(t, 0, []string{"tokenaudit devel\n"}, nil)
	r := cli(t, "", nil, "--help")
	r.want(t, 0, []string{"Exit status: 0 success", "5 ledger integrity failure", "WOLEET_API_URL"}, nil)
	if r.stderr != "" {
		t.Errorf("help wrote to stderr: %q", r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	r := cli(t, "", nil, "bogus")
	r.want(t, 1, nil, []string{`tokenaudit: unknown command "bogus" for "tokenaudit"`})
	if r.stdout != "" {
		t.Errorf("usage error wrote to stdout: %q", r.stdout)
	}
	cli(t, "", nil, "--format", "yaml", "version").want(t, 1, nil,
		[]string{`tokenaudit: unknown format "yaml" (want one of table, json, jsonl, csv, markdown, html)`})
	cli(t, "", []string{"TOKENAUDIT_FORMAT=xml"}, "version").want(t, 1, nil,
		[]string{`tokenaudit: TOKENAUDIT_FORMAT: unknown format "xml"`})
	cli(t, "", nil, "version", "extra").want(t, 1, nil,
		[]string{`tokenaudit version takes no arguments, got "extra"`})
	cli(t, "", nil, "version", "--nope").want(t, 1, nil,
		[]string{"unknown flag: --nope", `hint: run "tokenaudit version --help" for usage`})
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := cli(t, "", nil, "completion", shell)
		r.want(t, 0, []string{"tokenaudit"}, nil)
		if len(r.stdout) < 500 {
			t.Errorf("%s completion script is suspiciously short: %d bytes", shell, len(r.stdout))
		}
	}
}

// TestRepeatedFlagRefused: a single-value flag given twice is a usage
// error for every command, not a silent choice of the last.
func TestRepeatedFlagRefused(t *testing.T) {
	for _, args := range [][]string{
		{"issue", "--cdata", "a", "--cdata", "b"},
		{"issue", "--cdata=a", "--count", "1", "--cdata", "b"},
		{"revoke", "--cdata", "a", "--cdata", "b", "--dry-run"},
		{"revoke", "--fingerprint", "0123456789ab", "--fingerprint=fedcba987654", "--dry-run"},
		{"revoke", "-y", "--yes", "--cdata", "a"},
		{"events", "--db", "a.db", "--db", "b.db"},
		{"--format", "json", "version", "--format", "csv"},
		{"ledger", "verify", "--db", "a.db", "--db", "b.db"},
	} {
		r := cli(t, "", nil, args...)
		r.want(t, exitError, nil, []string{"is already given", "give it once", "tokenaudit: hint: run "})
		if r.stdout != "" {
			t.Errorf("%v printed %q", args, r.stdout)
		}
	}
	r := cli(t, "", nil, "issue", "--cdata", "a", "--cdata", "b")
	r.want(t, exitError, nil, []string{`--cdata is already given as "a": give it once`})
}
