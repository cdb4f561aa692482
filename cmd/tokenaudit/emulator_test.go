package main

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/woleet"
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
