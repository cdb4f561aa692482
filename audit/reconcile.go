package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/tokenaudit/tokenaudit/internal/tokentext"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
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
	// Apply records what reconcile finds: an import event for each token
	// the server lists that the ledger never saw, and a revoked_elsewhere
	// event for each token the ledger holds active that the server no
	// longer lists. Without Apply, Reconcile only reports.
	Apply bool
}

// ReconcileResult compares the server's live tokens with the ledger's.
type ReconcileResult struct {
	// Listed is the number of distinct tokens the server lists.
	Listed int `json:"listed"`
	// LedgerActive is the number of tokens the ledger holds active.
	LedgerActive int `json:"ledger_active"`
	// Unknown lists tokens the server lists that the ledger never saw:
	// issued behind its back, or whose issue was lost (outcome unknown).
	Unknown []ListedToken `json:"unknown"`
	// Missing lists tokens the ledger holds active that the server no
	// longer lists: revoked by someone else.
	Missing []Token `json:"missing"`
	// RevokedButListed lists tokens the ledger records as revoked that the
	// server still lists as live. They work: revoke them again. Apply
	// records nothing for them.
	RevokedButListed []ListedToken `json:"revoked_but_listed"`
	// Recorded lists the events Apply appended.
	Recorded []Event `json:"recorded"`
}

// InSync reports whether the server and the ledger agree.
func (r *ReconcileResult) InSync() bool {
	return len(r.Unknown) == 0 && len(r.Missing) == 0 && len(r.RevokedButListed) == 0
}

// Reconcile compares the tokens the server lists (ListTokens) with the
// ledger's, by fingerprint, and with opts.Apply records the differences
// (see [ReconcileOptions]). The ledger is read before the server is asked,
// so that a token issued meanwhile is never taken for one revoked
// elsewhere.
func (a *Auditor) Reconcile(ctx context.Context, opts ReconcileOptions) (*ReconcileResult, error) {
	if a.api == nil {
		return nil, errNoAPI
	}
	active := map[string]Token{}
	revoked := map[string]bool{}
	for t, err := range a.store.Tokens(ctx, TokenFilter{}) {
		if err != nil {
			return nil, fmt.Errorf("audit: reconcile: read the ledger: %w", err)
		}
		if t.State == StateActive {
			active[t.Fingerprint] = t
		} else {
			revoked[t.Fingerprint] = true
		}
	}
	raws, err := a.api.ListTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: reconcile: list the server's tokens: %w", err)
	}
	res := &ReconcileResult{LedgerActive: len(active), Unknown: []ListedToken{}, Missing: []Token{},
		RevokedButListed: []ListedToken{}, Recorded: []Event{}}
	listed := map[string]bool{}
	var imports []Event
	for _, raw := range raws {
		d := decode(raw)
		if listed[d.fingerprint] {
			continue
		}
		listed[d.fingerprint] = true
		lt := ListedToken{Fingerprint: d.fingerprint, CData: d.cdata, Subject: d.subject}
		switch {
		case revoked[d.fingerprint]:
			res.RevokedButListed = append(res.RevokedButListed, lt)
		case active[d.fingerprint].Fingerprint == "":
			res.Unknown = append(res.Unknown, lt)
			d.detail["source"] = "reconcile"
			imports = append(imports, Event{Kind: KindImport, Fingerprint: d.fingerprint, CData: d.cdata,
				Subject: d.subject, Actor: a.actor(), APIURL: a.apiURL, Detail: detailJSON(d.detail)})
		}
	}
	res.Listed = len(listed)
	var gone []Event
	for _, t := range active {
		if !listed[t.Fingerprint] {
			res.Missing = append(res.Missing, t)
		}
	}
	slices.SortFunc(res.Missing, func(x, y Token) int { return cmp.Compare(x.IssuedSeq, y.IssuedSeq) })
	for _, t := range res.Missing {
		gone = append(gone, Event{Kind: KindRevokedElsewhere, Fingerprint: t.Fingerprint, CData: t.CData,
			Subject: t.Subject, Actor: a.actor(), APIURL: a.apiURL,
			Detail: detailJSON(map[string]any{"source": "reconcile", "issued_seq": t.IssuedSeq})})
	}
	if !opts.Apply {
		return res, nil
	}
	events := append(imports, gone...)
	for len(events) > 0 {
		n := min(len(events), applyBatch)
		got, err := a.store.AppendBatch(ctx, events[:n])
		if err != nil {
			return res, fmt.Errorf("audit: reconcile: record %d events: %w", n, err)
		}
		res.Recorded = append(res.Recorded, got...)
		events = events[n:]
	}
	return res, nil
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
	var todo []string
	listed := map[string]bool{}
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
		res.Matched = append(res.Matched, ListedToken{Fingerprint: d.fingerprint, CData: d.cdata, Subject: d.subject})
		todo = append(todo, raw)
	}
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
			ev, err := a.Revoke(ctx, raw)
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
// their fingerprint, cdata, sub and claims (never the token text). Tokens
// the ledger already has, or that appeared earlier in the input, are
// skipped. A token that is not a JWT but is plausibly an opaque token
// (at most 8 KiB of printable ASCII without white space or dots, that
// does not start like a JWT) is imported by its fingerprint, with the finding
// "not-a-jwt" in the detail; other text is rejected (and counted), text
// shaped like a JWT that does not parse included.
// Events are committed in batches; on error, the batches before it stay
// recorded and the result counts them.
func (a *Auditor) Import(ctx context.Context, tokens iter.Seq[string], opts ImportOptions) (*ImportResult, error) {
	source := cmp.Or(opts.Source, "import")
	res := &ImportResult{}
	seen := map[string]bool{}
	var (
		batch []Event
		items []ImportItem
	)
	report := func(it ImportItem) {
		if opts.Progress != nil {
			opts.Progress(it)
		}
	}
	flush := func() error {
		if len(batch) > 0 && !opts.DryRun {
			if _, err := a.store.AppendBatch(ctx, batch); err != nil {
				return fmt.Errorf("audit: import: record %d tokens: %w", len(batch), err)
			}
		}
		res.Imported += len(batch)
		for _, it := range items {
			report(it)
		}
		batch, items = batch[:0], items[:0]
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
			res.Rejected++
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
			res.Repeated++
		case known:
			it.Status = ImportKnown
			res.Known++
		default:
			it.Status = ImportImported
			d.detail["source"] = source
			batch = append(batch, Event{Kind: KindImport, Fingerprint: d.fingerprint, CData: d.cdata,
				Subject: d.subject, Actor: a.local, Detail: detailJSON(d.detail)})
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
