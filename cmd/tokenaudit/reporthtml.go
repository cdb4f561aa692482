package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/svgchart"
)

//go:embed templates/report.html
var templates embed.FS

// reportPage parses the HTML report's template once per use; it is small,
// and a report is written once per process.
func reportPage() (*template.Template, error) {
	return template.New("report.html").Funcs(template.FuncMap{
		"f":   func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		"sub": func(a, b float64) float64 { return a - b },
	}).ParseFS(templates, "templates/report.html")
}

// maxHTMLCData caps the cdata listed in the HTML report's table (the chart
// shows the top few); the JSON report has them all.
const maxHTMLCData = 100

// chartCDatas is how many cdata the live-per-cdata chart shows.
const chartCDatas = 15

// htmlChart is one chart of the page, with its text alternative: a title,
// a description, and the numbers as a table.
type htmlChart struct {
	ID, Title, Desc string
	Chart           svgchart.Chart
	Legend          []string
	Category        string
	Columns         []string
	Rows            []htmlChartRow
}

type htmlChartRow struct {
	Label  string
	Values []int64
}

// htmlEvents is a table of events.
type htmlEvents struct {
	ID, Title, Empty, Last string
	Rows                   []htmlEventRow
	More                   bool
}

type htmlEventRow struct {
	Seq                        int64
	TS, Kind, FP, CData, Actor string
	Last                       string
}

type htmlOldest struct{ FP, CData, FirstSeen, Age, By string }

// htmlReport is everything the page shows.
type htmlReport struct {
	Version, Ledger, Root, Since, Until, Made, By string
	Report                                        *audit.Report
	Period                                        *audit.PeriodSummary
	Verify                                        *audit.VerifyReport
	Checkpoint                                    *audit.StoredCheckpoint
	CheckpointAt, CheckpointStatus                string
	CheckpointError                               string
	CheckpointConsistent                          bool
	Activity, LiveChart, CDataChart, AgeChart     htmlChart
	LiveByCData                                   []audit.CDataCount
	CDataLeftOut                                  int
	Oldest                                        []htmlOldest
	Revocations, Rotations, Pending, Failures     htmlEvents
	Findings                                      htmlEvents
}

// htmlOptions are what the HTML report needs beyond the report itself.
type htmlOptions struct {
	verify    bool
	verifiers note.Verifiers
	maxAge    time.Duration
	by        string
}

// writeHTMLReport writes the report as one self-contained HTML page: no
// script, no request (a Content-Security-Policy of default-src 'none'),
// every text from the ledger escaped by html/template, every chart an
// inline SVG with a title, a description and its numbers in a table. With
// o.verify, a damaged ledger is shown on the page and is an integrity
// error (exit 5).
func (a *app) writeHTMLReport(ctx context.Context, w io.Writer, l *audit.Ledger, rep *audit.Report, o htmlOptions) error {
	page, err := reportPage()
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	p := rep.Period
	h := &htmlReport{Version: version(), Ledger: l.Path(), Root: hashHex(rep.Head), Report: rep, Period: p,
		Since: formatTime(p.Since), Until: formatTime(p.Until), Made: formatTime(rep.GeneratedAt), By: o.by}
	if o.verify {
		if h.Verify, err = l.Verify(ctx); err != nil {
			return ledgerError(err)
		}
	}
	if h.Checkpoint, err = l.LatestCheckpoint(ctx); errors.Is(err, audit.ErrNotFound) {
		h.Checkpoint = nil
	} else if err != nil {
		return ledgerError(err)
	}
	if c := h.Checkpoint; c != nil {
		h.CheckpointAt, h.CheckpointStatus = formatTime(c.TS), "unchecked"
		if o.verifiers != nil {
			if _, err := audit.OpenCheckpoint(c.Note, o.verifiers); err != nil {
				h.CheckpointStatus, h.CheckpointError = "failed", tidy(err).Error()
			} else if _, err := l.VerifyCheckpoint(ctx, c.Checkpoint); err != nil {
				h.CheckpointStatus, h.CheckpointError = "failed", tidy(err).Error()
			} else {
				h.CheckpointStatus, h.CheckpointConsistent = "verified", true
			}
		}
	}

	var days, dates []string // chart labels, table labels
	var issued, revoked, revived, live []int64
	for _, b := range p.Buckets {
		days = append(days, b.Start.Format("Jan 2"))
		dates = append(dates, b.Start.Format(time.DateOnly))
		issued, revoked, revived, live = append(issued, b.Issued), append(revoked, b.Revoked), append(revived, b.Revived), append(live, b.Live)
	}
	per := "day"
	if p.Bucket == "week" {
		per = "week (starting)"
	}
	h.Activity = htmlChart{ID: "activity", Title: "Tokens issued and revoked per " + p.Bucket,
		Desc: fmt.Sprintf("Bars per %s from %s to %s: tokens issued (or first recorded), revoked, and seen live again after a revocation.", p.Bucket, h.Since, h.Until),
		Chart: svgchart.Bars(svgchart.DefaultFrame, days, svgchart.Series{Name: "issued", Values: issued},
			svgchart.Series{Name: "revoked", Values: revoked}, svgchart.Series{Name: "revived", Values: revived}),
		Legend: []string{"issued", "revoked", "revived"}, Category: per, Columns: []string{"issued", "revoked", "revived"}}
	h.LiveChart = htmlChart{ID: "live", Title: "Live tokens over time",
		Desc:   fmt.Sprintf("The number of live tokens at the end of each %s; %d just before the period.", p.Bucket, p.LiveAtStart),
		Chart:  svgchart.Line(svgchart.DefaultFrame, days, live),
		Legend: []string{"live"}, Category: per, Columns: []string{"live at the end"}}
	for i, d := range dates {
		h.Activity.Rows = append(h.Activity.Rows, htmlChartRow{Label: d, Values: []int64{issued[i], revoked[i], revived[i]}})
		h.LiveChart.Rows = append(h.LiveChart.Rows, htmlChartRow{Label: d, Values: []int64{live[i]}})
	}

	top := rep.LiveByCData[:min(len(rep.LiveByCData), chartCDatas)]
	var names []string
	var counts []int64
	for _, c := range top {
		names = append(names, cdataLabel(c.CData))
		counts = append(counts, c.Live)
	}
	h.CDataChart = htmlChart{ID: "cdata", Title: "Live tokens per cdata",
		Desc:     fmt.Sprintf("The %d cdata holding the most live tokens, most first, of %d cdata with live tokens.", len(top), len(rep.LiveByCData)),
		Chart:    svgchart.Bars(svgchart.DefaultFrame, names, svgchart.Series{Name: "cdata", Values: counts}),
		Category: "cdata", Columns: []string{"live"}}
	for i, n := range names {
		h.CDataChart.Rows = append(h.CDataChart.Rows, htmlChartRow{Label: n, Values: []int64{counts[i]}})
	}

	var ages []string
	var aged []int64
	marker := -1
	for i, b := range p.Ages {
		ages = append(ages, b.Label)
		aged = append(aged, b.Live)
		if o.maxAge > 0 && marker < 0 && float64(b.MinDays) >= o.maxAge.Hours()/24 {
			marker = i
		}
	}
	h.AgeChart = htmlChart{ID: "ages", Title: "Ages of the live tokens",
		Desc:     "Live tokens by age, counted from the earliest evidence of each (the ledger's record or the token's own iat).",
		Chart:    svgchart.Bars(svgchart.DefaultFrame, ages, svgchart.Series{Name: "age", Values: aged}),
		Category: "age", Columns: []string{"live"}}
	if o.maxAge > 0 {
		if marker < 0 {
			marker = len(ages)
		}
		h.AgeChart.Chart.Mark("max age "+formatAge(o.maxAge), marker)
		h.AgeChart.Desc += " The dashed line is the --max-age policy (" + formatAge(o.maxAge) + ")."
	}
	for i, n := range ages {
		h.AgeChart.Rows = append(h.AgeChart.Rows, htmlChartRow{Label: n, Values: []int64{aged[i]}})
	}

	h.LiveByCData = rep.LiveByCData[:min(len(rep.LiveByCData), maxHTMLCData)]
	h.CDataLeftOut = len(rep.LiveByCData) - len(h.LiveByCData)
	for _, t := range rep.OldestLive {
		h.Oldest = append(h.Oldest, htmlOldest{FP: shortFP(t.Fingerprint), CData: t.CData, FirstSeen: formatTime(t.FirstSeenAt),
			Age: formatAge(t.Age()), By: t.IssuedBy})
	}
	listed := func(id, title, empty, last string, events []audit.Event, lastOf func(audit.Event) string) htmlEvents {
		t := htmlEvents{ID: id, Title: title, Empty: empty, Last: last, More: len(events) >= 100}
		for _, e := range events {
			t.Rows = append(t.Rows, htmlEventRow{Seq: e.Seq, TS: formatTime(e.TS), Kind: string(e.Kind), FP: shortFP(e.Fingerprint),
				CData: e.CData, Actor: e.Actor, Last: lastOf(e)})
		}
		return t
	}
	h.Revocations = listed("revocations", "Revocations in the period", "No token was revoked in the period.", "reason", p.Revocations, reasonOf)
	h.Rotations = listed("rotations", "Rotations in the period", "No rotation in the period.", "rotates", p.Rotations, func(e audit.Event) string {
		return detailText(e, "rotates")
	})
	h.Pending = listed("pending", "Requests with no known outcome", "None: every request's outcome is known.", "what is not known",
		append(append([]audit.Event(nil), rep.PendingIssues...), rep.PendingRevokes...), func(e audit.Event) string {
			if e.Kind == audit.KindIssueRequested {
				return "whether a token was issued"
			}
			return "outcome unknown: " + e.Error
		})
	h.Failures = listed("failures", "Failures in the period", "No failure in the period.", "result", p.Failures, eventResult)
	h.Findings = listed("findings", "Reconcile findings in the period", "No reconcile recorded a difference in the period.", "found",
		p.ReconcileFindings, func(e audit.Event) string {
			if o := detailText(e, "outcome"); o != "" {
				return o
			}
			switch e.Kind {
			case audit.KindImport:
				return "listed by the API, unknown to the ledger"
			case audit.KindRevokedElsewhere:
				return "no longer listed by the API"
			case audit.KindSeenLive:
				return "listed by the API after its revocation"
			}
			return ""
		})
	var buf bytes.Buffer
	if err := page.Execute(&buf, h); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if _, err := w.Write(output.CleanDocument(buf.Bytes())); err != nil {
		return err
	}
	if h.Verify != nil && !h.Verify.OK() {
		return ledgerError(fmt.Errorf("the report says so: %w", h.Verify.Problems[0]))
	}
	return nil
}

// reasonOf returns an event's detail.reason, or what recorded it.
func reasonOf(e audit.Event) string {
	if r := detailText(e, "reason"); r != "" {
		return r
	}
	if e.Kind == audit.KindRevokedElsewhere {
		return "found by reconcile: no longer listed by the API"
	}
	return ""
}

// detailText returns a member of an event's detail as text ("" when it is
// missing): strings as they are, anything else as compact JSON.
func detailText(e audit.Event, key string) string {
	var d map[string]json.RawMessage
	if json.Unmarshal(e.Detail, &d) != nil || d[key] == nil {
		return ""
	}
	var s string
	if json.Unmarshal(d[key], &s) == nil {
		return s
	}
	return string(d[key])
}

// cdataLabel names a cdata in a chart; untrusted text stays text (the
// template escapes it) and is made visible (output.Clean).
func cdataLabel(c string) string {
	if c == "" {
		return "(no cdata)"
	}
	return output.Clean(c)
}
