package audit

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// notAJWT reports whether an event's detail carries the finding
// "not-a-jwt".
func notAJWT(t *testing.T, e Event) bool {
	t.Helper()
	fs, _ := detailOf(t, e)["findings"].([]any)
	return slices.Contains(fs, any("not-a-jwt"))
}

// TestOpaqueTokens: a token the API issues is a token, JWT or not. An
// opaque one is issued, revoked, imported and reconciled by fingerprint,
// each event with the finding "not-a-jwt"; JWTs carry no such finding.
func TestOpaqueTokens(t *testing.T) {
	f := newFixture(t, woleettest.WithOpaqueTokens())
	ctx := context.Background()
	res, err := f.auditor.Issue(ctx, IssueOptions{CData: "opaque"})
	if err != nil {
		t.Fatal(err)
	}
	raw := res.Token.Token
	if res.Event.Kind != KindIssue || res.Event.Fingerprint != jwtinspect.Fingerprint(raw) || res.Event.CData != "opaque" || !notAJWT(t, res.Event) {
		t.Errorf("issue event = %+v, detail %s", res.Event, res.Event.Detail)
	}
	ev, err := f.auditor.Revoke(ctx, raw)
	if err != nil || ev.Kind != KindRevoke || ev.Fingerprint != res.Event.Fingerprint || !f.srv.Revoked(raw) {
		t.Errorf("Revoke = %+v, %v; revoked at the API %v", ev, err, f.srv.Revoked(raw))
	}

	// Issued behind the ledger's back: an import records it, garbage and
	// mangled JWTs are refused.
	outside, err := f.srv.IssueDirect(woleettest.DefaultEmail, "outside")
	if err != nil {
		t.Fatal(err)
	}
	input := []string{outside, "two words", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIi.x!", "eyJhbGciOiJIUzI1NiJ9", "a.b"}
	var items []ImportItem
	ires, err := f.auditor.Import(ctx, slices.Values(input), ImportOptions{Progress: func(it ImportItem) { items = append(items, it) }})
	if err != nil || ires.Imported != 1 || ires.Rejected != 4 || items[0].Fingerprint != jwtinspect.Fingerprint(outside) {
		t.Fatalf("Import = %+v, %v; items %+v", ires, err, items)
	}
	events := f.events(t)
	imp := events[len(events)-1]
	if imp.Kind != KindImport || imp.Fingerprint != jwtinspect.Fingerprint(outside) || !notAJWT(t, imp) {
		t.Errorf("import event = %+v, detail %s", imp, imp.Detail)
	}

	// Reconcile finds another one by fingerprint, and is then in sync.
	shadow, err := f.srv.IssueDirect(woleettest.DefaultEmail, "shadow")
	if err != nil {
		t.Fatal(err)
	}
	rres, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
	if err != nil || len(rres.Unknown) != 1 || rres.Unknown[0].Fingerprint != jwtinspect.Fingerprint(shadow) || len(rres.Missing) != 0 {
		t.Fatalf("Reconcile = %+v, %v", rres, err)
	}
	if again, err := f.auditor.Reconcile(ctx, ReconcileOptions{}); err != nil || !again.InSync() {
		t.Errorf("second Reconcile = %+v, %v", again, err)
	}
	assertNoSecret(t, f.ledger.Path(), raw, outside, shadow)

	jwt := newFixture(t)
	jres, err := jwt.auditor.Issue(ctx, IssueOptions{CData: "jwt"})
	if err != nil || notAJWT(t, jres.Event) {
		t.Errorf("a JWT's issue event = %+v, %v", jres, err)
	}
}

// TestIssueTokenWithWhiteSpace: a 200 answer whose token has white space in
// it is a token in hand: it is recorded and handed out, never an unknown
// outcome.
func TestIssueTokenWithWhiteSpace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.srv.AnswerNext(1, http.StatusOK, nil, []byte(`{"token":"opaque token\twith spaces"}`))
	res, err := f.auditor.Issue(ctx, IssueOptions{CData: "spaces"})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if res.Token.Token != "opaque token\twith spaces" || res.Event.Kind != KindIssue ||
		res.Event.Fingerprint != jwtinspect.Fingerprint("opaque token\twith spaces") || !notAJWT(t, res.Event) {
		t.Errorf("Issue = %q, event %+v, detail %s", res.Token.Token, res.Event, res.Event.Detail)
	}
	if got := kinds(f.events(t)); !slices.Equal(got, []Kind{KindIssueRequested, KindIssue}) {
		t.Errorf("events %v, want issue_requested, issue", got)
	}
}
