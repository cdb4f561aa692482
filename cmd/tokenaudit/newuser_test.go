package main

import (
	"bytes"
	"context"
	"encoding/base64"
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
		tokens[0]["first_seen_at"] != stamps[0] || tokens[1]["first_seen_at"] != stamps[1] ||
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

// commandPaths lists every command the binary's help lists, "ledger
// verify" and the other ledger subcommands included.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	listed := func(args ...string) []string {
		out := cli(t, "", nil, append(args, "--help")...).stdout
		_, list, _ := strings.Cut(out, "Available Commands:\n")
		list, _, _ = strings.Cut(list, "\n\n")
		var names []string
		for _, line := range strings.Split(list, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] != "help" && f[0] != "completion" {
				names = append(names, f[0])
			}
		}
		return names
	}
	var paths [][]string
	for _, name := range listed() {
		paths = append(paths, []string{name})
		if name == "ledger" {
			for _, sub := range listed("ledger") {
				paths = append(paths, []string{"ledger", sub})
			}
		}
	}
	if len(paths) < 15 {
		t.Fatalf("the help lists only %v", paths)
	}
	return paths
}

func TestHelpNamesOnlyItsOwnFlags(t *testing.T) {
	flagRef := regexp.MustCompile(`--[a-z][a-z-]*`)
	quoted := regexp.MustCompile(`"[^"]*"`) // another command line: "tokenaudit ledger verify --checkpoint FILE"
	for _, path := range commandPaths(t) {
		out := cli(t, "", nil, append(path, "--help")...).stdout
		desc, flags, ok := strings.Cut(out, "\nUsage:")
		if !ok {
			t.Errorf("%s --help has no Usage:\n%s", path, out)
			continue
		}
		for _, f := range flagRef.FindAllString(quoted.ReplaceAllString(desc, ""), -1) {
			if !regexp.MustCompile(regexp.QuoteMeta(f) + `[ =\n]`).MatchString(flags) {
				t.Errorf("%s --help mentions %s, which it does not have", strings.Join(path, " "), f)
			}
		}
	}
}

func TestHelpTopics(t *testing.T) {
	// The commands that take tokens point to the topic, in one line,
	// instead of each repeating it.
	for _, name := range []string{"inspect", "cdata", "fingerprint", "verify", "revoke", "import"} {
		r := cli(t, "", nil, name, "--help")
		r.want(t, 0, []string{`See "tokenaudit help tokens".`}, nil)
		if strings.Contains(r.stdout, "Authorization: Bearer") || strings.Contains(r.stdout, "error record") {
			t.Errorf("%s --help repeats the topic on tokens:\n%s", name, r.stdout)
		}
	}
	topics := map[string][]string{
		"tokens": {`"-" for standard input, or @FILE`, `"Authorization: Bearer "`, "error record", "ps",
			`"tokenaudit tokens --help"`},
		"environment": {"WOLEET_API_URL", "WOLEET_API_TOKEN", "WOLEET_USERNAME", "WOLEET_PASSWORD", "TOKENAUDIT_DB",
			"TOKENAUDIT_FORMAT", "TOKENAUDIT_CHECKPOINT_KEY", "TOKENAUDIT_CHECKPOINT_EVERY",
			"TOKENAUDIT_CHECKPOINT_VERIFIER", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "NO_COLOR"},
		"exit-codes": {"\n  0  success", "\n  1  usage or I/O error", "\n  2  malformed token", "\n  3  signature not valid",
			"\n  4  token not valid at this time", "\n  5  ledger integrity failure", "\n  6  API error"},
	}
	for topic, has := range topics {
		r := cli(t, "", nil, "help", topic)
		r.want(t, 0, has, nil)
		if r.stderr != "" {
			t.Errorf("help %s wrote to stderr: %q", topic, r.stderr)
		}
	}
	cli(t, "", nil, "--help").want(t, 0, []string{`"tokenaudit help tokens"`, `"tokenaudit help environment"`,
		`"tokenaudit help exit-codes"`}, nil)
	cli(t, "", nil, "help").want(t, 0, []string{"Available Commands:"}, nil)
	cli(t, "", nil, "help", "help").want(t, 0, []string{"\n  tokens ", "\n  environment ", "\n  exit-codes "}, nil)
	cli(t, "", nil, "help", "issue").want(t, 0, []string{"Usage:\n  tokenaudit issue"}, nil)
	cli(t, "", nil, "help", "ledger", "verify").want(t, 0, []string{"Usage:\n  tokenaudit ledger verify"}, nil)
	cli(t, "", nil, "help", "nope").want(t, 1, nil, []string{`tokenaudit: unknown help topic "nope"`})
	r := cli(t, "", nil, "__complete", "help", "")
	r.want(t, 0, []string{"exit-codes\t", "environment\t", "tokens\t", "issue\t"}, nil)
}

// bigToken returns an HS256 token whose claims hold a value of n bytes.
func bigToken(n int) string {
	enc := base64.RawURLEncoding
	claims := `{"cdata":"big-co","iat":1700000000,"note":"` + strings.Repeat("x", n) + `","sub":"s"}`
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims)) + "." +
		enc.EncodeToString(bytes.Repeat([]byte{1}, 32))
}

func TestInspectBoundsTokenSize(t *testing.T) {
	dir := t.TempDir()
	small := bigToken(10)
	over := bigToken(64 << 10) // a little over the default limit, 64 KiB
	file := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(file, []byte(over+"\n"+small+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"inspect", "cdata", "fingerprint"} {
		r := cli(t, "", nil, name, "@"+file)
		r.want(t, exitMalformed, nil, []string{"tokens.txt line 1: token is longer than the 64KiB limit: raise it with --max-token-size"})
		if name == "cdata" && r.stdout != "big-co\n" {
			t.Errorf("cdata after a token over the limit: %q", r.stdout)
		}
		cli(t, "", nil, name, "--max-token-size", "1MiB", "@"+file).want(t, 0, nil, nil)
	}
	cli(t, over+"\n", []string{"S=" + strings.Repeat("s", 32)}, "verify", "--secret-env", "S", "-").want(t, exitMalformed, nil, []string{"stdin line 1: token is longer than the 64KiB limit"})
	cli(t, "", nil, "inspect", "--max-token-size", "17MiB", small).want(t, exitError, nil,
		[]string{`invalid argument "17MiB" for "--max-token-size" flag: want a size from 1 to 16777216 bytes (16MiB)`})
	cli(t, "", nil, "inspect", "--help").want(t, 0, []string{"--max-token-size size", "(default 64KiB)"}, nil)

	// The table view of one big token is proportional to the token: the
	// claims table shows the start of a long value (the Claims block
	// above it has it whole), instead of padding every row to its width.
	huge := bigToken(4 << 20)
	cmd := exec.Command(binary, "inspect", "--max-token-size", "16MiB", "-")
	cmd.Stdin = strings.NewReader(huge + "\n")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if out.Len() > len(huge) {
		t.Errorf("inspect of a %d-byte token printed %d bytes", len(huge), out.Len())
	}
	if !strings.Contains(out.String(), `"note": "`+strings.Repeat("x", 4<<20)+`"`) {
		t.Errorf("the Claims block does not hold the long claim whole")
	}
	if !strings.Contains(out.String(), "│ note  │ "+strings.Repeat("x", maxCellRunes)+"… │") {
		t.Errorf("the claims table does not show the long claim's start:\n%.2000s", out.String())
	}
	// Before the bound, the table view of this token peaked at 47 times
	// its size; now at 13 times.
	if peak, ok := peakRSS(t, huge+"\n", binary, "inspect", "--max-token-size", "16MiB", "-"); ok && peak > 25*len(huge) {
		t.Errorf("inspect of a %d-byte token peaked at %d bytes of memory, %.1f times its size",
			len(huge), peak, float64(peak)/float64(len(huge)))
	}
}
