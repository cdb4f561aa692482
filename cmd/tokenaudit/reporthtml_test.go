package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/audit"
)

// hostileCData are cdata an attacker may put in a token: markup, quotes,
// the end of the SVG, bidi overrides.
var hostileCData = []string{
	`<script>alert(1)</script>`,
	`</svg><img src=x onerror=alert(2)>`,
	`"'><b onmouseover=alert(3)>x</b>`,
	"evil\u202Etxt.exe",
	`</title></desc></style><iframe src="http://127.0.0.1:9/">`,
}

// historyLedger writes a ledger with 30 days of history: tokens issued,
// revoked, revoked elsewhere and seen live again, a pending request and a
// failure, some with hostile cdata, some with reasons. It returns its path.
func historyLedger(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.db")
	day := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		day = day.Add(47 * time.Minute)
		return day
	}
	l, err := audit.Open(path, audit.WithNow(clock), audit.WithActor("alice@ops"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	fp := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	var events []audit.Event
	for i := range 600 {
		cdata := fmt.Sprintf("customer-%d", i%9)
		if i%50 == 0 {
			cdata = hostileCData[(i/50)%len(hostileCData)]
		}
		events = append(events, audit.Event{Kind: audit.KindIssue, Fingerprint: fp(i), CData: cdata})
		switch {
		case i%7 == 3:
			events = append(events, audit.Event{Kind: audit.KindRevoke, Fingerprint: fp(i - 2), CData: "x",
				Detail: json.RawMessage(`{"reason":"left the company <b>"}`)})
		case i%11 == 5:
			events = append(events, audit.Event{Kind: audit.KindRevokedElsewhere, Fingerprint: fp(i - 4), CData: "x"})
		case i%13 == 0 && i > 0:
			events = append(events, audit.Event{Kind: audit.KindSeenLive, Fingerprint: fp(i - 4), CData: "x"})
		}
	}
	events = append(events,
		audit.Event{Kind: audit.KindIssueRequested, CData: hostileCData[0]},
		audit.Event{Kind: audit.KindRevokeFailed, Fingerprint: fp(1), CData: "customer-1", Error: "DELETE /token: 500",
			Detail: json.RawMessage(`{"outcome":"failed"}`)})
	if _, err := l.AppendBatch(ctx, events); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	// dataPoint matches one bar or point of a chart.
	dataPoint = regexp.MustCompile(`<(rect|circle) class="[a-z]+" [^>]*?(?:height="([0-9.]+)" )?data-series="([a-z]+)" data-label="([^"]*)" data-value="(-?[0-9]+)"`)
	// chartOpen matches the start of a chart.
	chartOpen = regexp.MustCompile(`<svg viewBox="0 0 ([0-9.]+) ([0-9.]+)" role="img" aria-labelledby="[^"]*" data-chart="([a-z]+)" data-max="([0-9]+)">`)
)

// chartValues reads the charts of a page: for each chart, its series'
// values in order, and the bars' heights.
func chartValues(t *testing.T, page string) (values map[string]map[string][]int64, heights map[string][]float64, maxes map[string]int64) {
	t.Helper()
	values, heights, maxes = map[string]map[string][]int64{}, map[string][]float64{}, map[string]int64{}
	parts := chartOpen.FindAllStringSubmatchIndex(page, -1)
	for i, m := range parts {
		id := page[m[6]:m[7]]
		maxes[id], _ = strconv.ParseInt(page[m[8]:m[9]], 10, 64)
		end := len(page)
		if i+1 < len(parts) {
			end = parts[i+1][0]
		}
		values[id] = map[string][]int64{}
		for _, p := range dataPoint.FindAllStringSubmatch(page[m[0]:end], -1) {
			v, _ := strconv.ParseInt(p[5], 10, 64)
			values[id][p[3]] = append(values[id][p[3]], v)
			if p[1] == "rect" {
				h, _ := strconv.ParseFloat(p[2], 64)
				heights[id] = append(heights[id], h)
			}
		}
	}
	return values, heights, maxes
}

// TestReportHTMLChartsMatchJSON: the numbers the charts draw are the JSON
// report's, for the same ledger and period, and each bar's height is its
// value on the axis's scale.
func TestReportHTMLChartsMatchJSON(t *testing.T) {
	db := historyLedger(t)
	period := []string{"--db", db, "--since", "2025-03-03", "--until", "2025-03-20T12:00:00Z"}
	r := cli(t, "", nil, append([]string{"report", "--format", "json"}, period...)...)
	r.want(t, 0, nil, nil)
	var rep struct {
		Tokens      audit.StateCounts    `json:"tokens"`
		LiveByCData []audit.CDataCount   `json:"live_by_cdata"`
		Period      *audit.PeriodSummary `json:"period"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Period == nil {
		t.Fatalf("report --format json: %v\n%s", err, r.stdout)
	}
	page := cli(t, "", nil, append([]string{"report", "--format", "html"}, period...)...)
	page.want(t, 0, []string{"<!DOCTYPE html>", `content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`}, nil)
	values, heights, maxes := chartValues(t, page.stdout)

	var issued, revoked, revived, live []int64
	for _, b := range rep.Period.Buckets {
		issued, revoked, revived, live = append(issued, b.Issued), append(revoked, b.Revoked), append(revived, b.Revived), append(live, b.Live)
	}
	if len(issued) != 18 {
		t.Fatalf("%d buckets, want 18 days", len(issued))
	}
	for _, c := range []struct {
		chart, series string
		want          []int64
	}{
		{"activity", "issued", issued}, {"activity", "revoked", revoked}, {"activity", "revived", revived},
		{"live", "live", live},
	} {
		if got := values[c.chart][c.series]; fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("chart %s, series %s: %v, JSON says %v", c.chart, c.series, got, c.want)
		}
	}
	var cdata []int64
	for _, c := range rep.LiveByCData[:min(15, len(rep.LiveByCData))] {
		cdata = append(cdata, c.Live)
	}
	if got := values["cdata"]["cdata"]; fmt.Sprint(got) != fmt.Sprint(cdata) {
		t.Errorf("live per cdata chart %v, JSON says %v", got, cdata)
	}
	var ages []int64
	var aged int64
	for _, a := range rep.Period.Ages {
		ages = append(ages, a.Live)
		aged += a.Live
	}
	if got := values["ages"]["age"]; fmt.Sprint(got) != fmt.Sprint(ages) || aged != rep.Tokens.Active {
		t.Errorf("age chart %v, JSON says %v (of %d live)", got, ages, rep.Tokens.Active)
	}
	// Heights: value / axis top × the plot's height (240 - 16 - 40).
	for _, id := range []string{"activity", "cdata", "ages"} {
		var all []int64
		for _, s := range []string{"issued", "revoked", "revived", "cdata", "age"} {
			all = append(all, values[id][s]...)
		}
		var top int64
		for _, v := range all {
			top = max(top, v)
		}
		if maxes[id] < top || maxes[id] > 10*max(top, 1) {
			t.Errorf("chart %s: axis top %d for values up to %d", id, maxes[id], top)
		}
	}
	ah := heights["activity"]
	for i, v := range interleave(issued, revoked, revived) {
		want := float64(v) / float64(maxes["activity"]) * 184
		if i < len(ah) && (ah[i] < want-0.6 || ah[i] > want+0.6) {
			t.Errorf("activity bar %d: height %.1f for value %d, want %.1f", i, ah[i], v, want)
		}
	}
	if !strings.Contains(page.stdout, ">"+strconv.FormatInt(rep.Tokens.Active, 10)+"</td>") {
		t.Errorf("the page lacks the live count %d", rep.Tokens.Active)
	}
}

// interleave lists the values of several series category by category, as
// grouped bars are drawn.
func interleave(series ...[]int64) []int64 {
	var out []int64
	for i := range series[0] {
		for _, s := range series {
			out = append(out, s[i])
		}
	}
	return out
}

// TestReportHTMLHostileText: markup in cdata and reasons stays text.
func TestReportHTMLHostileText(t *testing.T) {
	db := historyLedger(t)
	page := cli(t, "", nil, "report", "--format", "html", "--db", db, "--since", "2025-02-01", "--verify")
	page.want(t, 0, []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "left the company &lt;b&gt;", `class="ok" data-field="verify">intact`,
		`evil\u202etxt.exe`}, nil)
	for _, bad := range []string{"<script", "<img", "<iframe", "<b ", "<b>", "\u202E", ` src="`, ` href="`} {
		if strings.Contains(page.stdout, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if n := strings.Count(page.stdout, "</svg>"); n != 4 {
		t.Errorf("%d </svg>, want 4 (one per chart)", n)
	}
	if len(page.stdout) > 2<<20 {
		t.Errorf("the page is %d bytes", len(page.stdout))
	}
}

// TestReportHTMLFormatOnlyForReport: --format html is the report's alone.
func TestReportHTMLFormatOnlyForReport(t *testing.T) {
	cli(t, "", nil, "tokens", "--format", "html", "--db", filepath.Join(t.TempDir(), "x.db")).
		want(t, 1, nil, []string{`--format html: only "tokenaudit report" writes HTML`})
}

// chromium returns Debian's headless Chromium, or skips (fails under CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed: the browser test of the HTML report is skipped (apt-get install chromium)")
	return ""
}

// TestReportHTMLInChromium renders the report of a hostile ledger in a real
// browser: it loads with no console message (so no blocked request and no
// script), the DOM holds the numbers and the hostile text as text, and a
// screenshot is kept.
func TestReportHTMLInChromium(t *testing.T) {
	browser := chromium(t)
	db := historyLedger(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	page := cli(t, "", nil, "report", "--format", "html", "--db", db, "--since", "2025-02-15", "--until", "2025-03-25", "--max-age", "14d")
	page.want(t, 0, nil, nil)
	if err := os.WriteFile(file, []byte(page.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, browser, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0"}, args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
		}
		return out.String(), errb.String()
	}
	dom, logs := run("--dump-dom", "file://"+file)
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, ":CONSOLE") {
			t.Errorf("console message: %s", line)
		}
	}
	for _, want := range []string{`data-chart="activity"`, `data-chart="live"`, `data-chart="cdata"`, `data-chart="ages"`,
		`data-marker="max age 14d"`, "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;/svg&gt;&lt;img src=x onerror=alert(2)&gt;"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "<img") || strings.Contains(dom, "<iframe") {
		t.Error("the DOM holds an element made from ledger text")
	}
	values, _, _ := chartValues(t, dom)
	if len(values["activity"]["issued"]) != 38 {
		t.Errorf("the DOM's activity chart has %d days, want 38", len(values["activity"]["issued"]))
	}
	shot := filepath.Join(os.TempDir(), "tokenaudit-report-screenshot.png")
	_, logs = run("--hide-scrollbars", "--window-size=1200,2400", "--screenshot="+shot, "file://"+file)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Fatalf("no screenshot: %v\n%s", err, logs)
	}
	t.Logf("screenshot of the report (CI artifact): %s", shot)
}
