package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

func (a *app) rotateCommand() *cobra.Command {
	var (
		af         apiFlags
		lf         ledgerFlags
		cdata      string
		keepNewest int
		dryRun     bool
		reason     string
	)
	cmd := &cobra.Command{
		Use:   "rotate --cdata TEXT [--keep-newest N] [--dry-run] [--reason TEXT]",
		Short: "Replace the live tokens of a cdata with a new one",
		Long: `Rotate the tokens of one cdata: issue a new token for it, print it, and only
once it has been written revoke the other live tokens with that cdata, as the
API listed them (GET /user/tokens) before the new one was issued.

The new token goes to standard output alone, as "tokenaudit issue" prints
it, so that T=$(tokenaudit rotate --cdata acme) works (--format json and
jsonl print its record). What happened to the old tokens goes to standard
error as a table (with --format jsonl, also one JSON line per old token on
standard output, after the token's).

The events are linked: the new token's issue event lists the tokens it
replaces (detail.rotates) and each revoke event names the new token
(detail.rotated_by), so that "events" and "report" show a rotation as one
act. --reason TEXT is recorded on every event (detail.reason).

--keep-newest N leaves the N newest old tokens live: a grace set for
holders that have not switched yet (oldest by the ledger's record; tokens
the ledger never saw count as the oldest). --dry-run lists what would be
revoked and kept, and issues nothing.

If printing the new token fails, it is revoked again and nothing else is
revoked. If revoking an old token fails, the new token stands, the failure is
recorded (revoke_failed) and listed, the others are still revoked, and the
exit status is the first failure's (6 for an API error, 5 when the API
revoked a token the ledger could not record).`,
		Example: `  tokenaudit rotate --cdata acme --dry-run
  T=$(tokenaudit rotate --cdata acme --reason "yearly rotation")
  tokenaudit rotate --cdata ci-bot --keep-newest 1 --format json`,
		Args:        noArgs,
		Annotations: map[string]string{annotationNoEnvFormat: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("cdata") {
				return usageErrorf("say whose tokens to rotate with --cdata")
			}
			if keepNewest < 0 {
				return usageErrorf("--keep-newest %d is negative", keepNewest)
			}
			if err := checkReason(reason); err != nil {
				return err
			}
			s, err := a.openSession(af, lf, !dryRun)
			if err != nil {
				return err
			}
			defer s.Close()
			return a.rotate(cmd, s, audit.RotateOptions{CData: cdata, KeepNewest: keepNewest, Reason: reason, DryRun: dryRun})
		},
	}
	cmd.Flags().StringVar(&cdata, "cdata", "", "rotate the live tokens with this cdata")
	cmd.Flags().IntVar(&keepNewest, "keep-newest", 0, "leave this many of the newest old tokens live")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only show what would be revoked and kept")
	registerReason(cmd, &reason)
	af.register(cmd)
	lf.register(cmd)
	a.completeFromLedger(cmd, &lf, true)
	return cmd
}

// rotate runs a rotation and reports it.
func (a *app) rotate(cmd *cobra.Command, s *auditSession, opts audit.RotateOptions) error {
	ctx := cmd.Context()
	p, err := a.newIssuePrinter(a.format == output.JSONL, false)
	if err != nil && !opts.DryRun {
		return err
	}
	opts.Deliver = func(res *audit.IssueResult) error { return p.deliver(ctx, newIssueRecord(res)) }
	bar := &progressBar{w: a.stderr, enabled: a.stderrTTY, label: "revoking"}
	opts.Progress = func(pr audit.RevokeProgress) { bar.update(pr.Done, pr.Total) }
	// What the ledger knew of each old token, before.
	states := map[string]string{}
	var lookupErr error
	lookup := func(r *audit.RotateResult) bool {
		for _, t := range append(append([]audit.ListedToken(nil), r.Revoke...), r.Kept...) {
			if states[t.Fingerprint], lookupErr = ledgerState(ctx, s.ledger, t.Fingerprint); lookupErr != nil {
				return false
			}
		}
		return true
	}
	opts.Confirm = lookup
	res, err := s.auditor.Rotate(ctx, opts)
	bar.clear()
	if lookupErr != nil {
		return lookupErr
	}
	if res == nil {
		return s.apiError(err)
	}
	if opts.DryRun && !lookup(res) {
		return lookupErr
	}
	what := "with cdata " + quoteCData(opts.CData)
	if len(res.NotListed) > 0 {
		fmt.Fprintf(a.stderr, "tokenaudit: %s the ledger holds active but the API no longer lists: run \"tokenaudit reconcile\" to record them\n",
			countTokens(len(res.NotListed), "token", what))
	}
	if opts.DryRun {
		rw := a.newResultWriter(a.stdout, "", revokeHeader...)
		if err := a.addPlanned(rw, res.Revoke, states, "would revoke"); err != nil {
			return err
		}
		if err := a.addPlanned(rw, res.Kept, states, "would keep"); err != nil {
			return err
		}
		if err := rw.close(); err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "tokenaudit: dry run: a new token would be issued %s, %s revoked and %d kept\n",
			what, countTokens(len(res.Revoke), "old token", ""), len(res.Kept))
		return nil
	}
	if res.Issued == nil {
		return s.apiError(err) // nothing was issued, nothing revoked
	}
	if len(res.Revoked)+len(res.Failed) == 0 && err != nil {
		return s.apiError(err) // the new token could not be handed out
	}

	// The results of the old tokens: on standard error for people, and as
	// JSON lines after the token's with --format jsonl.
	var out io.Writer = a.stderr
	format := a.format
	if format != output.JSONL {
		format = output.Table
	} else {
		out = a.stdout
	}
	view := *a
	view.format = format
	rw := view.newResultWriter(out, "", revokeHeader...)
	firstFail, werr := view.addRevokeResults(rw, res.Revoke, states, res.Revoked, res.Failed)
	if werr == nil {
		werr = view.addPlanned(rw, res.Kept, states, "kept")
	}
	if werr != nil {
		return werr
	}
	if len(res.Revoke)+len(res.Kept) > 0 {
		if err := rw.close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stderr, "tokenaudit: rotated %s: issued sha256:%s (ledger seq %d), revoked %d of %d old tokens, kept %d\n",
		what, shortFP(res.Issued.Fingerprint), res.Issued.Seq, len(res.Revoked), len(res.Revoke), len(res.Kept))
	if err != nil {
		fmt.Fprintf(a.stderr, "tokenaudit: the new token stands; %d of %d old tokens were not revoked: they are still live, or their outcome is recorded as unknown\n",
			len(res.Revoke)-len(res.Revoked), len(res.Revoke))
		if firstFail == nil {
			return s.apiError(err)
		}
		return &silentError{code: exitCode(firstFail)}
	}
	return nil
}
