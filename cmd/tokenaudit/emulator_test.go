package main

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

func TestEmulatorAnswersARealClient(t *testing.T) {
	cmd := exec.Command(binary, "emulator", "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	vars := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for len(vars) < 3 && sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok && !strings.HasPrefix(k, "#") {
			vars[k] = v
		}
	}
	if !strings.HasPrefix(vars["WOLEET_API_URL"], "http://127.0.0.1:") || vars["WOLEET_USERNAME"] == "" || vars["WOLEET_PASSWORD"] == "" {
		t.Fatalf("export lines: %v", vars)
	}
	c, err := woleet.NewClient(woleet.WithBaseURL(vars["WOLEET_API_URL"]), woleet.WithBasicAuth(vars["WOLEET_USERNAME"], vars["WOLEET_PASSWORD"]))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := c.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: "emulated"})
	if err != nil {
		t.Fatalf("GenerateToken against the emulator: %v", err)
	}
	live, err := c.ListTokens(ctx)
	if err != nil || len(live) != 1 || live[0] != tok.Token {
		t.Fatalf("ListTokens = %d tokens, %v", len(live), err)
	}
	if err := c.RevokeToken(ctx, tok.Token); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("emulator did not stop cleanly on SIGINT: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), tok.Token) {
		t.Errorf("the emulator logged a raw token")
	}
	if !strings.Contains(stderr.String(), "/v1/token") {
		t.Errorf("the emulator did not log requests:\n%s", stderr.String())
	}
}

func TestEmulatorRefusesNonLoopback(t *testing.T) {
	cli(t, "", nil, "emulator", "--listen", "0.0.0.0:0").want(t, 1, nil,
		[]string{"not a loopback address", "hint: add --allow-remote"})
	cli(t, "", nil, "emulator", "--listen", "nonsense").want(t, 1, nil, []string{`--listen "nonsense"`})
}

// startEmulator runs "tokenaudit emulator" with args on a free loopback
// port until the test ends and returns its API URL.
func startEmulator(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "export WOLEET_API_URL="); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return strings.Trim(u, "'")
		}
	}
	t.Fatal("the emulator printed no WOLEET_API_URL")
	return ""
}

// TestEmulatorFaults: the emulator's fault flags and control endpoint, as
// a trial uses them: tokenaudit against a failing API records what it
// could not know, and the control endpoint queues a fault at a chosen
// moment.
func TestEmulatorFaults(t *testing.T) {
	url := startEmulator(t, "--fail-rate", "1", "--fail-status", "502")
	c, err := woleet.NewClient(woleet.WithBaseURL(url), woleet.WithBasicAuth(woleettest.DefaultEmail, woleettest.DefaultPassword),
		woleet.WithRetry(woleet.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.ListTokens(ctx); !errors.Is(err, woleet.ErrServerError) || !strings.Contains(err.Error(), "502") {
		t.Errorf("ListTokens against --fail-rate 1 = %v, want a 502", err)
	}

	url = startEmulator(t)
	env := []string{"WOLEET_API_URL=" + url, "WOLEET_USERNAME=" + woleettest.DefaultEmail,
		"WOLEET_PASSWORD=" + woleettest.DefaultPassword, "TOKENAUDIT_DB=" + filepath.Join(t.TempDir(), "l.db")}
	control := strings.TrimSuffix(url, woleettest.PathPrefix) + woleettest.ControlPath
	resp, err := http.Post(control+"?fault=drop", "", nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("queue a drop: %v %v", resp, err)
	}
	resp.Body.Close()
	// The token is issued and its answer lost: outcome unknown, exit 6;
	// reconcile then finds it and settles the request.
	cli(t, "", env, "issue", "--cdata", "lost").want(t, 6, nil, []string{"outcome unknown"})
	cli(t, "", env, "reconcile", "--apply", "--in-flight", "0").want(t, 0, []string{"not in ledger"}, nil)
	cli(t, "", env, "report").want(t, 0, []string{"Requests with no known outcome\n(none)"}, nil)

	// PUT /user/tokens drops tokens outside tokenaudit; reconcile sees it.
	req, _ := http.NewRequest(http.MethodPut, url+"/user/tokens", strings.NewReader(`{"tokens": []}`))
	req.SetBasicAuth(woleettest.DefaultEmail, woleettest.DefaultPassword)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT /user/tokens: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cli(t, "", env, "reconcile", "--apply").want(t, 0, []string{"revoked elsewhere"}, nil)
	cli(t, "", nil, "emulator", "--fail-rate", "2").want(t, 1, nil, []string{"--fail-rate and --drop-rate are shares"})
}
