package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

// policyError reports that a policy of "tokenaudit check" does not hold;
// the violations have been printed. It exits with exitPolicy.
type policyError struct {
	violated, checked int
}

func (e *policyError) Error() string {
	return fmt.Sprintf("%d of %d policies violated", e.violated, e.checked)
}

// checkPolicies are the policies of "tokenaudit check", as given by flags
// or TOKENAUDIT_POLICY_* variables; a zero value is a policy not asked for.
type checkPolicies struct {
	maxAge            time.Duration
	maxLivePerCData   int
	noPending         bool
	reconcile         bool
	reconciledWithin  time.Duration
	verify            bool
	checkpointWithin  time.Duration
	inFlight          time.Duration
	maxAgeText        string
	reconciledText    string
	checkpointText    string
	maxLivePerCDataOK bool
}

// policyResult is how one policy fared.
type policyResult struct {
	Policy     string `json:"policy"`
	Limit      string `json:"limit"`
	Held       bool   `json:"held"`
	Violations int    `json:"violations"`
}

// violation is one fact that breaks a policy.
type violation struct {
	Policy      string `json:"policy"`
	Fingerprint string `json:"fingerprint,omitempty"`
	CData       string `json:"cdata,omitempty"`
	Seq         *int64 `json:"seq,omitempty"`
	Message     string `json:"message"`
}

// checkRecord is the JSON form of "tokenaudit check".
type checkRecord struct {
	OK         bool           `json:"ok"`
	Ledger     string         `json:"ledger"`
	CheckedAt  time.Time      `json:"checked_at"`
	Policies   []policyResult `json:"policies"`
	Violations []violation    `json:"violations"`
}

// The policy variables: TOKENAUDIT_POLICY_ and the flag's name in capitals,
// dashes as underscores.
const policyEnvPrefix = "TOKENAUDIT_POLICY_"

// policyEnv names the variable of a flag: max-age → TOKENAUDIT_POLICY_MAX_AGE.
func policyEnv(flag string) string {
	return policyEnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// policyFlags lists the flags that are policies, in the order they are checked.
var policyFlags = []string{"max-age", "max-live-per-cdata", "no-pending", "reconcile", "reconciled-within", "verify", "checkpoint-within"}

func (a *app) checkCommand() *cobra.Command {
	var (
		af apiFlags
		lf ledgerFlags
		p  checkPolicies
	)
	vars := make([]string, len(policyFlags))
	for i, f := range policyFlags {
		vars[i] = policyEnv(f)
	}
	cmd := &cobra.Command{
		Use:   "check [--max-age 90d] [--max-live-per-cdata N] [--no-pending] [--reconcile] [--reconciled-within 24h] [--verify] [--checkpoint-within 7d]",
		Short: "Check policies on the ledger, for cron and CI: exit 7 when one is violated",
		Long: `Check that the ledger meets the policies given, and exit 0 when every one
holds, 7 when one is violated (5 when the ledger fails to verify, which wins
over 7). The policies and what each found are listed; then the violations,
one row per token or event (--format json prints both as one document).

  --max-age 90d            no live token older than that, by the earliest
                           evidence of it (the ledger's record or the
                           token's own iat: first_seen_at)
  --max-live-per-cdata N   no cdata holds more than N live tokens
  --no-pending             no issue request or revoke without a known
                           outcome (requests younger than --in-flight are
                           left alone: their process may still record them)
  --reconcile              run a reconcile now, read-only, against the API
                           (needs the API's credentials): any difference
                           is a violation
  --reconciled-within 24h  the last complete reconcile recorded is that
                           recent: "reconcile --apply --record-run"
                           records a reconciled event when it completes,
                           and a reconcile that finds the two in sync
                           otherwise leaves no trace
  --verify                 the ledger verifies ("tokenaudit ledger verify")
  --checkpoint-within 7d   the newest signed checkpoint stored in the
                           ledger is that recent

Each policy can also come from a variable, so that a cron line stays short:
` + strings.Join(vars, ", ") + `
(true or false for the switches). A flag given wins over its variable.
Only --reconcile talks to the API; the ledger is opened read-only. Ages
are a number and a unit: s, m, h, d (24 hours) or w (7 days), alone or
combined ("90d", "36h", "1d12h").`,
		Example: `  tokenaudit check --max-age 90d --max-live-per-cdata 3 --no-pending --verify
  TOKENAUDIT_POLICY_MAX_AGE=90d TOKENAUDIT_POLICY_VERIFY=true tokenaudit check
  tokenaudit check --reconcile --reconciled-within 24h --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.policiesFromEnv(cmd, &p); err != nil {
				return err
			}
			if p.maxAge == 0 && !p.maxLivePerCDataOK && !p.noPending && !p.reconcile && p.reconciledWithin == 0 &&
				!p.verify && p.checkpointWithin == 0 {
				return withHint(usageErrorf("no policy to check"),
					"give at least one of --"+strings.Join(policyFlags, ", --")+", or set "+policyEnvPrefix+"* variables")
			}
			return a.check(cmd, af, lf, p)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&p.maxAgeText, "max-age", "", "no live token older than this (such as 90d)")
	fl.IntVar(&p.maxLivePerCData, "max-live-per-cdata", 0, "no cdata with more live tokens than this")
	fl.BoolVar(&p.noPending, "no-pending", false, "no request without a known outcome")
	fl.BoolVar(&p.reconcile, "reconcile", false, "reconcile with the API now (read-only): no difference")
	fl.StringVar(&p.reconciledText, "reconciled-within", "", `the last complete "reconcile --apply" is this recent (such as 24h)`)
	fl.BoolVar(&p.verify, "verify", false, "the ledger verifies (exit 5 if not)")
	fl.StringVar(&p.checkpointText, "checkpoint-within", "", "the newest signed checkpoint is this recent (such as 7d)")
	fl.DurationVar(&p.inFlight, "in-flight", audit.DefaultInFlight, "with --no-pending and --reconcile: an issue request younger than this is still in flight")
	af.register(cmd)
	lf.register(cmd)
	return cmd
}

// policiesFromEnv fills in the policies not given as flags from their
// TOKENAUDIT_POLICY_* variables, and parses the ages.
func (a *app) policiesFromEnv(cmd *cobra.Command, p *checkPolicies) error {
	fl := cmd.Flags()
	fromEnv := map[string]bool{}
	for _, name := range policyFlags {
		v := strings.TrimSpace(a.getenv(policyEnv(name)))
		if fl.Changed(name) || v == "" {
			continue
		}
		if err := fl.Set(name, v); err != nil {
			return usageErrorf("%s=%q: %v", policyEnv(name), v, err)
		}
		fromEnv[name] = true
	}
	age := func(name, text string) (time.Duration, error) {
		if text == "" {
			return 0, nil
		}
		d, err := parseAge(text)
		if err == nil && d <= 0 {
			err = errors.New("want more than 0")
		}
		if err != nil {
			src := "--" + name
			if fromEnv[name] {
				src = policyEnv(name)
			}
			return 0, usageErrorf("%s %q: %v", src, text, err)
		}
		return d, nil
	}
	var err error
	if p.maxAge, err = age("max-age", p.maxAgeText); err != nil {
		return err
	}
	if p.reconciledWithin, err = age("reconciled-within", p.reconciledText); err != nil {
		return err
	}
	if p.checkpointWithin, err = age("checkpoint-within", p.checkpointText); err != nil {
		return err
	}
	if fl.Changed("max-live-per-cdata") {
		if p.maxLivePerCData < 1 {
			src := "--max-live-per-cdata"
			if fromEnv["max-live-per-cdata"] {
				src = policyEnv("max-live-per-cdata")
			}
			return usageErrorf("%s %d: want at least 1", src, p.maxLivePerCData)
		}
		p.maxLivePerCDataOK = true
	}
	return nil
}

// check runs the policies and reports them.
func (a *app) check(cmd *cobra.Command, af apiFlags, lf ledgerFlags, p checkPolicies) error {
	ctx := cmd.Context()
	var (
		l       *audit.Ledger
		session *auditSession
		err     error
	)
	if p.reconcile {
		if session, err = a.openSession(af, lf, false); err != nil {
			return err
		}
		defer session.Close()
		l = session.ledger
	} else {
		if l, err = a.openLedger(lf, false); err != nil {
			return err
		}
		defer l.Close()
	}
	now := a.now()
	rec := checkRecord{OK: true, Ledger: l.Path(), CheckedAt: now.UTC(), Policies: []policyResult{}, Violations: []violation{}}
	integrityFailed := false
	run := func(policy, limit string, fn func(add func(violation)) error) error {
		res := policyResult{Policy: policy, Limit: limit, Held: true}
		err := fn(func(v violation) {
			v.Policy = policy
			v.CData = output.Clean(v.CData)
			rec.Violations = append(rec.Violations, v)
			res.Violations++
			res.Held = false
		})
		if err != nil {
			return err
		}
		if !res.Held {
			rec.OK = false
		}
		rec.Policies = append(rec.Policies, res)
		return nil
	}
	seqOf := func(s int64) *int64 { return &s }

	if p.maxAge > 0 {
		err := run("max-age", p.maxAgeText, func(add func(violation)) error {
			for t, err := range l.Tokens(ctx, audit.TokenFilter{State: audit.StateActive, MinAge: p.maxAge}) {
				if err != nil {
					return ledgerError(err)
				}
				add(violation{Fingerprint: t.Fingerprint, CData: t.CData, Seq: seqOf(t.IssuedSeq),
					Message: fmt.Sprintf("live for %s (since %s), more than %s", formatAge(t.Age(now)), formatTime(t.FirstSeenAt), p.maxAgeText)})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if p.maxLivePerCDataOK {
		err := run("max-live-per-cdata", strconv.Itoa(p.maxLivePerCData), func(add func(violation)) error {
			live := map[string]int{}
			var order []string
			for t, err := range l.Tokens(ctx, audit.TokenFilter{State: audit.StateActive}) {
				if err != nil {
					return ledgerError(err)
				}
				if live[t.CData] == 0 {
					order = append(order, t.CData)
				}
				live[t.CData]++
			}
			for _, c := range order {
				if n := live[c]; n > p.maxLivePerCData {
					add(violation{CData: c, Message: fmt.Sprintf("%d live tokens, more than %d", n, p.maxLivePerCData)})
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if p.noPending {
		err := run("no-pending", "", func(add func(violation)) error {
			for e, err := range l.Pending(ctx) {
				if err != nil {
					return ledgerError(err)
				}
				if e.Kind == audit.KindIssueRequested && p.inFlight > 0 && now.Sub(e.TS) < p.inFlight {
					continue // its process may still record the answer
				}
				add(violation{Fingerprint: e.Fingerprint, CData: e.CData, Seq: seqOf(e.Seq),
					Message: fmt.Sprintf("%s at %s by %s has no known outcome", e.Kind, formatTime(e.TS), output.Clean(e.Actor))})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if p.reconcile {
		err := run("reconcile", session.client.BaseURL(), func(add func(violation)) error {
			opts := audit.ReconcileOptions{InFlight: p.inFlight}
			if p.inFlight == 0 {
				opts.InFlight = -1
			}
			res, err := session.auditor.Reconcile(ctx, opts)
			if err != nil {
				return session.apiError(err)
			}
			for _, t := range res.Unknown {
				add(violation{Fingerprint: t.Fingerprint, CData: t.CData, Message: findingNotInLedger + ": the API lists it, the ledger never saw it"})
			}
			for _, t := range res.Missing {
				add(violation{Fingerprint: t.Fingerprint, CData: t.CData, Seq: seqOf(t.IssuedSeq),
					Message: findingRevokedElsewhere + ": the ledger holds it active, the API no longer lists it"})
			}
			for _, t := range res.RevokedButListed {
				add(violation{Fingerprint: t.Fingerprint, CData: t.CData, Message: findingRevokedButLive + ": recorded revoked, the API lists it live"})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if p.reconciledWithin > 0 {
		err := run("reconciled-within", p.reconciledText, func(add func(violation)) error {
			var last *audit.Event
			for e, err := range l.Events(ctx, audit.EventFilter{Kinds: []audit.Kind{audit.KindReconciled}, Newest: true, Limit: 1}) {
				if err != nil {
					return ledgerError(err)
				}
				last = &e
			}
			switch {
			case last == nil:
				add(violation{Message: `no complete "reconcile --apply --record-run" is recorded`})
			case now.Sub(last.TS) > p.reconciledWithin:
				add(violation{Seq: seqOf(last.Seq), Message: fmt.Sprintf("the last complete reconcile was %s ago (%s, with %s), more than %s",
					formatAge(now.Sub(last.TS)), formatTime(last.TS), output.Clean(last.APIURL), p.reconciledText)})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if p.verify {
		err := run("verify", "", func(add func(violation)) error {
			rep, err := l.Verify(ctx)
			if rep == nil && err != nil {
				return ledgerError(err)
			}
			if err != nil || !rep.OK() {
				integrityFailed = true
				for _, pr := range rep.Problems {
					v := violation{Message: output.Clean(tidy(pr).Error())}
					if pr.Seq >= 0 {
						v.Seq = seqOf(pr.Seq)
					}
					add(v)
				}
				if len(rep.Problems) == 0 {
					add(violation{Message: output.Clean(tidy(err).Error())})
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if p.checkpointWithin > 0 {
		err := run("checkpoint-within", p.checkpointText, func(add func(violation)) error {
			cp, err := l.LatestCheckpoint(ctx)
			switch {
			case errors.Is(err, audit.ErrNotFound):
				add(violation{Message: "the ledger holds no signed checkpoint"})
			case err != nil:
				return ledgerError(err)
			case now.Sub(cp.TS) > p.checkpointWithin:
				add(violation{Message: fmt.Sprintf("the newest checkpoint (%d, of %d events) was signed %s ago (%s), more than %s",
					cp.ID, cp.Size, formatAge(now.Sub(cp.TS)), formatTime(cp.TS), p.checkpointText)})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	if err := a.writeCheck(rec); err != nil {
		return err
	}
	violated := 0
	for _, r := range rec.Policies {
		if !r.Held {
			violated++
		}
	}
	switch {
	case integrityFailed:
		return &silentError{code: exitIntegrity}
	case violated > 0:
		return &policyError{violated: violated, checked: len(rec.Policies)}
	}
	return nil
}

// writeCheck writes the policies and the violations.
func (a *app) writeCheck(rec checkRecord) error {
	if a.format.Structured() {
		return a.writeDocument(a.stdout, rec)
	}
	vs := &output.Sheet{Title: "Violations", Header: []string{"policy", "fingerprint", "cdata", "seq", "problem"}}
	for _, v := range rec.Violations {
		seq := ""
		if v.Seq != nil {
			seq = strconv.FormatInt(*v.Seq, 10)
		}
		vs.Append(v.Policy, a.fpCell(v.Fingerprint), v.CData, seq, v.Message)
	}
	if a.format == output.CSV {
		return vs.Write(a.stdout, output.CSV)
	}
	style := a.style()
	ps := &output.Sheet{Title: "Policies", Header: []string{"policy", "limit", "result", "violations"}}
	for _, r := range rec.Policies {
		result := style.Good("holds")
		if !r.Held {
			result = style.Bad("violated")
		}
		ps.Append(r.Policy, r.Limit, result, strconv.Itoa(r.Violations))
	}
	if len(rec.Violations) == 0 {
		return a.writeDocument(a.stdout, nil, ps)
	}
	return a.writeDocument(a.stdout, nil, ps, vs)
}
