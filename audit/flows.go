package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"
	"unicode/utf8"

	"github.com/tokenaudit/tokenaudit/internal/tokentext"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
	"github.com/tokenaudit/tokenaudit/woleet"
)

// TokenAPI is what the audited flows need of the Woleet API.
// *woleet.Client satisfies it.
type TokenAPI interface {
	// GenerateToken issues a token (GET /token).
	GenerateToken(ctx context.Context, opts woleet.GenerateTokenOptions) (*woleet.Token, error)
	// RevokeToken revokes a token (DELETE /token).
	RevokeToken(ctx context.Context, token string) error
	// ListTokens lists the live tokens (GET /user/tokens).
	ListTokens(ctx context.Context) ([]string, error)
}

// Store is what the audited flows need of a ledger. *Ledger satisfies it;
// the flows use nothing else, so another backend (PostgreSQL) can stand in.
type Store interface {
	// Append records one event durably and returns it as stored.
	Append(ctx context.Context, e Event) (Event, error)
	// AppendBatch records events in one transaction, all or none.
	AppendBatch(ctx context.Context, events []Event) ([]Event, error)
	// AppendIf records, in one transaction, the events whose conditions
	// hold inside it (see [Cond]).
	AppendIf(ctx context.Context, entries []Guarded) (appended []Event, applied []bool, err error)
	// Tokens streams the tokens the filter selects.
	Tokens(ctx context.Context, f TokenFilter) iter.Seq2[Token, error]
	// Pending streams the events whose outcome is not known yet.
	Pending(ctx context.Context) iter.Seq2[Event, error]
}

// Auditor runs the audited flows: every token handed out, revoked, found
// or imported goes through the ledger first. Build it with [NewAuditor]. It
// is safe for concurrent use if its Store and TokenAPI are.
type Auditor struct {
	store         Store
	api           TokenAPI
	local         string
	identity      string
	apiURL        string
	revokeTimeout time.Duration
}

// AuditorOption configures [NewAuditor].
type AuditorOption func(*Auditor) error

// WithLocalActor sets the "USER@HOST" part of the actor (default
// [LocalActor]).
func WithLocalActor(userAtHost string) AuditorOption {
	return func(a *Auditor) error {
		if userAtHost == "" {
			return errors.New("audit: WithLocalActor: empty actor")
		}
		a.local = userAtHost
		return nil
	}
}

// WithAPIIdentity sets the API identity recorded in the actor, such as
// "basic:ops@example.com". By default it is the API's Identity() when it has
// that method (as *woleet.Client does).
func WithAPIIdentity(identity string) AuditorOption {
	return func(a *Auditor) error {
		a.identity = identity
		return nil
	}
}

// WithAPIURL sets the api_url recorded on events. By default it is the
// API's BaseURL() when it has that method (as *woleet.Client does).
func WithAPIURL(url string) AuditorOption {
	return func(a *Auditor) error {
		a.apiURL = url
		return nil
	}
}

// WithRevokeTimeout bounds the revocation Issue makes when the ledger fails
// after the API issued a token (default 30s). It runs even if the caller's
// context is done: a token must not stay out unrecorded.
func WithRevokeTimeout(d time.Duration) AuditorOption {
	return func(a *Auditor) error {
		if d <= 0 {
			return fmt.Errorf("audit: WithRevokeTimeout: %v is not positive", d)
		}
		a.revokeTimeout = d
		return nil
	}
}

// NewAuditor returns an Auditor recording into store and talking to api.
// api may be nil for [Auditor.Import], which needs no API; the other flows
// then fail. The actor of every event is "USER@HOST via IDENTITY" (just
// "USER@HOST" when there is no API identity, as for imports).
func NewAuditor(store Store, api TokenAPI, opts ...AuditorOption) (*Auditor, error) {
	if store == nil {
		return nil, errors.New("audit: NewAuditor: nil store")
	}
	a := &Auditor{store: store, api: api, revokeTimeout: 30 * time.Second}
	if id, ok := api.(interface{ Identity() string }); ok {
		a.identity = id.Identity()
	}
	if u, ok := api.(interface{ BaseURL() string }); ok {
		a.apiURL = u.BaseURL()
	}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	if a.local == "" {
		a.local = LocalActor()
	}
	return a, nil
}

// actor returns the actor of events that involve the API.
func (a *Auditor) actor() string {
	if a.identity == "" {
		return a.local
	}
	return a.local + " via " + a.identity
}

// errNoAPI is returned by flows that need the API when there is none.
var errNoAPI = errors.New("audit: the Auditor has no API client")

// UnrecordedError reports that the API acted but the ledger could not
// record it. For an issue, Revoked says whether the token was revoked again
// (then nothing was handed out); for a revoke, the token is revoked but the
// ledger still shows it active until a reconcile records it.
type UnrecordedError struct {
	// Op is "issue" or "revoke".
	Op string
	// Fingerprint names the token.
	Fingerprint string
	// Revoked, for an issue, says that the token was revoked again.
	Revoked bool
	// Err is the ledger's error.
	Err error
	// RevokeErr, for an issue, is why revoking the token again failed.
	RevokeErr error
}

// Error says what happened and what to do.
func (e *UnrecordedError) Error() string {
	short := "sha256:" + jwtinspect.ShortFingerprint(e.Fingerprint)
	switch {
	case e.Op == "revoke":
		return fmt.Sprintf("audit: revoke: the API revoked token %s but the ledger could not record it: %v; run reconcile with apply once the ledger works", short, e.Err)
	case e.Revoked:
		return fmt.Sprintf("audit: issue: the API issued token %s but the ledger could not record it: %v; the token was revoked again and not handed out", short, e.Err)
	default:
		return fmt.Sprintf("audit: issue: the API issued token %s but the ledger could not record it: %v; revoking it failed too (%v): the token is live and unrecorded: run reconcile with apply once the ledger works, or revoke-where", short, e.Err, e.RevokeErr)
	}
}

// Unwrap returns the ledger's error and the revocation's, if any.
func (e *UnrecordedError) Unwrap() []error {
	if e.RevokeErr != nil {
		return []error{e.Err, e.RevokeErr}
	}
	return []error{e.Err}
}

// decoded is what the ledger records of a raw token.
type decoded struct {
	fingerprint, cdata, subject string
	detail                      map[string]any
}

// decode fingerprints a raw token and reads its cdata, sub and claims.
// A token that does not parse as a JWT (an opaque token: the API's
// specification types a token as a string) is a token all the same: it
// gets its fingerprint, and the detail says why it has no claims, with
// the finding "not-a-jwt" and the parse error (which never quotes the
// token): {"decode_error": "…", "findings": ["not-a-jwt"]}.
func decode(raw string) decoded {
	tok, err := jwtinspect.Parse(raw)
	if err != nil {
		return decoded{fingerprint: jwtinspect.Fingerprint(raw),
			detail: map[string]any{"decode_error": redactJWTs(err.Error()), "findings": []string{tokentext.FindingNotAJWT}}}
	}
	return decodeParsed(tok)
}

// decodeParsed is decode for a token already parsed. Text from the token
// is kept in the form [recordableText] gives, the claims as
// [recordableClaims] does, and an iat that says the token is older than its
// record (see earlierIAT) as "token_iat".
func decodeParsed(tok *jwtinspect.Token) decoded {
	d := decoded{fingerprint: tok.Fingerprint(), detail: map[string]any{}}
	cdata, _ := tok.CData()
	subject, _ := tok.Subject()
	var changed bool
	if d.cdata, changed = recordableText(cdata); changed {
		d.detail["cdata_original"] = textOrigin(cdata)
	}
	if d.subject, changed = recordableText(subject); changed {
		d.detail["subject_original"] = textOrigin(subject)
	}
	if tok.Claims != nil {
		recordableClaims(tok.Claims, d.detail)
	}
	if iat := tok.Times.IssuedAt; earlierIAT(iat, time.Now()) {
		d.detail["token_iat"] = formatTS(*iat)
	}
	return d
}

// detailJSON renders a detail object. Should anything in it still look
// like a token, it is redacted (see redactJWTs), never written down.
func detailJSON(m map[string]any) json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(`{"detail_omitted":"not recordable"}`)
	}
	if containsJWT(string(b)) {
		b = []byte(redactJWTs(string(b)))
	}
	return b
}

// apiStatus returns the HTTP status of an API error, or 0.
func apiStatus(err error) int {
	var ae *woleet.APIError
	if errors.As(err, &ae) && ae.StatusCode >= 100 && ae.StatusCode <= 599 {
		return ae.StatusCode
	}
	return 0
}

// outcome says whether a failed API call may nonetheless have acted.
func outcome(err error) string {
	if errors.Is(err, woleet.ErrOutcomeUnknown) {
		return "unknown"
	}
	return "failed"
}

// IssueOptions are the parameters of [Auditor.Issue].
type IssueOptions struct {
	// CData is the client data stored in the token: who it is for. At most
	// woleet.MaxCDataLength code points.
	CData string
	// Reason, when set, says why the token is issued; it is recorded as
	// detail.reason on the issue_requested event and on its answer.
	Reason string
	// Rotates, when set, lists the fingerprints of the tokens the new one
	// replaces (see [Auditor.Rotate]); it is recorded as detail.rotates on
	// the issue event.
	Rotates []string
}

// IssueResult is a token issued and recorded.
type IssueResult struct {
	// Token is the raw token, to hand to its holder. It never expires;
	// its String method does not reveal it.
	Token *woleet.Token
	// Event is the recorded issue event.
	Event Event
}

// Issue issues a token through the API, recording each step:
//
//  1. issue_requested is committed before the API is asked; if it cannot
//     be, the API is not asked.
//  2. The API issues the token. If it fails, issue_failed is recorded,
//     with detail {"outcome": "unknown"} when a token may exist anyway
//     (woleet.ErrOutcomeUnknown: run [Auditor.Reconcile] to find it).
//  3. The token is decoded and issue is recorded with its fingerprint,
//     cdata, sub and claims (never the token).
//  4. Only then is the token returned. If step 3 fails, the token is
//     revoked through the API and Issue returns an *[UnrecordedError]: no
//     token leaves unrecorded.
func (a *Auditor) Issue(ctx context.Context, opts IssueOptions) (*IssueResult, error) {
	if a.api == nil {
		return nil, errNoAPI
	}
	if !utf8.ValidString(opts.CData) || utf8.RuneCountInString(opts.CData) > woleet.MaxCDataLength {
		return nil, fmt.Errorf("audit: issue: cdata must be valid UTF-8 of at most %d code points", woleet.MaxCDataLength)
	}
	actor := a.actor()
	reqCData, changed := recordableText(opts.CData)
	var reqDetail json.RawMessage
	if changed {
		reqDetail = detailJSON(map[string]any{"cdata_original": textOrigin(opts.CData)})
	}
	reqDetail = addDetail(reqDetail, map[string]any{"reason": opts.Reason})
	req, err := a.store.Append(ctx, Event{Kind: KindIssueRequested, CData: reqCData, Actor: actor, APIURL: a.apiURL, Detail: reqDetail})
	if err != nil {
		return nil, fmt.Errorf("audit: issue: the ledger could not record the request, so no token was requested: %w", err)
	}
	reqSeq := req.Seq
	// From here on the API may act: record what happens even if ctx ends.
	rec := context.WithoutCancel(ctx)

	tok, apiErr := a.api.GenerateToken(ctx, woleet.GenerateTokenOptions{CData: opts.CData})
	if apiErr == nil && (tok == nil || tok.Token == "") {
		apiErr = fmt.Errorf("%w: the API answered without a token", woleet.ErrOutcomeUnknown)
	}
	if apiErr != nil {
		_, lerr := a.store.Append(rec, Event{Kind: KindIssueFailed, CData: reqCData, Actor: actor, APIURL: a.apiURL,
			HTTPStatus: apiStatus(apiErr), RequestSeq: &reqSeq, Error: redactJWTs(apiErr.Error()),
			Detail: addDetail(detailJSON(map[string]any{"outcome": outcome(apiErr)}), map[string]any{"reason": opts.Reason})})
		if lerr != nil {
			return nil, fmt.Errorf("audit: issue: %w (and the ledger could not record the failure: %w)", apiErr, lerr)
		}
		if outcome(apiErr) == "unknown" {
			return nil, fmt.Errorf("audit: issue: %w; a token may have been issued: run reconcile to find it", apiErr)
		}
		return nil, fmt.Errorf("audit: issue: %w", apiErr)
	}

	d := decode(tok.Token)
	if d.cdata != reqCData {
		d.detail["requested_cdata"] = reqCData
	}
	if d.cdata == "" {
		d.cdata = reqCData
	}
	issue := Event{Kind: KindIssue, Fingerprint: d.fingerprint, CData: d.cdata, Subject: d.subject,
		Actor: actor, APIURL: a.apiURL, RequestSeq: &reqSeq,
		Detail: addDetail(detailJSON(d.detail), map[string]any{"reason": opts.Reason, "rotates": opts.Rotates})}
	ev, lerr := a.store.Append(rec, issue)
	if lerr == nil {
		return &IssueResult{Token: tok, Event: ev}, nil
	}

	// Fail closed: the token must not get out unrecorded.
	rctx, cancel := context.WithTimeout(rec, a.revokeTimeout)
	defer cancel()
	rerr := a.api.RevokeToken(rctx, tok.Token)
	ue := &UnrecordedError{Op: "issue", Fingerprint: d.fingerprint, Revoked: rerr == nil, Err: lerr, RevokeErr: rerr}
	if rerr == nil {
		// Should the ledger have recovered, leave an exact record.
		_, _ = a.store.AppendBatch(rec, []Event{issue, {Kind: KindRevoke, Fingerprint: d.fingerprint, CData: d.cdata,
			Subject: d.subject, Actor: actor, APIURL: a.apiURL,
			Detail: detailJSON(map[string]any{"reason": "the ledger failed to record the issue"})}})
	}
	return nil, ue
}

// Revoke revokes a token through the API and records the result: revoke,
// or revoke_failed (with detail {"outcome": "unknown"} when the request was
// sent and may have taken effect: the next complete [Auditor.Reconcile]
// settles it). A request that was never sent (woleet.ErrNotSent: the
// context ended first, or no connection could be made) records nothing. A
// token the ledger never saw is recorded as an import first (detail
// "source": "revoke"), in the same transaction as the revocation or its
// unknown outcome, so that the tokens view and reconcile know it; whether
// the ledger knows it is decided inside that transaction. When the API
// revoked the token but the ledger cannot record it, Revoke returns an
// *[UnrecordedError] saying exactly that.
func (a *Auditor) Revoke(ctx context.Context, token string) (Event, error) {
	return a.RevokeWithOptions(ctx, token, RevokeOptions{})
}

// RevokeOptions are the optional parameters of [Auditor.RevokeWithOptions].
type RevokeOptions struct {
	// Reason, when set, says why the token is revoked; it is recorded as
	// detail.reason on the revoke or revoke_failed event.
	Reason string
	// RotatedBy, when set, is the fingerprint of the token that replaces
	// this one (see [Auditor.Rotate]), recorded as detail.rotated_by.
	RotatedBy string
}

// RevokeWithOptions is [Auditor.Revoke] with a reason and a link to the
// token that replaces the revoked one recorded in the event's detail.
func (a *Auditor) RevokeWithOptions(ctx context.Context, token string, opts RevokeOptions) (Event, error) {
	extra := map[string]any{"reason": opts.Reason, "rotated_by": opts.RotatedBy}
	if a.api == nil {
		return Event{}, errNoAPI
	}
	raw := jwtinspect.Normalize(token)
	d := decode(raw)
	actor := a.actor()
	rec := context.WithoutCancel(ctx)
	d.detail["source"] = "revoke"
	birth := Guarded{Event: Event{Kind: KindImport, Fingerprint: d.fingerprint, CData: d.cdata, Subject: d.subject,
		Actor: actor, APIURL: a.apiURL, Detail: detailJSON(d.detail)}, If: []Cond{IfUnknown(d.fingerprint)}}
	if err := a.api.RevokeToken(ctx, raw); err != nil {
		if errors.Is(err, woleet.ErrNotSent) {
			return Event{}, fmt.Errorf("audit: revoke %s: %w (nothing was sent, nothing recorded)", short(d.fingerprint), err)
		}
		failed := Guarded{Event: Event{Kind: KindRevokeFailed, Fingerprint: d.fingerprint, CData: d.cdata,
			Subject: d.subject, Actor: actor, APIURL: a.apiURL, HTTPStatus: apiStatus(err),
			Error: redactJWTs(err.Error()), Detail: addDetail(detailJSON(map[string]any{"outcome": outcome(err)}), extra)}}
		entries := []Guarded{failed}
		if outcome(err) == "unknown" {
			// The token may be revoked, or live: either way it exists.
			entries = []Guarded{birth, failed}
		}
		if _, _, lerr := a.store.AppendIf(rec, entries); lerr != nil {
			return Event{}, fmt.Errorf("audit: revoke %s: %w (and the ledger could not record the failure: %w)", short(d.fingerprint), err, lerr)
		}
		if outcome(err) == "unknown" {
			return Event{}, fmt.Errorf("audit: revoke %s: %w; the token may be revoked: run reconcile to settle it", short(d.fingerprint), err)
		}
		return Event{}, fmt.Errorf("audit: revoke %s: %w", short(d.fingerprint), err)
	}
	revoke := Guarded{Event: Event{Kind: KindRevoke, Fingerprint: d.fingerprint, CData: d.cdata, Subject: d.subject,
		Actor: actor, APIURL: a.apiURL, Detail: addDetail(nil, extra)}}
	got, _, err := a.store.AppendIf(rec, []Guarded{birth, revoke})
	if err != nil {
		return Event{}, &UnrecordedError{Op: "revoke", Fingerprint: d.fingerprint, Err: err}
	}
	return got[len(got)-1], nil
}

// short names a fingerprint as tables do.
func short(fingerprint string) string {
	return "sha256:" + jwtinspect.ShortFingerprint(fingerprint)
}

// known reports whether the ledger has a token with this fingerprint.
func (a *Auditor) known(ctx context.Context, fingerprint string) (bool, error) {
	for _, err := range a.store.Tokens(ctx, TokenFilter{Fingerprint: fingerprint, Limit: 1}) {
		if err != nil {
			return false, err
		}
		return true, nil
	}
	return false, nil
}
