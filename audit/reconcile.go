package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/tokenaudit/tokenaudit/internal/tokentext"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
	"github.com/tokenaudit/tokenaudit/woleet"
)

// applyBatch is how many events Reconcile and Import commit at once.
const applyBatch = 500

// ListedToken is a token known by its text (listed by the server, or
// read for import), as the ledger would record it. It holds no token text.
type ListedToken struct {
	// Fingerprint identifies the token.
	Fingerprint string `json:"fingerprint"`
	// CData is the token's cdata claim.
	CData string `json:"cdata"`
	// Subject is the token's sub claim.
	Subject string `json:"subject"`
}

// ReconcileOptions are the parameters of [Auditor.Reconcile].
type ReconcileOptions struct {
	// Apply records what reconcile finds (see [Auditor.Reconcile]).
	// Without Apply, Reconcile only reports.
	Apply bool
	// Yes allows Apply to record revoked_elsewhere for more than half of
	// the live tokens compared (and more than MassRevocationFloor) in one
	// run. Without it such a run records nothing and fails with a
	// *[MassRevocationError]: a wrong API URL or account looks exactly
	// like that.
	Yes bool
	// InFlight is how recent an unanswered issue request must be to count
	// as still in flight (its process may yet record the token): tokens
	// with its cdata are not imported and the request is not settled
	// (default DefaultInFlight; negative: none counts as in flight).
	InFlight time.Duration
	// RevokeSettle is how long Apply waits, when the server no longer lists
	// a token the ledger holds live, before it records that token revoked
	// elsewhere (default DefaultRevokeSettle; negative: no wait). A revoke
	// by tokenaudit records its outcome a moment after the server answers
	// it; the condition checked when recording (the token still active)
	// then sees that revoke, and no revoked_elsewhere is recorded for it.
	RevokeSettle time.Duration
	// Reason, when set, says why the reconcile was run; Apply records it
	// as detail.reason on every event it appends.
	Reason string
	// Summary makes a complete Apply also record a reconciled event (in
	// the transaction of its last events, or alone when there was nothing
	// to record) whose detail counts what was compared and recorded, so
	// that the ledger knows when it last agreed with the API. A reconcile
	// refused or failed records none.
	Summary bool
}

// DefaultRevokeSettle is [ReconcileOptions.RevokeSettle]'s default.
const DefaultRevokeSettle = time.Second

// DefaultInFlight is [ReconcileOptions.InFlight]'s default: twice the
// woleet client's request timeout.
const DefaultInFlight = 2 * woleet.DefaultTimeout

// MassRevocationFloor is the number of revoked_elsewhere events one
// reconcile may record without [ReconcileOptions.Yes] whatever the share
// of live tokens they are.
const MassRevocationFloor = 3

// MassRevocationError reports that a reconcile would record as revoked
// elsewhere more than half of the live tokens it compared: nothing was
// recorded. The result returned with it lists them (Missing).
type MassRevocationError struct {
	// Missing is how many live tokens the server no longer lists.
	Missing int
	// Compared is how many live tokens of this API the ledger holds.
	Compared int
}

// Error says what was refused and how to go on.
func (e *MassRevocationError) Error() string {
	return fmt.Sprintf("audit: reconcile: the server no longer lists %d of the %d live tokens recorded for this API; "+
		"nothing was recorded: check the API URL and account, and confirm to record them as revoked elsewhere", e.Missing, e.Compared)
}

// LeftOut counts the ledger's live tokens a reconcile did not compare,
// because they were recorded for another API (URL or identity) than the
// one it talked to.
type LeftOut struct {
	// OtherAPI counts tokens recorded for another API URL or identity.
	OtherAPI int `json:"other_api"`
	// NoAPI counts tokens recorded with no API (imported from a file
	// without one configured).
	NoAPI int `json:"no_api"`
}

// ReconcileResult compares the server's live tokens with the ledger's.
type ReconcileResult struct {
	// APIURL and APIIdentity name the API compared with.
	APIURL      string `json:"api_url"`
	APIIdentity string `json:"api_identity"`
	// Listed is the number of distinct tokens the server lists.
	Listed int `json:"listed"`
	// LedgerActive is the number of tokens the ledger holds active for
	// this API: the ones compared.
	LedgerActive int `json:"ledger_active"`
	// LeftOut counts the live tokens not compared, and why.
	LeftOut LeftOut `json:"left_out"`
	// Unknown lists tokens the server lists that the ledger never saw:
	// issued behind its back, or whose issue was lost (outcome unknown).
	Unknown []ListedToken `json:"unknown"`
	// InFlight lists unknown tokens not imported because an issue request
	// with their cdata is still in flight (see ReconcileOptions.InFlight).
	InFlight []ListedToken `json:"in_flight"`
	// Missing lists tokens the ledger holds active that the server no
	// longer lists: revoked by someone else (or by a revoke whose outcome
	// was unknown).
	Missing []Token `json:"missing"`
	// RevokedButListed lists tokens the ledger records as revoked that the
	// server still lists as live. They work: revoke them again. Apply
	// records a seen_live event for each, which makes them active again.
	RevokedButListed []ListedToken `json:"revoked_but_listed"`
	// Pending lists the events whose outcome was unknown before this
	// reconcile (issue requests with no answer, issue and revoke failures
	// with outcome unknown). Apply settles each (see Auditor.Reconcile).
	Pending []Event `json:"pending"`
	// Recorded lists the events Apply appended.
	Recorded []Event `json:"recorded"`
}

// InSync reports whether the server and the ledger agree.
func (r *ReconcileResult) InSync() bool {
	return len(r.Unknown) == 0 && len(r.Missing) == 0 && len(r.RevokedButListed) == 0
}

// pendingQuery selects the events whose outcome is unknown and that
// nothing answers yet: issue requests with no answer, and issue or revoke
// failures with outcome unknown.
const pendingQuery = "SELECT " + eventColumns + ` FROM events AS e
WHERE (kind = 'issue_requested' OR (kind IN ('issue_failed', 'revoke_failed') AND json_extract(detail, '$.outcome') = 'unknown'))
  AND NOT EXISTS (SELECT 1 FROM events AS o WHERE o.request_seq = e.seq)
ORDER BY seq`

// Pending lists the events whose outcome is not known yet, oldest first:
// issue requests with no answer, and issue or revoke failures with outcome
// unknown, that no later event settles. [Auditor.Reconcile] settles them.
func (l *Ledger) Pending(ctx context.Context) iter.Seq2[Event, error] {
	return stream(ctx, l, "pending outcomes", pendingQuery, nil, scanEvent)
}

// Reconcile compares the tokens the server lists (ListTokens) with the
// ledger's, by fingerprint, and with opts.Apply records the differences.
// Only tokens recorded for the API the Auditor talks to (the same API URL
// and identity) are compared; the result counts the others (LeftOut).
//
// With Apply, inside one write transaction whose conditions are checked
// against the ledger as it is then (so racing processes record one event
// per fact):
//   - a listed token the ledger never saw gets an import event (unless an
//     issue request with its cdata is still in flight); if an older issue
//     request with its cdata is pending, the import answers it
//     (request_seq);
//   - a live token the server no longer lists gets a revoked_elsewhere
//     event, or, when a revoke of it had an unknown outcome, a revoke
//     event answering that revoke_failed;
//   - a listed token the ledger holds revoked gets a seen_live event;
//   - every other pending outcome gets a settled event saying what the
//     server's list showed.
//
// More than half of the compared live tokens (and more than
// MassRevocationFloor) missing at once is refused without opts.Yes: the
// result comes back with a *[MassRevocationError] and nothing recorded.
// The ledger is read before the server is asked, so that a token issued
// meanwhile is never taken for one revoked elsewhere.
func (a *Auditor) Reconcile(ctx context.Context, opts ReconcileOptions) (*ReconcileResult, error) {
	if a.api == nil {
		return nil, errNoAPI
	}
	inFlight := cmp.Or(opts.InFlight, DefaultInFlight)
	res := &ReconcileResult{APIURL: a.apiURL, APIIdentity: a.identity, Unknown: []ListedToken{}, InFlight: []ListedToken{},
		Missing: []Token{}, RevokedButListed: []ListedToken{}, Pending: []Event{}, Recorded: []Event{}}
	known := map[string]Token{}
	for t, err := range a.store.Tokens(ctx, TokenFilter{}) {
		if err != nil {
			return nil, fmt.Errorf("audit: reconcile: read the ledger: %w", err)
		}
		known[t.Fingerprint] = t
		switch {
		case t.State != StateActive:
		case t.APIURL == "":
			res.LeftOut.NoAPI++
		case !a.sameAPI(t):
			res.LeftOut.OtherAPI++
		default:
			res.LedgerActive++
		}
	}
	pendingRevoke := map[string]Event{} // by fingerprint
	var pendingIssues []Event
	for e, err := range a.store.Pending(ctx) {
		if err != nil {
			return nil, fmt.Errorf("audit: reconcile: read the pending outcomes: %w", err)
		}
		if e.APIURL != a.apiURL || actorIdentity(e.Actor) != a.identity {
			continue
		}
		res.Pending = append(res.Pending, e)
		if e.Kind == KindRevokeFailed {
			pendingRevoke[e.Fingerprint] = e
		} else {
			pendingIssues = append(pendingIssues, e)
		}
	}
	started := time.Now()
	raws, err := a.api.ListTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: reconcile: list the server's tokens: %w", err)
	}
	recent := started.Add(-inFlight)
	if opts.InFlight < 0 {
		recent = started.Add(time.Hour) // nothing is that recent
	}
	var entries []Guarded
	answered := map[int64]bool{}
	listed := map[string]bool{}
	for _, raw := range raws {
		d := decode(raw)
		if listed[d.fingerprint] {
			continue
		}
		listed[d.fingerprint] = true
		lt := ListedToken{Fingerprint: d.fingerprint, CData: d.cdata, Subject: d.subject}
		t, isKnown := known[d.fingerprint]
		switch {
		case !isKnown:
			if slices.ContainsFunc(pendingIssues, func(e Event) bool {
				return e.Kind == KindIssueRequested && e.CData == d.cdata && !e.TS.Before(recent)
			}) {
				res.InFlight = append(res.InFlight, lt)
				continue
			}
			res.Unknown = append(res.Unknown, lt)
			d.detail["source"] = "reconcile"
			imp := Guarded{Event: Event{Kind: KindImport, Fingerprint: d.fingerprint, CData: d.cdata,
				Subject: d.subject, Actor: a.actor(), APIURL: a.apiURL},
				If: []Cond{IfUnknown(d.fingerprint), IfNoIssueInFlight(d.cdata, recent)}}
			// The oldest pending issue with this cdata is answered by it.
			if i := slices.IndexFunc(pendingIssues, func(e Event) bool { return e.CData == d.cdata && !answered[e.Seq] }); i >= 0 {
				seq := pendingIssues[i].Seq
				answered[seq] = true
				imp.Event.RequestSeq = &seq
				imp.If = append(imp.If, IfUnanswered(seq))
				d.detail["settles"] = "the issue request's token"
			}
			imp.Event.Detail = detailJSON(d.detail)
			entries = append(entries, imp)
		case t.State == StateRevoked:
			if !a.sameAPI(t) {
				continue
			}
			res.RevokedButListed = append(res.RevokedButListed, lt)
			entries = append(entries, Guarded{Event: Event{Kind: KindSeenLive, Fingerprint: t.Fingerprint, CData: t.CData,
				Subject: t.Subject, Actor: a.actor(), APIURL: a.apiURL,
				Detail: detailJSON(map[string]any{"source": "reconcile", "revoked_seq": t.RevokedSeq})},
				If: []Cond{IfRevoked(t.Fingerprint)}})
		default:
			if p, ok := pendingRevoke[t.Fingerprint]; ok {
				seq := p.Seq
				answered[seq] = true
				entries = append(entries, Guarded{Event: Event{Kind: KindSettled, Fingerprint: t.Fingerprint, CData: t.CData,
					Subject: t.Subject, Actor: a.actor(), APIURL: a.apiURL, RequestSeq: &seq,
					Detail: detailJSON(map[string]any{"source": "reconcile", "outcome": "not revoked: the server still lists the token"})},
					If: []Cond{IfUnanswered(seq)}})
			}
		}
	}
	res.Listed = len(listed)
	for _, t := range known {
		if t.State == StateActive && t.APIURL != "" && a.sameAPI(t) && !listed[t.Fingerprint] {
			res.Missing = append(res.Missing, t)
		}
	}
	slices.SortFunc(res.Missing, func(x, y Token) int { return cmp.Compare(x.IssuedSeq, y.IssuedSeq) })
	for _, t := range res.Missing {
		g := Guarded{Event: Event{Kind: KindRevokedElsewhere, Fingerprint: t.Fingerprint, CData: t.CData,
			Subject: t.Subject, Actor: a.actor(), APIURL: a.apiURL,
			Detail: detailJSON(map[string]any{"source": "reconcile", "issued_seq": t.IssuedSeq})},
			If: []Cond{IfActive(t.Fingerprint)}}
		if p, ok := pendingRevoke[t.Fingerprint]; ok {
			// The revoke whose outcome was unknown took effect.
			seq := p.Seq
			answered[seq] = true
			g.Event.Kind, g.Event.RequestSeq = KindRevoke, &seq
			g.Event.Actor = p.Actor
			g.Event.Detail = detailJSON(map[string]any{"source": "reconcile", "settled_by": a.actor(),
				"outcome": "revoked: the server no longer lists the token"})
			g.If = append(g.If, IfUnanswered(seq))
		}
		entries = append(entries, g)
	}
	for _, p := range res.Pending {
		if answered[p.Seq] || (p.Kind == KindIssueRequested && !p.TS.Before(recent)) {
			continue
		}
		outcome := "no token found: the server lists no token with this cdata that the ledger did not know"
		if p.Kind == KindRevokeFailed {
			// Neither live nor missing: a later event records it revoked.
			outcome = "revoked: a later event records the revocation"
		}
		seq := p.Seq
		entries = append(entries, Guarded{Event: Event{Kind: KindSettled, Fingerprint: p.Fingerprint, CData: p.CData,
			Subject: p.Subject, Actor: a.actor(), APIURL: a.apiURL, RequestSeq: &seq,
			Detail: detailJSON(map[string]any{"source": "reconcile", "outcome": outcome, "listed": res.Listed})},
			If: []Cond{IfUnanswered(seq)}})
	}
	if !opts.Apply {
		return res, nil
	}
	if n := len(res.Missing); n > MassRevocationFloor && 2*n > res.LedgerActive && !opts.Yes {
		return res, &MassRevocationError{Missing: n, Compared: res.LedgerActive}
	}
	if wait := cmp.Or(opts.RevokeSettle, DefaultRevokeSettle); len(res.Missing) > 0 && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, fmt.Errorf("audit: reconcile: %w", ctx.Err())
		case <-t.C:
		}
	}
	if opts.Reason != "" {
		for i := range entries {
			entries[i].Event.Detail = addDetail(entries[i].Event.Detail, map[string]any{"reason": opts.Reason})
		}
	}
	if opts.Summary {
		entries = append(entries, Guarded{Event: Event{Kind: KindReconciled, Actor: a.actor(), APIURL: a.apiURL,
			Detail: addDetail(detailJSON(map[string]any{"in_sync": res.InSync(), "listed": res.Listed,
				"ledger_active": res.LedgerActive, "unknown": len(res.Unknown), "missing": len(res.Missing),
				"revoked_but_listed": len(res.RevokedButListed), "in_flight": len(res.InFlight),
				"pending": len(res.Pending), "left_out": res.LeftOut}), map[string]any{"reason": opts.Reason})}})
	}
	for len(entries) > 0 {
		n := min(len(entries), applyBatch)
		got, _, err := a.store.AppendIf(ctx, entries[:n])
		if err != nil {
			return res, fmt.Errorf("audit: reconcile: record %d events: %w", n, err)
		}
		res.Recorded = append(res.Recorded, got...)
		entries = entries[n:]
	}
	return res, nil
}

// sameAPI reports whether t was recorded for the API the Auditor talks to.
func (a *Auditor) sameAPI(t Token) bool {
	return t.APIURL == a.apiURL && t.APIIdentity() == a.identity
}

// RevokeWhereOptions are the parameters of [Auditor.RevokeWhere].
type RevokeWhereOptions struct {
	// CData selects the tokens whose cdata equals it ("" selects tokens
	// without cdata), or starts with it when CDataPrefix is set.
	CData string
	// CDataPrefix makes CData a prefix; an empty prefix is refused, as it
	// would select every token.
	CDataPrefix bool
	// Fingerprint, when set, selects tokens by fingerprint instead of by
	// cdata: a full fingerprint, or a prefix of at least
	// MinFingerprintPrefix hex digits, with or without "sha256:". CData and
	// CDataPrefix must then be left empty.
	Fingerprint string
	// DryRun lists what would be revoked and revokes nothing.
	DryRun bool
	// Confirm, if set, is called once the matches are known (Matched and
	// NotListed filled in) and before anything is revoked, so that a person
	// can approve exactly the tokens that will be revoked. When it returns
	// false nothing is revoked and the result comes back with DryRun set.
	// It is not called in a dry run or when nothing matches, and must not
	// modify the result.
	Confirm func(*RevokeWhereResult) bool
	// Progress, if set, is called after each revocation (and, in a dry
	// run, for each match).
	Progress func(RevokeProgress)
	// Reason, when set, is recorded as detail.reason on each revoke or
	// revoke_failed event.
	Reason string
}

// RevokeProgress reports one step of [Auditor.RevokeWhere].
type RevokeProgress struct {
	// Done counts the tokens handled so far, this one included; Total is
	// the number of matches.
	Done, Total int
	// Token is the token just handled.
	Token ListedToken
	// Err is why revoking it failed, or nil.
	Err error
}

// RevokeFailure is a token RevokeWhere could not revoke.
type RevokeFailure struct {
	// Token is the token.
	Token ListedToken `json:"token"`
	// Err is the error.
	Err error `json:"-"`
	// Error is Err's text.
	Error string `json:"error"`
}

// RevokeWhereResult is the outcome of [Auditor.RevokeWhere].
type RevokeWhereResult struct {
	// DryRun is set when nothing was revoked on purpose.
	DryRun bool `json:"dry_run"`
	// Matched lists the live tokens (as the server lists them) whose cdata
	// matches, in the server's order.
	Matched []ListedToken `json:"matched"`
	// Revoked lists the revoke events recorded.
	Revoked []Event `json:"revoked"`
	// Failed lists the tokens that could not be revoked or recorded.
	Failed []RevokeFailure `json:"failed"`
	// NotListed lists tokens the ledger holds active with a matching cdata
	// that the server does not list: nothing here can revoke them (run
	// reconcile).
	NotListed []Token `json:"not_listed"`
}

// RevokeWhere revokes every live token whose cdata (or fingerprint, with
// opts.Fingerprint) matches: the raw tokens come from ListTokens and their
// cdata is read with jwtinspect. Each revocation goes through
// [Auditor.Revoke], so each is recorded (revoke or revoke_failed). It goes
// on after a failure, and stops when ctx ends. The error is non-nil when
// anything failed; the result says what was done.
func (a *Auditor) RevokeWhere(ctx context.Context, opts RevokeWhereOptions) (*RevokeWhereResult, error) {
	if a.api == nil {
		return nil, errNoAPI
	}
	if opts.CDataPrefix && opts.CData == "" {
		return nil, errors.New("audit: revoke where: an empty cdata prefix would select every token")
	}
	selected := func(raw, fingerprint string) bool {
		c, _, err := jwtinspect.CData(raw)
		if err != nil {
			return false
		}
		if opts.CDataPrefix {
			return strings.HasPrefix(c, opts.CData)
		}
		return c == opts.CData
	}
	if opts.Fingerprint != "" {
		if opts.CData != "" || opts.CDataPrefix {
			return nil, errors.New("audit: revoke where: select by cdata or by fingerprint, not both")
		}
		lo, _, err := fingerprintRange(opts.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("audit: revoke where: %w", err)
		}
		selected = func(_, fingerprint string) bool { return strings.HasPrefix(fingerprint, lo) }
	}
	raws, err := a.api.ListTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: revoke where: list the server's tokens: %w", err)
	}
	res := &RevokeWhereResult{DryRun: opts.DryRun, Matched: []ListedToken{}, Revoked: []Event{},
		Failed: []RevokeFailure{}, NotListed: []Token{}}
	matched, todo, listed := selectListed(raws, selected)
	res.Matched = append(res.Matched, matched...)
	filter := TokenFilter{State: StateActive, CData: opts.CData, CDataPrefix: opts.CDataPrefix, Fingerprint: opts.Fingerprint}
	for t, err := range a.store.Tokens(ctx, filter) {
		if err != nil {
			return res, fmt.Errorf("audit: revoke where: read the ledger: %w", err)
		}
		if !listed[t.Fingerprint] && (opts.CData != "" || opts.Fingerprint != "" || t.CData == "") {
			res.NotListed = append(res.NotListed, t)
		}
	}
	if !opts.DryRun && opts.Confirm != nil && len(todo) > 0 && !opts.Confirm(res) {
		res.DryRun = true
		return res, nil
	}
	var errs []error
	for i, raw := range todo {
		p := RevokeProgress{Done: i + 1, Total: len(todo), Token: res.Matched[i]}
		if !opts.DryRun {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("audit: revoke where: stopped after %d of %d: %w", i, len(todo), err)
			}
			ev, err := a.RevokeWithOptions(ctx, raw, RevokeOptions{Reason: opts.Reason})
			if err != nil {
				p.Err = err
				res.Failed = append(res.Failed, RevokeFailure{Token: res.Matched[i], Err: err, Error: err.Error()})
				errs = append(errs, err)
			} else {
				res.Revoked = append(res.Revoked, ev)
			}
		}
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("audit: revoke where: %d of %d revocations failed: %w", len(errs), len(todo), errors.Join(errs...))
	}
	return res, nil
}

// selectListed returns the tokens of a server's list that selected keeps,
// once each and in the list's order, as the ledger would record them and as
// their raw text, and the set of every fingerprint listed.
func selectListed(raws []string, selected func(raw, fingerprint string) bool) (matched []ListedToken, todo []string, listed map[string]bool) {
	listed = map[string]bool{}
	for _, raw := range raws {
		fp := jwtinspect.Fingerprint(raw)
		if listed[fp] {
			continue
		}
		listed[fp] = true
		if !selected(raw, fp) {
			continue
		}
		d := decode(raw)
		matched = append(matched, ListedToken{Fingerprint: d.fingerprint, CData: d.cdata, Subject: d.subject})
		todo = append(todo, raw)
	}
	return matched, todo, listed
}

// ImportOptions are the parameters of [Auditor.Import].
type ImportOptions struct {
	// Source is recorded in each import event's detail ("source"), for
	// example the name of the file the tokens came from. Default "import".
	Source string
	// DryRun decides everything and records nothing.
	DryRun bool
	// Progress, if set, is called once per token read, in input order,
	// when its fate is decided (for imported tokens, once recorded).
	Progress func(ImportItem)
}

// ImportStatus is what Import did with one token.
type ImportStatus string

// The import statuses.
const (
	// ImportImported: recorded as an import event (or would be, in a dry run).
	ImportImported ImportStatus = "imported"
	// ImportKnown: the ledger already has the token.
	ImportKnown ImportStatus = "known"
	// ImportRepeated: the token appeared earlier in the same input.
	ImportRepeated ImportStatus = "repeated"
	// ImportRejected: the text is not a token.
	ImportRejected ImportStatus = "rejected"
)

// ImportItem is one token read by [Auditor.Import].
type ImportItem struct {
	// Index is the token's position in the input, from 1.
	Index int `json:"index"`
	ListedToken
	// Status is what Import did with it.
	Status ImportStatus `json:"status"`
	// Err says why a token was rejected.
	Err error `json:"-"`
}

// ImportResult counts what [Auditor.Import] did.
type ImportResult struct {
	// Read is the number of tokens read.
	Read int `json:"read"`
	// Imported, Known, Repeated and Rejected count the tokens by status.
	Imported int `json:"imported"`
	Known    int `json:"known"`
	Repeated int `json:"repeated"`
	Rejected int `json:"rejected"`
}

// Import records tokens issued outside tokenaudit as import events, with
// their fingerprint, cdata, sub and claims (never the token text), and the
// Auditor's API URL and identity when it has them. Tokens the ledger
// already has, or that appeared earlier in the input, are skipped; whether
// the ledger has a token is decided inside the transaction that records it,
// so concurrent imports record each token once. A token that is not a JWT
// but is plausibly an opaque token (at most 8 KiB of printable ASCII
// without white space or dots, that does not start like a JWT) is imported
// by its fingerprint, with the finding "not-a-jwt" in the detail. Other
// text is rejected (and counted), text shaped like a JWT that does not
// parse included, and so is a token whose event cannot be recorded: one
// bad token never ends the stream. Events are committed in batches; on
// error, the batches before it stay recorded and the result counts them.
func (a *Auditor) Import(ctx context.Context, tokens iter.Seq[string], opts ImportOptions) (*ImportResult, error) {
	source := cmp.Or(opts.Source, "import")
	res := &ImportResult{}
	seen := map[string]bool{}
	var (
		batch []Guarded
		items []ImportItem
		slots []int // the index in items of each batch entry
	)
	report := func(it ImportItem) {
		if opts.Progress != nil {
			opts.Progress(it)
		}
	}
	flush := func() error {
		if len(batch) > 0 && !opts.DryRun {
			_, applied, err := a.store.AppendIf(ctx, batch)
			if err != nil {
				return fmt.Errorf("audit: import: record %d tokens: %w", len(batch), err)
			}
			for i, ok := range applied {
				if !ok {
					// Recorded meanwhile by another process.
					items[slots[i]].Status = ImportKnown
				}
			}
		}
		for _, it := range items {
			switch it.Status {
			case ImportImported:
				res.Imported++
			case ImportKnown:
				res.Known++
			case ImportRepeated:
				res.Repeated++
			case ImportRejected:
				res.Rejected++
			}
			report(it)
		}
		batch, items, slots = batch[:0], items[:0], slots[:0]
		return nil
	}
	for raw := range tokens {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("audit: import: stopped after %d tokens: %w", res.Read, err)
		}
		res.Read++
		it := ImportItem{Index: res.Read}
		var d decoded
		if tok, err := jwtinspect.Parse(raw); err == nil {
			d = decodeParsed(tok)
		} else if tokentext.Opaque(jwtinspect.Normalize(raw)) {
			d = decode(raw) // an opaque token: "findings": ["not-a-jwt"]
		} else {
			it.Status, it.Err = ImportRejected, err
			items = append(items, it)
			continue
		}
		it.ListedToken = ListedToken{Fingerprint: d.fingerprint, CData: d.cdata, Subject: d.subject}
		known, err := a.known(ctx, d.fingerprint)
		switch {
		case err != nil:
			return res, fmt.Errorf("audit: import: token %d: %w", it.Index, err)
		case seen[d.fingerprint]:
			it.Status = ImportRepeated
		case known:
			it.Status = ImportKnown
		default:
			d.detail["source"] = source
			actor := a.local
			if a.apiURL != "" {
				actor = a.actor()
			}
			e := Event{Kind: KindImport, Fingerprint: d.fingerprint, CData: d.cdata,
				Subject: d.subject, Actor: actor, APIURL: a.apiURL, Detail: detailJSON(d.detail)}
			if err := e.recordable(); err != nil {
				it.Status, it.Err = ImportRejected, fmt.Errorf("the token cannot be recorded: %w", err)
				break
			}
			it.Status = ImportImported
			slots = append(slots, len(items))
			batch = append(batch, Guarded{Event: e, If: []Cond{IfUnknown(d.fingerprint)}})
		}
		seen[d.fingerprint] = true
		items = append(items, it)
		if len(batch) >= applyBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	return res, nil
}
