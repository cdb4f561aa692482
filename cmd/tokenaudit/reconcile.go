package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

// The findings of reconcile, as the finding column names them.
const (
	findingNotInLedger      = "not in ledger"
	findingRevokedElsewhere = "revoked elsewhere"
	findingRevokedButLive   = "revoked but live"
)

// reconcileRecord is the JSON form of "tokenaudit reconcile".
type reconcileRecord struct {
	InSync  bool `json:"in_sync"`
	Applied bool `json:"applied"`
	*audit.ReconcileResult
}

func (a *app) reconcileCommand() *cobra.Command {
	var (
		af       apiFlags
		lf       ledgerFlags
		apply    bool
		yes      bool
		inFlight time.Duration
		reason   string
		record   bool
	)
	cmd := &cobra.Command{
		Use:   "reconcile [--apply]",
		Short: "Compare the ledger with the API's list of live tokens",
		Long: `Compare the tokens the Woleet API lists as live (GET /user/tokens) with the
tokens the ledger holds active, by fingerprint, in both directions:

  not in ledger      the API lists it, the ledger never saw it: issued
                     behind the ledger's back, or an issue whose answer
                     was lost. --apply records it (an import event).
  revoked elsewhere  the ledger holds it active, the API no longer lists
                     it: someone revoked it without tokenaudit. --apply
                     records it (a revoked_elsewhere event).
  revoked but live   the ledger recorded its revocation, yet the API
                     lists it: it still works. Revoke it again.

  seen live          --apply also records that it was seen live (a
                     seen_live event): the ledger shows it active again.

Only the tokens recorded for this API (the same WOLEET_API_URL and
identity) are compared; reconcile says how many it left out. --apply also
settles every outcome left unknown (an issue request that got no answer, a
revoke that may have reached the server) with what the list shows.

--apply refuses to record as revoked elsewhere more than half of the live
tokens compared (and more than 3) in one run, the sign of a wrong URL or
account: it shows them, asks on a terminal, and needs --yes otherwise.

Without --apply nothing is written (the ledger is opened read-only). The
exit status is 0 when the comparison ran, whatever it found; --format json
says "in_sync". For a check that fails when the two differ, run
"tokenaudit check --reconcile".

--apply --record-run also records a reconciled event when the run is
complete (in the transaction of its last events, or alone when the two
agree), counting what it compared, so that the ledger knows when it last
agreed with the API: "tokenaudit check --reconciled-within 24h" looks for
it. Without --record-run a reconcile that finds the two in sync writes
nothing, and leaves no trace of having run. A reconcile without --apply,
refused or failed records nothing.

--reason TEXT, with --apply, is recorded in each event as detail.reason.`,
		Example: `  tokenaudit reconcile
  tokenaudit reconcile --apply
  tokenaudit reconcile --apply --record-run --reason nightly   # from cron
  tokenaudit reconcile --format json | jq .in_sync`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason != "" && !apply {
				return usageErrorf("--reason is recorded with --apply: without it nothing is written")
			}
			if record && !apply {
				return usageErrorf("--record-run records with --apply: without it nothing is written")
			}
			if err := checkReason(reason); err != nil {
				return err
			}
			s, err := a.openSession(af, lf, apply)
			if err != nil {
				return err
			}
			defer s.Close()
			opts := audit.ReconcileOptions{Apply: apply, Yes: yes, InFlight: inFlight, Reason: reason, Summary: apply && record}
			if inFlight == 0 {
				opts.InFlight = -1
			}
			res, err := s.auditor.Reconcile(cmd.Context(), opts)
			var mass *audit.MassRevocationError
			if errors.As(err, &mass) {
				if werr := a.writeReconcile(a.stdout, res, false); werr != nil {
					return werr
				}
				ok, cerr := a.confirm(cmd.Context(), fmt.Sprintf("Record these %d live tokens as revoked elsewhere?", mass.Missing))
				if errors.Is(cerr, context.Canceled) {
					return &exitStatusError{code: exitInterrupted, err: errors.New("interrupted: nothing was recorded")}
				}
				if cerr != nil || !ok {
					return withHint(tidy(err), "if the API is the right one, run again with --yes to record them")
				}
				opts.Yes = true
				res, err = s.auditor.Reconcile(cmd.Context(), opts)
			}
			if err != nil && res == nil {
				return s.apiError(err)
			}
			if werr := a.writeReconcile(a.stdout, res, apply && err == nil); werr != nil {
				return werr
			}
			if err != nil {
				return s.apiError(err)
			}
			if !a.format.Structured() {
				a.reconcileHints(res, apply)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&apply, "apply", false, "record what was found in the ledger")
	cmd.Flags().BoolVar(&yes, "yes", false, "with --apply, record even if most live tokens are missing from the API's list")
	cmd.Flags().BoolVar(&record, "record-run", false, `with --apply, record a reconciled event saying that this complete reconcile ran (for "check --reconciled-within")`)
	registerReason(cmd, &reason)
	cmd.Flags().DurationVar(&inFlight, "in-flight", audit.DefaultInFlight,
		"an issue request younger than this may still record its token: leave its cdata's unknown tokens for later (0: none)")
	af.register(cmd)
	lf.register(cmd)
	return cmd
}

// reconcileSheet lists reconcile's findings, one row a token.
func (a *app) reconcileSheet(res *audit.ReconcileResult) *output.Sheet {
	recorded := map[string]audit.Event{}
	for _, e := range res.Recorded {
		recorded[e.Fingerprint] = e
	}
	s := &output.Sheet{Header: []string{"finding", "fingerprint", "cdata", "subject", "recorded"}}
	rec := func(fp string) string {
		if e, ok := recorded[fp]; ok {
			return string(e.Kind) + " at seq " + strconv.FormatInt(e.Seq, 10)
		}
		return ""
	}
	for _, t := range res.Unknown {
		s.Append(findingNotInLedger, a.fpCell(t.Fingerprint), t.CData, t.Subject, rec(t.Fingerprint))
	}
	for _, t := range res.Missing {
		s.Append(findingRevokedElsewhere, a.fpCell(t.Fingerprint), t.CData, t.Subject, rec(t.Fingerprint))
	}
	for _, t := range res.RevokedButListed {
		s.Append(findingRevokedButLive, a.fpCell(t.Fingerprint), t.CData, t.Subject, rec(t.Fingerprint))
	}
	return s
}

// writeReconcile writes reconcile's result: a sentence and the findings
// for people, the whole result for programs.
func (a *app) writeReconcile(w io.Writer, res *audit.ReconcileResult, applied bool) error {
	if a.format.Structured() {
		return a.writeDocument(w, reconcileRecord{InSync: res.InSync(), Applied: applied, ReconcileResult: res})
	}
	sheet := a.reconcileSheet(res)
	if a.format == output.CSV {
		return sheet.Write(w, output.CSV)
	}
	style := a.style()
	summary := fmt.Sprintf("The API lists %s; the ledger holds %d active for it.", countTokens(res.Listed, "live token", ""), res.LedgerActive)
	if n := res.LeftOut.OtherAPI + res.LeftOut.NoAPI; n > 0 {
		summary += fmt.Sprintf(" Left out: %d live token(s) recorded for another API or account, %d recorded with no API.",
			res.LeftOut.OtherAPI, res.LeftOut.NoAPI)
	}
	if res.InSync() {
		fmt.Fprintf(w, "%s %s\n", summary, style.Good("In sync."))
		return nil
	}
	diff := "1 difference:"
	if len(sheet.Rows) != 1 {
		diff = fmt.Sprintf("%d differences:", len(sheet.Rows))
	}
	fmt.Fprintf(w, "%s %s\n", summary, style.Bad(diff))
	return sheet.Write(w, a.format)
}

// reconcileHints says on standard error what to do about the findings.
func (a *app) reconcileHints(res *audit.ReconcileResult, apply bool) {
	switch n := len(res.Recorded); {
	case n == 1:
		fmt.Fprintf(a.stderr, "tokenaudit: recorded 1 event (seq %d)\n", res.Recorded[0].Seq)
	case n > 1:
		fmt.Fprintf(a.stderr, "tokenaudit: recorded %d events (seq %d to %d)\n", n, res.Recorded[0].Seq, res.Recorded[n-1].Seq)
	}
	if !apply && len(res.Unknown)+len(res.Missing) > 0 {
		fmt.Fprintln(a.stderr, `tokenaudit: hint: run "tokenaudit reconcile --apply" to record the differences`)
	}
	for _, t := range res.RevokedButListed {
		fmt.Fprintf(a.stderr, "tokenaudit: warning: sha256:%s (cdata %s) is recorded as revoked but the API lists it as live: "+
			"revoke it again with \"tokenaudit revoke --fingerprint %s --yes\"\n", shortFP(t.Fingerprint), quoteCData(t.CData), shortFP(t.Fingerprint))
	}
}
