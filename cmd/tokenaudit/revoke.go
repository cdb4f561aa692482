package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
	"github.com/tokenaudit/tokenaudit/woleet"
)

// revokeFlags are the revoke command's flags.
type revokeFlags struct {
	api          apiFlags
	ledger       ledgerFlags
	cdata        string
	cdataPrefix  bool
	fingerprint  string
	dryRun, yes  bool
	force        bool
	selectByFlag bool // --cdata or --fingerprint was given
	reason       string
}

// revokeRecord is the result of one revocation.
type revokeRecord struct {
	// Input names where the token came from ("argument 1", "stdin line
	// 3"); empty when it was selected from the API's list.
	Input       string `json:"input,omitempty"`
	Fingerprint string `json:"fingerprint"`
	CData       string `json:"cdata"`
	// Ledger is what the ledger knew of the token before: active, revoked,
	// or unknown (never seen: it is recorded now).
	Ledger string `json:"ledger"`
	// Result is revoked, failed, malformed, "already revoked" (the ledger
	// has it as revoked: not sent, and Seq is the revocation's), or in a
	// dry run "would revoke".
	Result string `json:"result"`
	// Seq is the seq of the revoke event, or of revoke_failed.
	Seq   *int64 `json:"seq"`
	Error string `json:"error,omitempty"`
}

// The ledger column's values.
const (
	ledgerUnknown = "unknown"
)

// resultAlreadyRevoked is the result of a given token that the ledger has
// as revoked: it is not sent again (see revokeTokens).
const resultAlreadyRevoked = "already revoked"

// cells renders the record for a table or CSV, with the input column
// when the tokens were given rather than selected.
func (r *revokeRecord) cells(a *app, input bool) []string {
	seq := ""
	if r.Seq != nil {
		seq = strconv.FormatInt(*r.Seq, 10)
	}
	note := r.Error
	if r.Ledger == ledgerUnknown && r.Result == "revoked" {
		note = "never seen by the ledger: recorded now"
	}
	if r.Result == resultAlreadyRevoked {
		note = "not sent again: --force sends it"
	}
	cells := []string{a.fpCell(r.Fingerprint), r.CData, r.Ledger, r.Result, seq, note}
	if input {
		return append([]string{r.Input}, cells...)
	}
	return cells
}

// revokeHeader names the result columns; given tokens add "input" first.
var revokeHeader = []string{"fingerprint", "cdata", "ledger", "result", "seq", "note"}

func (a *app) revokeCommand() *cobra.Command {
	var f revokeFlags
	cmd := &cobra.Command{
		Use:   "revoke [TOKEN | - | @FILE]... | --cdata TEXT | --fingerprint PREFIX",
		Short: "Revoke tokens through the API and record it in the ledger",
		Long: `Revoke tokens through the Woleet API and record each outcome in the ledger
(revoke, or revoke_failed when the API refused).

Given tokens (arguments, - or @FILE), it revokes each. A token the ledger
never saw is revoked too, recorded first as an import, and the result says
so. A token the ledger has as revoked is reported "already revoked (seq N)"
and not sent again (--dry-run says so too); --force sends it anyway. Nothing
stops at a token the API refuses (already revoked, unknown); an API that is
unreachable or refuses the credentials stops the run.

With --cdata or --fingerprint it finds the live tokens through the API's list
(GET /user/tokens): those whose cdata is TEXT (starts with it, with
--cdata-prefix), or whose fingerprint starts with PREFIX (at least 8 hex
digits). It shows them and asks before revoking on a terminal; --yes revokes
without asking (needed when there is no terminal), --dry-run only lists. What
is revoked is exactly what was shown. Tokens the ledger holds active that the
API no longer lists are reported: "tokenaudit reconcile" records them.

The results list each token: its fingerprint, cdata, what the ledger knew
before (active, revoked, unknown), the result and the seq of the event
recorded. When some fail, the exit status is the first failure's: 2 for a
line that is not a token, 6 for a revocation the API refused, 5 when the
API revoked a token that the ledger could not record (run reconcile once
the ledger works).

--reason TEXT says why ("leaked in a ticket"), and is recorded in each
event as detail.reason.

Ctrl-C stops after the request under way (Ctrl-C at the [y/N] question
revokes nothing): the results so far are printed, the message says how
many were revoked and which command revokes the rest, and the exit status
is 130.

` + tokenInputHelp,
		Example: `  printf '%s\n' "$T" | tokenaudit revoke -
  tokenaudit revoke @leaked.txt --reason "pasted in ticket OPS-1234"
  tokenaudit revoke --cdata acme --dry-run
  tokenaudit revoke --cdata acme --yes
  tokenaudit revoke --fingerprint 3fa2c19b0d4e`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.selectByFlag = cmd.Flags().Changed("cdata") || cmd.Flags().Changed("fingerprint")
			switch {
			case f.selectByFlag && len(args) > 0:
				return usageErrorf("give tokens or select them with --cdata or --fingerprint, not both")
			case cmd.Flags().Changed("cdata") && cmd.Flags().Changed("fingerprint"):
				return usageErrorf("select tokens with --cdata or with --fingerprint, not both")
			case f.cdataPrefix && !cmd.Flags().Changed("cdata"):
				return usageErrorf("--cdata-prefix needs --cdata")
			case f.cdataPrefix && f.cdata == "":
				return usageErrorf("--cdata-prefix with an empty --cdata would select every token")
			case cmd.Flags().Changed("fingerprint") && checkFingerprintFlag(f.fingerprint) != nil:
				return checkFingerprintFlag(f.fingerprint)
			case f.dryRun && f.yes:
				return usageErrorf("--dry-run and --yes contradict each other")
			case checkReason(f.reason) != nil:
				return checkReason(f.reason)
			case f.force && f.selectByFlag:
				return usageErrorf("--force is for given tokens: --cdata and --fingerprint select only tokens the API lists as live")
			case f.selectByFlag && !f.dryRun && !f.yes && !(a.stdinTTY && a.stderrTTY):
				return withHint(usageErrorf("refusing to revoke without confirmation: there is no terminal to ask on"),
					"add --yes to revoke what matches, or --dry-run to only list it")
			}
			if !f.selectByFlag {
				args, err := a.tokenArgs(args)
				if err != nil {
					return withHint(err, "or select live tokens through the API with --cdata or --fingerprint")
				}
				s, err := a.openSession(f.api, f.ledger, !f.dryRun)
				if err != nil {
					return err
				}
				defer s.Close()
				return a.revokeTokens(cmd.Context(), s, args, f)
			}
			s, err := a.openSession(f.api, f.ledger, !f.dryRun)
			if err != nil {
				return err
			}
			defer s.Close()
			return a.revokeWhere(cmd.Context(), s, f)
		},
	}
	cmd.Flags().StringVar(&f.cdata, "cdata", "", "revoke the live tokens with this cdata")
	cmd.Flags().BoolVar(&f.cdataPrefix, "cdata-prefix", false, "with --cdata: match every cdata that starts with it")
	cmd.Flags().StringVar(&f.fingerprint, "fingerprint", "", "revoke the live tokens whose fingerprint starts with this (at least 8 hex digits)")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "only show what would be revoked")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "revoke what --cdata or --fingerprint selects without asking")
	registerReason(cmd, &f.reason)
	cmd.Flags().BoolVar(&f.force, "force", false, "send the revocation of a given token even when the ledger has it as revoked")
	f.api.register(cmd)
	f.ledger.register(cmd)
	a.completeFromLedger(cmd, &f.ledger, true)
	return cmd
}

// ledgerState says what the ledger knows of a token: active, revoked or
// unknown.
func ledgerState(ctx context.Context, l *audit.Ledger, fingerprint string) (string, error) {
	t, err := ledgerToken(ctx, l, fingerprint)
	if err != nil || t == nil {
		return ledgerUnknown, err
	}
	return string(t.State), nil
}

// ledgerToken returns what the ledger knows of a token, or nil when it
// never saw it.
func ledgerToken(ctx context.Context, l *audit.Ledger, fingerprint string) (*audit.Token, error) {
	t, err := l.Token(ctx, fingerprint)
	switch {
	case errors.Is(err, audit.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, ledgerError(err)
	}
	return &t, nil
}

// stopsRun reports whether an API error is about the API rather than one
// token (unreachable, credentials refused, rate limited, server error), so
// that revoking the next tokens would fail the same way.
func stopsRun(err error) bool {
	return classify(err) == exitAPI && !errors.Is(err, woleet.ErrBadRequest)
}

// revokeTokens revokes the tokens given on the command line, standard input
// or files, one at a time, in input order. A token the ledger has as
// revoked is not sent again (the API would refuse it) unless f.force.
func (a *app) revokeTokens(ctx context.Context, s *auditSession, args []string, f revokeFlags) error {
	dryRun := f.dryRun
	rw := a.newResultWriter(a.stdout, "", append([]string{"input"}, revokeHeader...)...)
	var (
		total, failed, firstCode int
		revoked                  int
		underWay                 string // the input whose request Ctrl-C cut short
		opaque                   int    // tokens that are not JWTs
		stop                     error
		unknown                  []revokeRecord
	)
	defer func() { a.warnNotJWT(opaque) }()
	fail := func(rec *revokeRecord, err error) {
		failed++
		if firstCode == 0 {
			firstCode = exitCode(err)
		}
		rec.Error = errorText(err)
		if rec.Result == "" {
			rec.Result = "failed"
		}
		if !a.format.Structured() {
			fmt.Fprintf(a.stderr, "tokenaudit: %s: %s\n", rec.Input, rec.Error)
		}
	}
	err := tokenstream.Read(ctx, args, tokenstream.Options{Stdin: a.stdin}, func(it tokenstream.Item) error {
		total++
		rec := revokeRecord{Input: it.Where()}
		if it.Err != nil {
			rec.Result = "malformed"
			fail(&rec, it.Err)
			return rw.add(rec, rec.cells(a, true)...)
		}
		cdata, _, perr := jwtinspect.CData(it.Token)
		switch {
		case perr != nil && opaqueToken(it.Token):
			opaque++ // a token all the same, with no cdata
		case perr != nil:
			rec.Result = "malformed"
			fail(&rec, perr)
			return rw.add(rec, rec.cells(a, true)...)
		}
		rec.Fingerprint, rec.CData = jwtinspect.Fingerprint(it.Token), cdata
		known, err := ledgerToken(ctx, s.ledger, rec.Fingerprint)
		if err != nil {
			return err
		}
		state := ledgerUnknown
		if known != nil {
			state = string(known.State)
		}
		rec.Ledger = state
		if known != nil && known.State == audit.StateRevoked && known.RevokedSeq != nil && !f.force {
			rec.Result, rec.Seq = resultAlreadyRevoked, known.RevokedSeq
			if !a.format.Structured() {
				fmt.Fprintf(a.stderr, "tokenaudit: %s: sha256:%s is already revoked (seq %d): not sent again; --force sends it anyway\n",
					rec.Input, shortFP(rec.Fingerprint), *known.RevokedSeq)
			}
			return rw.add(rec, rec.cells(a, true)...)
		}
		if dryRun {
			rec.Result = "would revoke"
			return rw.add(rec, rec.cells(a, true)...)
		}
		ev, err := s.auditor.RevokeWithOptions(ctx, it.Token, audit.RevokeOptions{Reason: f.reason})
		if err != nil && errors.Is(err, context.Canceled) {
			underWay = rec.Input
		}
		if err != nil && stopsRun(err) {
			// Reported once, as the command's error, after the results.
			stop = s.apiError(err)
			rec.Result, rec.Error = "failed", errorText(stop)
			if aerr := rw.add(rec, rec.cells(a, true)...); aerr != nil {
				return aerr
			}
			return errStopRun
		}
		if err != nil {
			fail(&rec, err)
			var ue *audit.UnrecordedError
			if errors.As(err, &ue) {
				rec.Result = "revoked, unrecorded"
			}
		} else {
			revoked++
			rec.Result, rec.Seq = "revoked", &ev.Seq
			if state == ledgerUnknown {
				unknown = append(unknown, rec)
			}
		}
		return rw.add(rec, rec.cells(a, true)...)
	})
	if errors.Is(err, errStopRun) {
		err = nil
	}
	if cerr := rw.close(); err == nil {
		err = cerr
	}
	if ctx.Err() != nil {
		// Ctrl-C: the results above say what was done.
		hints := []string{"to revoke the rest, run the same command again: the tokens the ledger has as revoked are not sent again"}
		if underWay != "" {
			hints = append([]string{underWayHint(underWay)}, hints...)
		}
		return &exitStatusError{code: exitInterrupted, err: withHint(
			fmt.Errorf("interrupted at token %d: revoked %d", total, revoked), hints...)}
	}
	if err != nil {
		return ledgerError(err)
	}
	for _, u := range unknown {
		fmt.Fprintf(a.stderr, "tokenaudit: %s: sha256:%s was not in the ledger: it is revoked, and recorded now (import, then revoke at seq %d)\n",
			u.Input, shortFP(u.Fingerprint), *u.Seq)
	}
	if stop != nil {
		if total > 1 {
			stop = fmt.Errorf("stopped at token %d: %w", total, stop)
		}
		return stop
	}
	if total == 0 {
		return usageErrorf("no token given: the input held no token")
	}
	if failed > 0 {
		if total > 1 {
			fmt.Fprintf(a.stderr, "tokenaudit: %d of %d tokens were not revoked\n", failed, total)
		}
		return &silentError{code: firstCode}
	}
	return nil
}

// errStopRun ends a stream of revocations early.
var errStopRun = errors.New("stop")

// revokeWhere revokes the live tokens the API lists that --cdata or
// --fingerprint selects, after showing them and, on a terminal, asking.
func (a *app) revokeWhere(ctx context.Context, s *auditSession, f revokeFlags) error {
	states := map[string]string{}
	var lookupErr error
	lookup := func(matched []audit.ListedToken) {
		for _, t := range matched {
			if lookupErr != nil {
				return
			}
			states[t.Fingerprint], lookupErr = ledgerState(ctx, s.ledger, t.Fingerprint)
		}
	}
	what := a.selection(f)
	declined := false
	interrupted := false // Ctrl-C at the question
	bar := &progressBar{w: a.stderr, enabled: a.stderrTTY, label: "revoking"}
	opts := audit.RevokeWhereOptions{CData: f.cdata, CDataPrefix: f.cdataPrefix, Fingerprint: f.fingerprint, DryRun: f.dryRun,
		Reason: f.reason,
		Confirm: func(r *audit.RevokeWhereResult) bool {
			lookup(r.Matched)
			if lookupErr != nil {
				return false
			}
			if f.yes {
				fmt.Fprintf(a.stderr, "tokenaudit: revoking %s\n", countTokens(len(r.Matched), "live token", what))
				return true
			}
			plan := a.planSheet(r.Matched, states)
			plan.Title = "Live tokens " + what + ":"
			plan.Write(a.stderr, output.Table)
			ok, err := a.confirm(ctx, fmt.Sprintf("Revoke these %d tokens?", len(r.Matched)))
			declined = !ok || err != nil
			interrupted = ctx.Err() != nil
			return ok && err == nil
		},
		Progress: func(p audit.RevokeProgress) {
			if !f.dryRun {
				bar.update(p.Done, p.Total)
			}
		},
	}
	res, err := s.auditor.RevokeWhere(ctx, opts)
	bar.clear()
	if lookupErr != nil {
		return lookupErr
	}
	if res == nil {
		return s.apiError(err)
	}
	if len(res.NotListed) > 0 {
		fmt.Fprintf(a.stderr, "tokenaudit: %s the ledger holds active but the API no longer lists: run \"tokenaudit reconcile\" to record them\n",
			countTokens(len(res.NotListed), "token", what))
	}
	switch {
	case len(res.Matched) == 0:
		fmt.Fprintf(a.stderr, "tokenaudit: no live token %s\n", what)
		if a.format.Structured() || a.format == output.CSV {
			return a.newResultWriter(a.stdout, "", revokeHeader...).close()
		}
		return nil
	case f.dryRun:
		lookup(res.Matched)
		if lookupErr != nil {
			return lookupErr
		}
		rw := a.newResultWriter(a.stdout, "", revokeHeader...)
		if err := a.addPlanned(rw, res.Matched, states, "would revoke"); err != nil {
			return err
		}
		if err := rw.close(); err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "tokenaudit: dry run: %s would be revoked\n", countTokens(len(res.Matched), "token", ""))
		return nil
	case declined && interrupted:
		return &exitStatusError{code: exitInterrupted, err: errors.New("interrupted: nothing was revoked")}
	case declined:
		return &exitStatusError{code: exitError, err: errors.New("cancelled: nothing was revoked")}
	}

	rw := a.newResultWriter(a.stdout, "", revokeHeader...)
	firstFail, werr := a.addRevokeResults(rw, res.Matched, states, res.Revoked, res.Failed)
	if werr != nil {
		return werr
	}
	if cerr := rw.close(); cerr != nil {
		return cerr
	}
	if ctx.Err() != nil {
		// Ctrl-C: the results above say what was done; a token whose
		// request was under way when it came may or may not be revoked,
		// and the API lists it again if it is not.
		hints := []string{"to revoke the rest, run: " + a.finishCommand(f)}
		for _, fl := range res.Failed {
			if errors.Is(fl.Err, context.Canceled) {
				hints = append([]string{underWayHint("sha256:" + shortFP(fl.Token.Fingerprint))}, hints...)
			}
		}
		return &exitStatusError{code: exitInterrupted, err: withHint(
			fmt.Errorf("interrupted: revoked %d of %d %s", len(res.Revoked), len(res.Matched), what), hints...)}
	}
	fmt.Fprintf(a.stderr, "tokenaudit: revoked %d of %d\n", len(res.Revoked), len(res.Matched))
	if err != nil {
		// The results above name each failure; the status is the first's.
		if firstFail == nil {
			return s.apiError(err)
		}
		fmt.Fprintf(a.stderr, "tokenaudit: %d of %d tokens were not revoked\n", len(res.Matched)-len(res.Revoked), len(res.Matched))
		return &silentError{code: exitCode(firstFail)}
	}
	return nil
}

// addPlanned adds a row per token with the given result ("would revoke"):
// what a dry run or a kept grace set shows.
func (a *app) addPlanned(rw *resultWriter, tokens []audit.ListedToken, states map[string]string, result string) error {
	for _, t := range tokens {
		rec := revokeRecord{Fingerprint: t.Fingerprint, CData: t.CData, Ledger: states[t.Fingerprint], Result: result}
		if err := rw.add(rec, rec.cells(a, false)...); err != nil {
			return err
		}
	}
	return nil
}

// addRevokeResults adds a row per token: revoked (with the seq of its
// event), failed (with why; "revoked, unrecorded" when the API revoked it
// but the ledger could not record it) or not attempted. It returns the
// first failure, and the error of writing the rows.
func (a *app) addRevokeResults(rw *resultWriter, tokens []audit.ListedToken, states map[string]string,
	revoked []audit.Event, failed []audit.RevokeFailure) (firstFail, err error) {
	bySeq := map[string]audit.Event{}
	for _, e := range revoked {
		bySeq[e.Fingerprint] = e
	}
	failures := map[string]error{}
	for _, fl := range failed {
		failures[fl.Token.Fingerprint] = fl.Err
	}
	for _, t := range tokens {
		rec := revokeRecord{Fingerprint: t.Fingerprint, CData: t.CData, Ledger: states[t.Fingerprint]}
		if e, ok := bySeq[t.Fingerprint]; ok {
			rec.Result, rec.Seq = "revoked", &e.Seq
		} else if ferr, ok := failures[t.Fingerprint]; ok {
			rec.Result, rec.Error = "failed", errorText(ferr)
			if errors.As(ferr, new(*audit.UnrecordedError)) {
				rec.Result = "revoked, unrecorded"
			}
			firstFail = cmpOr(firstFail, ferr)
		} else {
			rec.Result = "not attempted"
		}
		if err := rw.add(rec, rec.cells(a, false)...); err != nil {
			return firstFail, err
		}
	}
	return firstFail, nil
}

// underWayHint says what to do about a revocation that Ctrl-C cut short
// after it was sent: the API may have acted.
func underWayHint(what string) string {
	return "the revocation of " + what + " was under way at Ctrl-C: whether the API acted is unknown until " +
		"\"tokenaudit reconcile --apply\" records it"
}

// finishCommand is the command line that revokes what an interrupted
// "revoke --cdata" or "revoke --fingerprint" left live: the same selection,
// which the API now lists without the tokens already revoked.
func (a *app) finishCommand(f revokeFlags) string {
	args := []string{"tokenaudit", "revoke"}
	if f.fingerprint != "" {
		args = append(args, "--fingerprint", shellQuote(f.fingerprint))
	} else {
		args = append(args, "--cdata", shellQuote(f.cdata))
		if f.cdataPrefix {
			args = append(args, "--cdata-prefix")
		}
	}
	return strings.Join(append(args, "--yes"), " ")
}

// cmpOr returns a unless it is nil, else b.
func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// selection describes what --cdata or --fingerprint selects, for messages:
// `with cdata "acme"`.
func (a *app) selection(f revokeFlags) string {
	switch {
	case f.fingerprint != "":
		return "with fingerprint " + output.Clean(f.fingerprint) + "…"
	case f.cdataPrefix:
		return "with cdata starting with " + quoteCData(f.cdata)
	}
	return "with cdata " + quoteCData(f.cdata)
}

// countTokens says "3 live tokens with cdata "acme"" with the right plural.
func countTokens(n int, noun, what string) string {
	s := fmt.Sprintf("%d %s", n, noun)
	if n != 1 {
		s += "s"
	}
	if what != "" {
		s += " " + what
	}
	return s
}

// planSheet lists tokens about to be revoked, for the person confirming.
func (a *app) planSheet(matched []audit.ListedToken, states map[string]string) *output.Sheet {
	s := &output.Sheet{Header: []string{"fingerprint", "cdata", "subject", "ledger"}}
	for _, t := range matched {
		s.Append(shortFP(t.Fingerprint), t.CData, t.Subject, states[t.Fingerprint])
	}
	return s
}
