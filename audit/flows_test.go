package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// fixture is a fake Woleet API, a ledger and an Auditor between them.
type fixture struct {
	srv     *woleettest.Server
	client  *woleet.Client
	ledger  *Ledger
	auditor *Auditor
}

// newFixture starts a fake API (with opts) and opens a fresh ledger.
func newFixture(t *testing.T, opts ...woleettest.Option) *fixture {
	t.Helper()
	srv := woleettest.NewServer(opts...)
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, client: fastClient(srv), ledger: openTest(t, WithNow(newClock().Now))}
	f.auditor = f.newAuditor(t, f.client)
	return f
}

// fastClient is a client of srv that does not wait between retries.
func fastClient(srv *woleettest.Server) *woleet.Client {
	return srv.Client(woleet.WithClock(time.Now, func(ctx context.Context, d time.Duration) error { return ctx.Err() }))
}

// newAuditor builds an Auditor on the fixture's ledger and the given API.
func (f *fixture) newAuditor(t *testing.T, api TokenAPI, opts ...AuditorOption) *Auditor {
	t.Helper()
	opts = append([]AuditorOption{WithLocalActor("alice@build-01"), WithAPIIdentity(f.client.Identity()),
		WithAPIURL(f.client.BaseURL())}, opts...)
	a, err := NewAuditor(f.ledger, api, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// events returns every event of the ledger.
func (f *fixture) events(t *testing.T) []Event {
	t.Helper()
	return collect(t, f.ledger.Events(context.Background(), EventFilter{}))
}

// kinds returns the kind of each event.
func kinds(events []Event) []Kind {
	out := make([]Kind, len(events))
	for i, e := range events {
		out[i] = e.Kind
	}
	return out
}

// detailOf decodes an event's detail.
func detailOf(t *testing.T, e Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Detail, &m); err != nil {
		t.Fatalf("detail %s: %v", e.Detail, err)
	}
	return m
}

// hookAPI wraps a TokenAPI and runs hooks after its calls return.
type hookAPI struct {
	TokenAPI
	afterGenerate func()
	beforeRevoke  func()
	afterRevoke   func()
}

// GenerateToken calls the wrapped API, then afterGenerate.
func (h hookAPI) GenerateToken(ctx context.Context, o woleet.GenerateTokenOptions) (*woleet.Token, error) {
	tok, err := h.TokenAPI.GenerateToken(ctx, o)
	if h.afterGenerate != nil {
		h.afterGenerate()
	}
	return tok, err
}

// RevokeToken calls beforeRevoke, the wrapped API, then afterRevoke.
func (h hookAPI) RevokeToken(ctx context.Context, token string) error {
	if h.beforeRevoke != nil {
		h.beforeRevoke()
	}
	err := h.TokenAPI.RevokeToken(ctx, token)
	if h.afterRevoke != nil {
		h.afterRevoke()
	}
	return err
}

// assertNoSecret fails if a token, or its signature, occurs in the ledger's
// files.
func assertNoSecret(t *testing.T, path string, tokens ...string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(path + suffix)
		if err != nil {
			continue
		}
		for _, tok := range tokens {
			sig := tok[strings.LastIndexByte(tok, '.')+1:]
			if bytes.Contains(data, []byte(tok)) || (len(sig) > 10 && bytes.Contains(data, []byte(sig))) {
				t.Errorf("the ledger file %s holds a raw token", path+suffix)
			}
		}
	}
}

func TestIssue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.auditor.Issue(ctx, IssueOptions{CData: "acme-prod"})
	if err != nil {
		t.Fatal(err)
	}
	raw := res.Token.Token
	if !slices.Equal(f.srv.LiveTokens(woleettest.DefaultEmail), []string{raw}) {
		t.Fatal("the returned token is not the server's live token")
	}
	events := f.events(t)
	if !slices.Equal(kinds(events), []Kind{KindIssueRequested, KindIssue}) {
		t.Fatalf("events = %v", kinds(events))
	}
	userID, _ := f.srv.UserID(woleettest.DefaultEmail)
	ev := events[1]
	if ev.Fingerprint != jwtinspect.Fingerprint(raw) || ev.CData != "acme-prod" || ev.Subject != userID ||
		ev.RequestSeq == nil || *ev.RequestSeq != 0 || ev.APIURL != f.srv.URL ||
		ev.Actor != "alice@build-01 via basic:"+woleettest.DefaultEmail || !reflectEqual(ev, res.Event) {
		t.Errorf("issue event = %+v", ev)
	}
	claims, _ := detailOf(t, ev)["claims"].(map[string]any)
	if claims["cdata"] != "acme-prod" || claims["sub"] != userID || claims["jti"] == nil {
		t.Errorf("claims = %v", claims)
	}
	if events[0].CData != "acme-prod" || events[0].Actor != ev.Actor {
		t.Errorf("issue_requested = %+v", events[0])
	}
	tk, err := f.ledger.Token(ctx, ev.Fingerprint)
	if err != nil || tk.State != StateActive || tk.IssuedSeq != 1 {
		t.Errorf("Token() = %+v, %v", tk, err)
	}
	if _, err := f.ledger.Verify(ctx); err != nil {
		t.Error(err)
	}
	assertNoSecret(t, f.ledger.Path(), raw)
}

// reflectEqual compares events, pointers by value.
func reflectEqual(a, b Event) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestIssueRefusesBadCDataBeforeRecording(t *testing.T) {
	f := newFixture(t)
	for _, c := range []string{strings.Repeat("x", woleet.MaxCDataLength+1), "\xff"} {
		if _, err := f.auditor.Issue(context.Background(), IssueOptions{CData: c}); err == nil {
			t.Errorf("Issue(%q) succeeded", c)
		}
	}
	if n := len(f.events(t)); n != 0 || len(f.srv.Requests()) != 0 {
		t.Errorf("%d events recorded, %d requests sent", n, len(f.srv.Requests()))
	}
}

func TestIssueFailsClosedWhenTheLedgerCannotRecordTheRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ledger func(t *testing.T, f *fixture) *Ledger
		want   error
	}{
		{"read-only", func(t *testing.T, f *fixture) *Ledger {
			return openAt(t, f.ledger.Path(), WithReadOnly())
		}, ErrLedgerReadOnly},
		{"gone", func(t *testing.T, f *fixture) *Ledger {
			f.ledger.Close()
			return f.ledger
		}, ErrLedgerClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a, err := NewAuditor(tc.ledger(t, f), f.client)
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Issue(context.Background(), IssueOptions{CData: "acme"})
			if !errors.Is(err, tc.want) || res != nil {
				t.Errorf("Issue() = %v, %v; want no token and %v", res, err, tc.want)
			}
			if len(f.srv.Tokens()) != 0 || len(f.srv.Requests()) != 0 {
				t.Errorf("the API was asked: %d tokens, %d requests", len(f.srv.Tokens()), len(f.srv.Requests()))
			}
		})
	}
}

func TestIssueRevokesWhenTheLedgerFailsAfterIssuance(t *testing.T) {
	f := newFixture(t)
	a := f.newAuditor(t, hookAPI{TokenAPI: f.client, afterGenerate: func() { f.ledger.Close() }})
	res, err := a.Issue(context.Background(), IssueOptions{CData: "acme"})
	var ue *UnrecordedError
	if res != nil || !errors.As(err, &ue) || !ue.Revoked || ue.Op != "issue" || !errors.Is(err, ErrLedgerClosed) {
		t.Fatalf("Issue() = %v, %v; want no token and an UnrecordedError, revoked", res, err)
	}
	tokens := f.srv.Tokens()
	if len(tokens) != 1 || !tokens[0].Revoked || len(f.srv.LiveTokens(woleettest.DefaultEmail)) != 0 {
		t.Fatalf("server tokens = %+v; want one, revoked", tokens)
	}
	if ue.Fingerprint != jwtinspect.Fingerprint(tokens[0].Token) {
		t.Errorf("error names %s, not the issued token", ue.Fingerprint)
	}
	if msg := err.Error(); !strings.Contains(msg, "revoked again") || strings.Contains(msg, tokens[0].Token) {
		t.Errorf("error = %q", msg)
	}
}

func TestIssueWhenRevokingAfterALedgerFailureFails(t *testing.T) {
	f := newFixture(t)
	a := f.newAuditor(t, hookAPI{TokenAPI: f.client, afterGenerate: func() {
		f.ledger.Close()
		f.srv.FailNext(1, 400, nil)
	}})
	res, err := a.Issue(context.Background(), IssueOptions{CData: "acme"})
	var ue *UnrecordedError
	if res != nil || !errors.As(err, &ue) || ue.Revoked || ue.RevokeErr == nil || !errors.Is(err, woleet.ErrBadRequest) {
		t.Fatalf("Issue() = %v, %v; want an UnrecordedError, not revoked", res, err)
	}
	if !strings.Contains(err.Error(), "live and unrecorded") {
		t.Errorf("error = %q", err)
	}
	if len(f.srv.LiveTokens(woleettest.DefaultEmail)) != 1 {
		t.Errorf("the server should still list the token")
	}
}

func TestIssueLostResponseThenReconcile(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.srv.DropNext(1)
	res, err := f.auditor.Issue(ctx, IssueOptions{CData: "acme"})
	if res != nil || !errors.Is(err, woleet.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "reconcile") {
		t.Fatalf("Issue() = %v, %v; want ErrOutcomeUnknown", res, err)
	}
	events := f.events(t)
	if !slices.Equal(kinds(events), []Kind{KindIssueRequested, KindIssueFailed}) {
		t.Fatalf("events = %v", kinds(events))
	}
	if d := detailOf(t, events[1]); d["outcome"] != "unknown" || *events[1].RequestSeq != 0 || events[1].Error == "" {
		t.Errorf("issue_failed = %+v", events[1])
	}
	live := f.srv.LiveTokens(woleettest.DefaultEmail)
	if len(live) != 1 {
		t.Fatalf("server live tokens: %d, want 1", len(live))
	}

	rec, err := f.auditor.Reconcile(ctx, ReconcileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Unknown) != 1 || rec.Unknown[0].Fingerprint != jwtinspect.Fingerprint(live[0]) ||
		rec.Unknown[0].CData != "acme" || len(rec.Recorded) != 0 || rec.InSync() {
		t.Fatalf("Reconcile() = %+v", rec)
	}
	if rec, err = f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true}); err != nil {
		t.Fatal(err)
	}
	if len(rec.Recorded) != 1 || rec.Recorded[0].Kind != KindImport || detailOf(t, rec.Recorded[0])["source"] != "reconcile" {
		t.Fatalf("Reconcile(apply) recorded %+v", rec.Recorded)
	}
	if rec, err = f.auditor.Reconcile(ctx, ReconcileOptions{}); err != nil || !rec.InSync() {
		t.Errorf("after apply: %+v, %v", rec, err)
	}
	assertNoSecret(t, f.ledger.Path(), live...)
}

func TestIssueAPIError(t *testing.T) {
	f := newFixture(t)
	f.srv.FailNext(1, 400, nil)
	_, err := f.auditor.Issue(context.Background(), IssueOptions{CData: "acme"})
	if !errors.Is(err, woleet.ErrBadRequest) || errors.Is(err, woleet.ErrOutcomeUnknown) {
		t.Fatalf("Issue() = %v, want ErrBadRequest", err)
	}
	events := f.events(t)
	if len(events) != 2 || events[1].Kind != KindIssueFailed || events[1].HTTPStatus != 400 || detailOf(t, events[1])["outcome"] != "failed" {
		t.Errorf("events = %+v", events)
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.auditor.Issue(ctx, IssueOptions{CData: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := f.auditor.Revoke(ctx, "Bearer "+res.Token.Token)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != KindRevoke || ev.Fingerprint != res.Event.Fingerprint || ev.CData != "acme" || !f.srv.Revoked(res.Token.Token) {
		t.Errorf("revoke event = %+v, revoked on server: %v", ev, f.srv.Revoked(res.Token.Token))
	}
	tk, err := f.ledger.Token(ctx, ev.Fingerprint)
	if err != nil || tk.State != StateRevoked || *tk.RevokedSeq != ev.Seq || tk.RevokedBy != ev.Actor {
		t.Errorf("Token() = %+v, %v", tk, err)
	}

	// A second revocation is refused by the API (400) and recorded.
	_, err = f.auditor.Revoke(ctx, res.Token.Token)
	if !errors.Is(err, woleet.ErrBadRequest) {
		t.Fatalf("second Revoke() = %v, want ErrBadRequest", err)
	}
	last := f.events(t)[3]
	if last.Kind != KindRevokeFailed || last.HTTPStatus != 400 || last.Fingerprint != ev.Fingerprint {
		t.Errorf("last event = %+v", last)
	}
	assertNoSecret(t, f.ledger.Path(), res.Token.Token)
}

func TestRevokeUnknownTokenRecordsItFirst(t *testing.T) {
	f := newFixture(t)
	raw, err := f.srv.IssueDirect(woleettest.DefaultEmail, "behind-our-back")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := f.auditor.Revoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	events := f.events(t)
	if !slices.Equal(kinds(events), []Kind{KindImport, KindRevoke}) || events[0].CData != "behind-our-back" ||
		detailOf(t, events[0])["source"] != "revoke" || ev.Seq != 1 {
		t.Fatalf("events = %+v", events)
	}
	tk, err := f.ledger.Token(context.Background(), ev.Fingerprint)
	if err != nil || tk.State != StateRevoked {
		t.Errorf("Token() = %+v, %v", tk, err)
	}
}

func TestRevokeFailureKeepsTheTokenActive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.auditor.Issue(ctx, IssueOptions{CData: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.FailNext(6, 503, nil) // more than the client's retries
	if _, err := f.auditor.Revoke(ctx, res.Token.Token); !errors.Is(err, woleet.ErrServerError) {
		t.Fatalf("Revoke() = %v, want ErrServerError", err)
	}
	events := f.events(t)
	last := events[len(events)-1]
	if last.Kind != KindRevokeFailed || last.HTTPStatus != 503 || last.Error == "" {
		t.Errorf("last event = %+v", last)
	}
	if tk, _ := f.ledger.Token(ctx, res.Event.Fingerprint); tk.State != StateActive {
		t.Errorf("state = %s after a failed revoke", tk.State)
	}
}

func TestRevokeUnrecorded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.auditor.Issue(ctx, IssueOptions{CData: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	a := f.newAuditor(t, hookAPI{TokenAPI: f.client, afterRevoke: func() { f.ledger.Close() }})
	_, err = a.Revoke(ctx, res.Token.Token)
	var ue *UnrecordedError
	if !errors.As(err, &ue) || ue.Op != "revoke" || !errors.Is(err, ErrLedgerClosed) ||
		!strings.Contains(err.Error(), "the API revoked token") {
		t.Fatalf("Revoke() = %v, want an UnrecordedError", err)
	}
	if !f.srv.Revoked(res.Token.Token) {
		t.Error("the token is not revoked on the server")
	}
}

func TestReconcile(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	issue := func(c string) *IssueResult {
		res, err := f.auditor.Issue(ctx, IssueOptions{CData: c})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b, d := issue("a"), issue("b"), issue("d")
	c, err := f.srv.IssueDirect(woleettest.DefaultEmail, "c")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.RevokeDirect(a.Token.Token); err != nil {
		t.Fatal(err)
	}
	// The ledger says b is revoked, but the server still lists it.
	mustAppend(t, f.ledger, Event{Kind: KindRevoke, Fingerprint: b.Event.Fingerprint, CData: "b"})

	rec, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Listed != 3 || rec.LedgerActive != 2 || len(rec.Unknown) != 1 || rec.Unknown[0].Fingerprint != jwtinspect.Fingerprint(c) ||
		len(rec.Missing) != 1 || rec.Missing[0].Fingerprint != a.Event.Fingerprint ||
		len(rec.RevokedButListed) != 1 || rec.RevokedButListed[0].Fingerprint != b.Event.Fingerprint {
		t.Fatalf("Reconcile() = %+v", rec)
	}
	// b, recorded revoked yet listed, is seen live: active again.
	if !slices.Equal(kinds(rec.Recorded), []Kind{KindSeenLive, KindImport, KindRevokedElsewhere}) {
		t.Errorf("recorded %v", kinds(rec.Recorded))
	}
	states := map[string]State{}
	for tk, err := range f.ledger.Tokens(ctx, TokenFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		states[tk.CData] = tk.State
	}
	want := map[string]State{"a": StateRevoked, "b": StateActive, "c": StateActive, "d": StateActive}
	if !maps.Equal(states, want) {
		t.Errorf("states = %v, want %v", states, want)
	}
	_ = d
	rec, err = f.auditor.Reconcile(ctx, ReconcileOptions{})
	if err != nil || !rec.InSync() || rec.LedgerActive != 3 {
		t.Errorf("second Reconcile() = %+v, %v", rec, err)
	}
	f.srv.FailNext(6, 503, nil)
	if _, err := f.auditor.Reconcile(ctx, ReconcileOptions{}); !errors.Is(err, woleet.ErrServerError) {
		t.Errorf("Reconcile with a failing API = %v", err)
	}
}

func TestRevokeWhere(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var issued []*IssueResult
	for _, c := range []string{"acme-1", "acme-2", "other", "acme-9", ""} {
		res, err := f.auditor.Issue(ctx, IssueOptions{CData: c})
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, res)
	}
	direct, err := f.srv.IssueDirect(woleettest.DefaultEmail, "acme-3")
	if err != nil {
		t.Fatal(err)
	}
	// acme-9 is revoked elsewhere: the ledger thinks it live.
	if err := f.srv.RevokeDirect(issued[3].Token.Token); err != nil {
		t.Fatal(err)
	}

	var progress []RevokeProgress
	dry, err := f.auditor.RevokeWhere(ctx, RevokeWhereOptions{CData: "acme-", CDataPrefix: true, DryRun: true,
		Progress: func(p RevokeProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	cdatas := func(ts []ListedToken) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.CData)
		}
		return out
	}
	if !dry.DryRun || !slices.Equal(cdatas(dry.Matched), []string{"acme-1", "acme-2", "acme-3"}) || len(dry.Revoked) != 0 ||
		len(dry.NotListed) != 1 || dry.NotListed[0].CData != "acme-9" || len(progress) != 3 || progress[2].Done != 3 || progress[2].Total != 3 {
		t.Fatalf("dry run = %+v, progress %+v", dry, progress)
	}
	if n := len(f.srv.LiveTokens(woleettest.DefaultEmail)); n != 5 {
		t.Fatalf("a dry run revoked tokens: %d live", n)
	}
	before := len(f.events(t))

	// The first revocation fails.
	var once sync.Once
	a := f.newAuditor(t, hookAPI{TokenAPI: f.client, beforeRevoke: func() { once.Do(func() { f.srv.FailNext(1, 400, nil) }) }})
	progress = nil
	res, err := a.RevokeWhere(ctx, RevokeWhereOptions{CData: "acme-", CDataPrefix: true,
		Progress: func(p RevokeProgress) { progress = append(progress, p) }})
	if err == nil || !errors.Is(err, woleet.ErrBadRequest) {
		t.Fatalf("RevokeWhere() error = %v, want the failure", err)
	}
	if len(res.Failed) != 1 || res.Failed[0].Token.CData != "acme-1" || len(res.Revoked) != 2 ||
		progress[0].Err == nil || progress[1].Err != nil {
		t.Fatalf("RevokeWhere() = %+v", res)
	}
	live := f.srv.LiveTokens(woleettest.DefaultEmail)
	if len(live) != 3 || f.srv.Revoked(issued[0].Token.Token) || !f.srv.Revoked(direct) {
		t.Errorf("server: %d live", len(live))
	}
	added := kinds(f.events(t)[before:])
	if !slices.Equal(added, []Kind{KindRevokeFailed, KindRevoke, KindImport, KindRevoke}) {
		t.Errorf("recorded %v", added)
	}

	// Exact match on the empty cdata selects the token without one.
	res, err = f.auditor.RevokeWhere(ctx, RevokeWhereOptions{CData: ""})
	if err != nil || len(res.Revoked) != 1 || !f.srv.Revoked(issued[4].Token.Token) {
		t.Errorf("RevokeWhere(no cdata) = %+v, %v", res, err)
	}
	if _, err := f.auditor.RevokeWhere(ctx, RevokeWhereOptions{CDataPrefix: true}); err == nil {
		t.Error("an empty prefix was accepted")
	}
}

func TestImport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	known, err := f.auditor.Issue(ctx, IssueOptions{CData: "known"})
	if err != nil {
		t.Fatal(err)
	}
	var outside []string
	for _, c := range []string{"x", "y", "z"} {
		raw, err := f.srv.IssueDirect(woleettest.DefaultEmail, c)
		if err != nil {
			t.Fatal(err)
		}
		outside = append(outside, raw)
	}
	input := []string{outside[0], "not a token", "Bearer " + outside[1], known.Token.Token, outside[0], outside[2]}
	run := func(dry bool) (*ImportResult, []ImportItem) {
		var items []ImportItem
		res, err := f.auditor.Import(ctx, slices.Values(input), ImportOptions{Source: "tokens.txt", DryRun: dry,
			Progress: func(it ImportItem) { items = append(items, it) }})
		if err != nil {
			t.Fatal(err)
		}
		return res, items
	}
	res, items := run(true)
	want := ImportResult{Read: 6, Imported: 3, Known: 1, Repeated: 1, Rejected: 1}
	if *res != want || len(f.events(t)) != 2 {
		t.Fatalf("dry run = %+v (want %+v), %d events", res, want, len(f.events(t)))
	}
	var statuses []ImportStatus
	for i, it := range items {
		if it.Index != i+1 {
			t.Errorf("item %d has index %d", i, it.Index)
		}
		statuses = append(statuses, it.Status)
	}
	if !slices.Equal(statuses, []ImportStatus{ImportImported, ImportRejected, ImportImported, ImportKnown, ImportRepeated, ImportImported}) ||
		items[1].Err == nil || items[2].CData != "y" {
		t.Errorf("items = %+v", items)
	}

	res, _ = run(false)
	if *res != want {
		t.Fatalf("Import() = %+v, want %+v", res, want)
	}
	events := f.events(t)[2:]
	if !slices.Equal(kinds(events), []Kind{KindImport, KindImport, KindImport}) || events[0].CData != "x" ||
		events[0].Actor != "alice@build-01 via basic:user@example.com" || events[0].APIURL != f.client.BaseURL() ||
		detailOf(t, events[0])["source"] != "tokens.txt" {
		t.Errorf("events = %+v", events)
	}
	res, _ = run(false)
	if res.Imported != 0 || res.Known != 4 || res.Repeated != 1 {
		t.Errorf("second import = %+v", res)
	}
	assertNoSecret(t, f.ledger.Path(), outside...)
}

func TestNewAuditor(t *testing.T) {
	l := openTest(t)
	if _, err := NewAuditor(nil, nil); err == nil {
		t.Error("nil store accepted")
	}
	for name, o := range map[string]AuditorOption{
		"zero revoke timeout": WithRevokeTimeout(0),
		"empty local actor":   WithLocalActor(""),
	} {
		if _, err := NewAuditor(l, nil, o); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	a, err := NewAuditor(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Issue(ctx, IssueOptions{}); !errors.Is(err, errNoAPI) {
		t.Errorf("Issue without API = %v", err)
	}
	if _, err := a.Revoke(ctx, "x"); !errors.Is(err, errNoAPI) {
		t.Errorf("Revoke without API = %v", err)
	}
	if _, err := a.Reconcile(ctx, ReconcileOptions{}); !errors.Is(err, errNoAPI) {
		t.Errorf("Reconcile without API = %v", err)
	}
	if _, err := a.RevokeWhere(ctx, RevokeWhereOptions{CData: "x"}); !errors.Is(err, errNoAPI) {
		t.Errorf("RevokeWhere without API = %v", err)
	}
	if a.actor() != LocalActor() {
		t.Errorf("actor = %q, want %q", a.actor(), LocalActor())
	}
}
