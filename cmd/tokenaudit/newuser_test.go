package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/audit"
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

func TestJSONTimestampsKeepSixDigits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	fpA, fpB := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	// Times whose fractions end in zeros, where encoding/json's form of a
	// time.Time is shorter: "05Z" and "05.1Z" sort after "05.123456Z".
	stamps := []string{"2026-01-02T03:04:05.000000Z", "2026-01-02T03:04:05.100000Z",
		"2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:05.200000Z"}
	i := 0
	l, err := audit.Open(path, audit.WithNow(func() time.Time {
		ts, err := time.Parse(time.RFC3339Nano, stamps[min(i, len(stamps)-1)])
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []audit.Event{
		{Kind: audit.KindImport, Fingerprint: fpA, CData: "a-co"},
		{Kind: audit.KindImport, Fingerprint: fpB, CData: "b-co"},
		{Kind: audit.KindRevoke, Fingerprint: fpB, CData: "b-co"},
		{Kind: audit.KindRevokeFailed, Fingerprint: fpA, CData: "a-co", HTTPStatus: 503, Error: "server error"},
	} {
		if _, err := l.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		i++
	}
	l.Close()
	env := []string{"TOKENAUDIT_DB=" + path}
	run := func(args ...string) string {
		t.Helper()
		r := cli(t, "", env, args...)
		r.want(t, 0, nil, nil)
		return r.stdout
	}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

	type event struct {
		Seq int    `json:"seq"`
		TS  string `json:"ts"`
	}
	var viaJSONL []event
	for _, line := range strings.Split(strings.TrimSpace(run("events", "--format", "jsonl")), "\n") {
		viaJSONL = append(viaJSONL, decodeJSON[event](t, line))
	}
	viaJSON := decodeJSON[[]event](t, run("events", "--format", "json"))
	for _, got := range [][]event{viaJSON, viaJSONL} {
		if len(got) != len(stamps) {
			t.Fatalf("events: %v", got)
		}
		for i, e := range got {
			if e.TS != stamps[i] {
				t.Errorf("event %d: ts %q, want %q", e.Seq, e.TS, stamps[i])
			}
		}
	}

	tokens := decodeJSON[[]map[string]any](t, run("tokens", "--format", "json"))
	if len(tokens) != 2 || tokens[0]["issued_at"] != stamps[0] || tokens[1]["issued_at"] != stamps[1] ||
		tokens[1]["revoked_at"] != stamps[2] || tokens[0]["revoked_at"] != nil {
		t.Errorf("tokens --format json: %v", tokens)
	}

	rep := decodeJSON[struct {
		Ledger      string `json:"ledger"`
		GeneratedAt string `json:"generated_at"`
		OldestLive  []struct {
			IssuedAt   string `json:"issued_at"`
			AgeSeconds *int64 `json:"age_seconds"`
		} `json:"oldest_live"`
		RecentFailures []event `json:"recent_failures"`
	}](t, run("report", "--format", "json"))
	if rep.Ledger != path || !stamp.MatchString(rep.GeneratedAt) ||
		len(rep.OldestLive) != 1 || rep.OldestLive[0].IssuedAt != stamps[0] || rep.OldestLive[0].AgeSeconds == nil ||
		len(rep.RecentFailures) != 1 || rep.RecentFailures[0].TS != stamps[3] {
		t.Errorf("report --format json: %+v", rep)
	}

	info := decodeJSON[map[string]any](t, run("ledger", "info", "--format", "json"))
	if s, _ := info["created_at"].(string); !stamp.MatchString(s) {
		t.Errorf("ledger info --format json: created_at %q", s)
	}
}
