package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

// reportRecord is the JSON form of "tokenaudit report": the report's
// members after "ledger".
type reportRecord struct {
	Ledger string
	*audit.Report
}

// MarshalJSON writes "ledger" and then the members of the report as
// audit.Report's own MarshalJSON writes them (which an embedded Report
// would otherwise write alone).
func (r reportRecord) MarshalJSON() ([]byte, error) {
	ledger, err := json.Marshal(r.Ledger)
	if err != nil {
		return nil, err
	}
	b := append([]byte(`{"ledger":`), ledger...)
	if r.Report == nil {
		return append(b, '}'), nil
	}
	rep, err := json.Marshal(r.Report)
	if err != nil {
		return nil, err
	}
	return append(append(b, ','), rep[1:]...), nil // rep is an object with members
}

func (a *app) reportCommand() *cobra.Command {
	var (
		lf                   ledgerFlags
		vf                   verifierFlags
		opts                 audit.ReportOptions
		since, until, maxAge string
		verify               bool
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Summarize the ledger: live tokens, who holds them, what failed",
		Long: `Summarize the ledger in tables: tokens by state; live tokens per cdata; the
oldest live tokens with their age; issue requests with no outcome (a token
may exist that the ledger does not know: run "tokenaudit reconcile"); the
most recent failures; and the most recent revocations, with who revoked
each and why (the reason recorded, detail.reason, and the rotation it
belongs to). The ledger is opened read-only, and everything
comes from one snapshot of it.

--since (and --until) add what happened in that period: tokens issued,
revoked and seen live again per day (per week past 120 days), live tokens
over time and by age, and the period's revocations (with their reasons),
rotations, failures and reconcile findings.

--format markdown pastes into a ticket; --format json gives the same data
to programs (counts, lists, the tree head, "period"). CSV holds one table:
use "tokenaudit tokens --format csv" for a listing.

--format html writes one self-contained page with charts for people (the
period defaults to the last 90 days): no script, nothing loaded from
anywhere, every text from the ledger escaped. --verify adds ledger verify's
result to it (exit 5 if the ledger is damaged); the newest signed checkpoint
is checked with --verifier (or $TOKENAUDIT_CHECKPOINT_VERIFIER); --max-age
draws an age policy on the age chart.`,
		Example: `  tokenaudit report
  tokenaudit report --format markdown > audit-2026-03.md
  tokenaudit report --format json | jq .tokens
  tokenaudit report --format html --since 90d --verify > report-2026-q1.html`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Oldest < 1 || opts.Failures < 1 || opts.Revocations < 1 || opts.TopCData < 0 {
				return usageErrorf("--oldest, --failures and --revocations must be at least 1, --top at least 0")
			}
			if a.format == output.CSV {
				return withHint(usageErrorf("the report has several tables and CSV holds one"),
					`use --format json, markdown or table, or "tokenaudit tokens --format csv"`)
			}
			now := a.now()
			html := htmlOptions{verify: verify, by: audit.LocalActor()}
			if since == "" && a.format == output.HTML {
				since = "90d"
			}
			if since != "" {
				var err error
				if opts.Since, err = parseWhen(since, now); err != nil {
					return usageErrorf("--since: %v", err)
				}
			}
			if until != "" {
				if since == "" {
					return usageErrorf("--until needs --since")
				}
				var err error
				if opts.Until, err = parseWhen(until, now); err != nil {
					return usageErrorf("--until: %v", err)
				}
			}
			if maxAge != "" {
				var err error
				if html.maxAge, err = parseAge(maxAge); err != nil {
					return usageErrorf("--max-age: %v", err)
				}
			}
			var err error
			if html.verifiers, _, err = a.verifiers(vf); err != nil {
				return err
			}
			return a.readLedger(lf, func(l *audit.Ledger) error {
				rep, err := l.Report(cmd.Context(), opts)
				if err != nil {
					return ledgerError(err)
				}
				if a.format == output.HTML {
					return a.writeHTMLReport(cmd.Context(), a.stdout, l, rep, html)
				}
				if err := a.writeReport(a.stdout, l.Path(), rep); err != nil {
					return err
				}
				if n := len(rep.PendingIssues) + len(rep.PendingRevokes); n > 0 && !a.format.Structured() {
					fmt.Fprintf(a.stderr, "tokenaudit: hint: %d request(s) have no known outcome: "+
						"run \"tokenaudit reconcile --apply\" to settle them\n", n)
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&opts.Oldest, "oldest", 10, "list this many of the oldest live tokens")
	cmd.Flags().IntVar(&opts.Failures, "failures", 20, "list this many of the most recent failures")
	cmd.Flags().IntVar(&opts.Revocations, "revocations", 20, "list this many of the most recent revocations")
	cmd.Flags().IntVar(&opts.TopCData, "top", 0, "list only this many cdata with the most live tokens (0: all)")
	cmd.Flags().StringVar(&since, "since", "", "also summarize the period from this time or age (default 90d for --format html)")
	cmd.Flags().StringVar(&until, "until", "", "end the period at this time or age (default now)")
	cmd.Flags().StringVar(&maxAge, "max-age", "", "with --format html, draw this age policy on the age chart (e.g. 90d)")
	cmd.Flags().BoolVar(&verify, "verify", false, "with --format html, verify the ledger and show the result (exit 5 if damaged)")
	vf.register(cmd)
	lf.register(cmd)
	return cmd
}

// writeReport writes a report in the chosen format (not CSV).
func (a *app) writeReport(w io.Writer, path string, rep *audit.Report) error {
	if a.format.Structured() {
		return a.writeDocument(w, reportRecord{Ledger: path, Report: rep})
	}
	style := a.style()
	head := fmt.Sprintf("Ledger %s: %d events, root hash %s, at %s", path, rep.Head.Size, hashHex(rep.Head), formatTime(rep.GeneratedAt))
	if a.format == output.Markdown {
		fmt.Fprintf(w, "## Token ledger report\n\n%s\n\n", head)
	} else {
		fmt.Fprintln(w, style.Dim(output.Clean(head)))
		fmt.Fprintln(w)
	}
	return a.writeDocument(w, nil, reportSheets(rep, a.format)...)
}

// reportSheets renders a report's sections as tables.
func reportSheets(rep *audit.Report, format output.Format) []*output.Sheet {
	states := &output.Sheet{Title: "Tokens by state", Header: []string{"state", "tokens"}}
	states.Append("active", strconv.FormatInt(rep.Tokens.Active, 10))
	states.Append("revoked", strconv.FormatInt(rep.Tokens.Revoked, 10))
	states.Append("total", strconv.FormatInt(rep.Tokens.Total, 10))

	perCData := &output.Sheet{Title: "Live tokens per cdata", Header: []string{"cdata", "live"}}
	for _, c := range rep.LiveByCData {
		perCData.Append(c.CData, strconv.FormatInt(c.Live, 10))
	}

	oldest := &output.Sheet{Title: "Oldest live tokens", Header: []string{"fingerprint", "cdata", "issued_at", "first_seen_at", "age", "issued_by"}}
	for _, t := range rep.OldestLive {
		oldest.Append(shortFP(t.Fingerprint), t.CData, formatTime(t.IssuedAt), formatTime(t.FirstSeenAt), formatAge(t.Age()), t.IssuedBy)
	}

	pending := &output.Sheet{Title: "Requests with no known outcome", Header: []string{"seq", "ts", "kind", "fingerprint", "cdata", "actor"}}
	for _, e := range slices.Concat(rep.PendingIssues, rep.PendingRevokes) {
		pending.Append(strconv.FormatInt(e.Seq, 10), formatTime(e.TS), string(e.Kind), shortFP(e.Fingerprint), e.CData, e.Actor)
	}

	failures := &output.Sheet{Title: "Recent failures", Header: []string{"seq", "ts", "kind", "fingerprint", "cdata", "result"}}
	for _, e := range rep.RecentFailures {
		failures.Append(strconv.FormatInt(e.Seq, 10), formatTime(e.TS), string(e.Kind), shortFP(e.Fingerprint), e.CData, eventResult(e))
	}
	revocations := &output.Sheet{Title: "Recent revocations", Header: []string{"seq", "ts", "kind", "fingerprint", "cdata", "actor", "why"}}
	for _, e := range rep.RecentRevocations {
		revocations.Append(strconv.FormatInt(e.Seq, 10), formatTime(e.TS), string(e.Kind), shortFP(e.Fingerprint), e.CData, e.Actor, eventWhy(e.Detail))
	}
	return []*output.Sheet{states, perCData, oldest, pending, failures, revocations}
}

// hashHex renders a tree head's root hash as lowercase hex, as the JSON
// output and leaf_hash do.
func hashHex(h audit.TreeHead) string { return fmt.Sprintf("%x", h.Hash[:]) }
