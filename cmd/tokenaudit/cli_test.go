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
