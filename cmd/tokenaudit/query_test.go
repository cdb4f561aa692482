package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/audit"
)

// datedLedger writes a ledger whose events happened at known times, with
// the audit package (the CLI never backdates anything):
//
//	seq 0  2020-01-01  import         fp a…  old-co  alice@host
//	seq 1  now - 1h    import         fp b…  new-co  bob@host
//	seq 2  now - 30m   revoke         fp b…  new-co  bob@host
//	seq 3  now - 10m   revoke_failed  fp a…  old-co  alice@host  503
func datedLedger(t *testing.T) (path string, fpA, fpB string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "dated.db")
	fpA, fpB = "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	now := time.Now().UTC()
	times := []time.Time{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), now.Add(-time.Hour), now.Add(-30 * time.Minute), now.Add(-10 * time.Minute)}
	i := 0
	l, err := audit.Open(path, audit.WithNow(func() time.Time { return times[min(i, len(times)-1)] }))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, e := range []audit.Event{
		{Kind: audit.KindImport, Fingerprint: fpA, CData: "old-co", Actor: "alice@host"},
		{Kind: audit.KindImport, Fingerprint: fpB, CData: "new-co", Actor: "bob@host"},
		{Kind: audit.KindRevoke, Fingerprint: fpB, CData: "new-co", Actor: "bob@host"},
		{Kind: audit.KindRevokeFailed, Fingerprint: fpA, CData: "old-co", Actor: "alice@host", HTTPStatus: 503, Error: "server error"},
	} {
		if _, err := l.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		i++
	}
	return path, fpA, fpB
}

// seqs returns the "seq" of each JSON line.
func seqs(t *testing.T, jsonl string) []int {
	t.Helper()
	var out []int
	for _, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		if line == "" {
			continue
		}
		out = append(out, int(decodeJSON[map[string]any](t, line)["seq"].(float64)))
	}
	return out
}

func TestEventsFilters(t *testing.T) {
	path, fpA, _ := datedLedger(t)
	events := func(args ...string) []int {
		t.Helper()
		r := cli(t, "", []string{"TOKENAUDIT_DB=" + path}, append(append([]string{"events"}, args...), "--format", "jsonl")...)
		r.want(t, 0, nil, nil)
		return seqs(t, r.stdout)
	}
	for _, c := range []struct {
		args []string
		want []int
	}{
		{nil, []int{0, 1, 2, 3}},
		{[]string{"--since", "2021-01-01"}, []int{1, 2, 3}},
		{[]string{"--until", "2021-01-01T00:00:00Z"}, []int{0}},
		{[]string{"--since", "2h"}, []int{1, 2, 3}},
		{[]string{"--since", "20m", "--until", "1m"}, []int{3}},
		{[]string{"--since", "1d12h", "--until", "45m"}, []int{1}},
		{[]string{"--kind", "revoke,revoke_failed"}, []int{2, 3}},
		{[]string{"--kind", "import", "--kind", "revoke"}, []int{0, 1, 2}},
		{[]string{"--after-seq", "1", "--limit", "1"}, []int{2}},
		{[]string{"--newest", "--limit", "2"}, []int{3, 2}},
		{[]string{"--fingerprint", strings.ToUpper(fpA[7:15])}, []int{0, 3}},
		{[]string{"--fingerprint", fpA}, []int{0, 3}},
		{[]string{"--actor", "bob@host"}, []int{1, 2}},
		{[]string{"--cdata", "new"}, nil},
		{[]string{"--cdata", "new", "--cdata-prefix"}, []int{1, 2}},
	} {
		if got := events(c.args...); !slices.Equal(got, c.want) {
			t.Errorf("events %v = %v, want %v", c.args, got, c.want)
		}
	}

	// CSV has every column of the table events, exactly as stored.
	r := cli(t, "", []string{"TOKENAUDIT_DB=" + path}, "events", "--until", "2021-01-01", "--format", "csv")
	leaf := queryRows(t, openSQL(t, path), "SELECT hex(leaf_hash), detail FROM events WHERE seq = 0")[0]
	hash, detail, _ := strings.Cut(leaf, "|")
	wantEqual(t, "events --format csv", strings.Split(strings.TrimSpace(r.stdout), "\n"), []string{
		"seq,ts,kind,fingerprint,cdata,actor,result,subject,api_url,http_status,request_seq,error,detail,leaf_hash",
		"0,2020-01-01T00:00:00.000000Z,import," + fpA + ",old-co,alice@host,,,,,,," + detail + "," + strings.ToLower(hash),
	})
	// A table, and an empty result in each format.
	r = cli(t, "", []string{"TOKENAUDIT_DB=" + path}, "events", "--kind", "revoke_failed")
	r.want(t, 0, []string{"│ seq │ ts ", "│ 3   │ ", "revoke_failed │ aaaaaaaaaaaa │ old-co │ alice@host │ server error │"}, nil)
	for format, want := range map[string]string{"table": "(none)\n", "json": "[]\n", "jsonl": "",
		"csv": "seq,ts,kind,fingerprint,cdata,actor,result,subject,api_url,http_status,request_seq,error,detail,leaf_hash\n"} {
		r = cli(t, "", []string{"TOKENAUDIT_DB=" + path}, "events", "--cdata", "nobody", "--format", format)
		if r.code != 0 || r.stdout != want {
			t.Errorf("no events, --format %s: exit %d, %q, want %q", format, r.code, r.stdout, want)
		}
	}

	for _, c := range []struct{ args, stderr string }{
		{"--since yesterday", `--since: time "yesterday": want RFC 3339`},
		{"--until 5y", `--until: time "5y"`},
		{"--kind nope", `--kind "nope": want one of issue_requested, issue, issue_failed, revoke, revoke_failed, import, revoked_elsewhere`},
		{"--fingerprint abc", `--fingerprint "abc": give at least 8 hex digits`},
		{"--fingerprint xyzxyzxyz", `--fingerprint "xyzxyzxyz" is not hex`},
		{"--limit -1", "--limit -1 is negative"},
		{"--after-seq -5", "--after-seq -5 is negative"},
	} {
		cli(t, "", []string{"TOKENAUDIT_DB=" + path}, append([]string{"events"}, strings.Fields(c.args)...)...).
			want(t, 1, nil, []string{"tokenaudit: " + c.stderr})
	}
}

func TestTokensFilters(t *testing.T) {
	path, _, fpB := datedLedger(t)
	tokens := func(args ...string) []string {
		t.Helper()
		r := cli(t, "", []string{"TOKENAUDIT_DB=" + path}, append(append([]string{"tokens"}, args...), "--format", "jsonl")...)
		r.want(t, 0, nil, nil)
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if line != "" {
				rec := decodeJSON[map[string]any](t, line)
				out = append(out, rec["cdata"].(string)+":"+rec["state"].(string))
			}
		}
		return out
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"old-co:active", "new-co:revoked"}},
		{[]string{"--state", "active"}, []string{"old-co:active"}},
		{[]string{"--state", "revoked"}, []string{"new-co:revoked"}},
		{[]string{"--older-than", "90d"}, []string{"old-co:active"}},
		{[]string{"--older-than", "30m"}, []string{"old-co:active", "new-co:revoked"}},
		{[]string{"--newer-than", "2h"}, []string{"new-co:revoked"}},
		{[]string{"--newest"}, []string{"new-co:revoked", "old-co:active"}},
		{[]string{"--fingerprint", fpB[:20]}, []string{"new-co:revoked"}},
		{[]string{"--cdata", "old-co", "--state", "revoked"}, nil},
	} {
		wantEqual(t, "tokens "+strings.Join(c.args, " "), tokens(c.args...), c.want)
	}
	r := cli(t, "", []string{"TOKENAUDIT_DB=" + path}, "tokens", "--state", "active")
	r.want(t, 0, []string{"│ fingerprint  │ cdata  │ state  │ issued_at            │ age ",
		"│ aaaaaaaaaaaa │ old-co │ active │ 2020-01-01T00:00:00Z │ "}, nil)
	r = cli(t, "", []string{"TOKENAUDIT_DB=" + path}, "tokens", "--state", "revoked", "--format", "csv")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || lines[0] != "fingerprint,cdata,state,issued_at,age,issued_by,revoked_at,subject,issued_seq,revoked_by,revoked_seq" ||
		!strings.HasPrefix(lines[1], fpB+",new-co,revoked,") || !strings.HasSuffix(lines[1], ",,1,bob@host,2") {
		t.Errorf("tokens --format csv:\n%s", r.stdout)
	}
	cli(t, "", []string{"TOKENAUDIT_DB=" + path}, "tokens", "--state", "live").want(t, 1, nil, []string{`--state "live": want active or revoked`})
	cli(t, "", []string{"TOKENAUDIT_DB=" + path}, "tokens", "--older-than", "-3d").want(t, 1, nil, []string{`--older-than: age "-3d"`})
}

func TestParseAgeAndWhen(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour,
		"90m": 90 * time.Minute, "0": 0, " 3d ": 72 * time.Hour, "1w2d3h4m": (9*24+3)*time.Hour + 4*time.Minute,
	} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "7", "7x", "-1d", "3h2d", "99999999999999999d", "1.5d"} {
		if got, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) = %v, want an error", in, got)
		}
	}
	for in, want := range map[string]time.Time{
		"2026-03-01T09:00:00Z":      time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		"2026-03-01T10:00:00+01:00": time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		"2026-03-01":                time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		"36h":                       now.Add(-36 * time.Hour),
		"7d":                        time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC),
	} {
		if got, err := parseWhen(in, now); err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "0s", 17 * time.Second: "17s", 42 * time.Minute: "42m", 5*time.Hour + 12*time.Minute: "5h 12m",
		5 * time.Hour: "5h", 76 * time.Hour: "3d 4h", 95 * 24 * time.Hour: "95d", -time.Hour: "0s",
	} {
		if got := formatAge(d); got != want {
			t.Errorf("formatAge(%v) = %q, want %q", d, got, want)
		}
	}
}
