package audit

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// unsignedJWT builds an unsecured JWT (alg none) with the given claims.
func unsignedJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(p) + "."
}

// tokenStates returns the state of every token of the ledger, by cdata.
func tokenStates(t *testing.T, l *Ledger) map[string]State {
	t.Helper()
	out := map[string]State{}
	for _, tk := range collect(t, l.Tokens(context.Background(), TokenFilter{})) {
		out[tk.CData] = tk.State
	}
	return out
}

// issueN issues one token per cdata through the auditor.
func issueN(t *testing.T, a *Auditor, cdata ...string) []*IssueResult {
	t.Helper()
	var out []*IssueResult
	for _, c := range cdata {
		res, err := a.Issue(context.Background(), IssueOptions{CData: c})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res)
	}
	return out
}

// TestReconcileComparesOnlyItsOwnAPI: a reconcile against another Woleet
// (another URL, or the same URL with another account) finds none of the
// ledger's tokens in its list; it must leave them out, not record them as
// revoked elsewhere.
func TestReconcileComparesOnlyItsOwnAPI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	issueN(t, f.auditor, "a", "b", "c", "d", "e")
	before := len(f.events(t))

	other := woleettest.NewServer()
	t.Cleanup(other.Close)
	otherClient := fastClient(other)
	a2, err := NewAuditor(f.ledger, otherClient, WithLocalActor("alice@build-01"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a2.Reconcile(ctx, ReconcileOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.LeftOut.OtherAPI != 5 || len(res.Missing) != 0 || res.LedgerActive != 0 || len(res.Recorded) != 0 {
		t.Errorf("reconcile against another URL = %+v", res)
	}

	// The same URL, another account.
	f.srv.AddUser("bob@example.com", "bob-password")
	bob := f.srv.Client(woleet.WithBasicAuth("bob@example.com", "bob-password"))
	a3, err := NewAuditor(f.ledger, bob, WithLocalActor("alice@build-01"))
	if err != nil {
		t.Fatal(err)
	}
	res, err = a3.Reconcile(ctx, ReconcileOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.LeftOut.OtherAPI != 5 || len(res.Missing) != 0 || len(res.Recorded) != 0 {
		t.Errorf("reconcile with another account = %+v", res)
	}
	if n := len(f.events(t)); n != before {
		t.Errorf("%d events recorded against other APIs", n-before)
	}
	for c, s := range tokenStates(t, f.ledger) {
		if s != StateActive {
			t.Errorf("token %q is %s", c, s)
		}
	}
}

// TestReconcileRefusesMassRevocation: most live tokens missing at once is
// refused without Yes, and recorded with it.
func TestReconcileRefusesMassRevocation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	issued := issueN(t, f.auditor, "a", "b", "c", "d", "e", "f")
	for _, r := range issued[:4] {
		if err := f.srv.RevokeDirect(r.Token.Token); err != nil {
			t.Fatal(err)
		}
	}
	before := len(f.events(t))
	res, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
	var mass *MassRevocationError
	if !errors.As(err, &mass) || mass.Missing != 4 || mass.Compared != 6 || len(res.Missing) != 4 {
		t.Fatalf("Reconcile() = %+v, %v; want a MassRevocationError for 4 of 6", res, err)
	}
	if n := len(f.events(t)); n != before {
		t.Fatalf("a refused reconcile recorded %d events", n-before)
	}
	res, err = f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true, Yes: true})
	if err != nil || !slices.Equal(kinds(res.Recorded), []Kind{KindRevokedElsewhere, KindRevokedElsewhere, KindRevokedElsewhere, KindRevokedElsewhere}) {
		t.Fatalf("Reconcile(Yes) = %+v, %v", res, err)
	}
	// Three missing of two live is within the floor: no confirmation.
	g := newFixture(t)
	issued = issueN(t, g.auditor, "x", "y", "z")
	for _, r := range issued {
		if err := g.srv.RevokeDirect(r.Token.Token); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := g.auditor.Reconcile(ctx, ReconcileOptions{Apply: true}); err != nil || len(res.Recorded) != 3 {
		t.Errorf("Reconcile of 3 missing = %+v, %v", res, err)
	}
}

// TestSeenLiveMakesATokenActiveAgain: the state follows the latest
// state-changing event.
func TestSeenLiveMakesATokenActiveAgain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := issueN(t, f.auditor, "back")[0]
	mustAppend(t, f.ledger, Event{Kind: KindRevoke, Fingerprint: tok.Event.Fingerprint, CData: "back"})
	if s := tokenStates(t, f.ledger)["back"]; s != StateRevoked {
		t.Fatalf("state %s after revoke", s)
	}
	res, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
	if err != nil || len(res.RevokedButListed) != 1 || !slices.Equal(kinds(res.Recorded), []Kind{KindSeenLive}) {
		t.Fatalf("Reconcile() = %+v, %v", res, err)
	}
	got, err := f.ledger.Token(ctx, tok.Event.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateActive || got.RevokedSeq != nil || !got.RevokedAt.IsZero() || got.StateSeq != res.Recorded[0].Seq {
		t.Errorf("token after seen_live = %+v", got)
	}
	rep, err := f.ledger.Report(ctx, ReportOptions{})
	if err != nil || rep.Tokens.Active != 1 || rep.Tokens.Revoked != 0 {
		t.Errorf("report tokens = %+v, %v", rep.Tokens, err)
	}
	// Revoked again through tokenaudit: revoked, by the latest event.
	if _, err := f.auditor.Revoke(ctx, tok.Token.Token); err != nil {
		t.Fatal(err)
	}
	if s := tokenStates(t, f.ledger)["back"]; s != StateRevoked {
		t.Errorf("state %s after the second revoke", s)
	}
}

// TestRevokeOutcomes: a revoke that may have reached the server is
// recorded with outcome unknown, and reconcile settles it; one never sent
// records nothing.
func TestRevokeOutcomes(t *testing.T) {
	ctx := context.Background()
	t.Run("lost answer, then settled as revoked", func(t *testing.T) {
		f := newFixture(t)
		tok := issueN(t, f.auditor, "lost")[0]
		f.srv.DropNext(1) // revoked, then the connection is dropped; the retry gets a 400
		_, err := f.auditor.Revoke(ctx, tok.Token.Token)
		if !errors.Is(err, woleet.ErrOutcomeUnknown) {
			t.Fatalf("Revoke() = %v, want outcome unknown", err)
		}
		evs := f.events(t)
		last := evs[len(evs)-1]
		if last.Kind != KindRevokeFailed || detailOf(t, last)["outcome"] != "unknown" {
			t.Fatalf("last event %+v", last)
		}
		rep, _ := f.ledger.Report(ctx, ReportOptions{})
		if len(rep.PendingRevokes) != 1 || rep.PendingRevokes[0].Seq != last.Seq {
			t.Errorf("pending revokes = %+v", rep.PendingRevokes)
		}
		res, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
		if err != nil || len(res.Recorded) != 1 {
			t.Fatalf("Reconcile() = %+v, %v", res, err)
		}
		r := res.Recorded[0]
		if r.Kind != KindRevoke || r.RequestSeq == nil || *r.RequestSeq != last.Seq {
			t.Errorf("reconcile recorded %+v, want a revoke answering seq %d", r, last.Seq)
		}
		if s := tokenStates(t, f.ledger)["lost"]; s != StateRevoked {
			t.Errorf("state %s", s)
		}
		rep, _ = f.ledger.Report(ctx, ReportOptions{})
		if len(rep.PendingRevokes) != 0 {
			t.Errorf("pending revokes after reconcile = %+v", rep.PendingRevokes)
		}
	})
	t.Run("server error, then settled as not revoked", func(t *testing.T) {
		f := newFixture(t)
		tok := issueN(t, f.auditor, "kept")[0]
		f.srv.FailNext(1, 500, nil)
		if _, err := f.auditor.Revoke(ctx, tok.Token.Token); !errors.Is(err, woleet.ErrOutcomeUnknown) {
			t.Fatalf("Revoke() = %v, want outcome unknown", err)
		}
		pending := f.events(t)[len(f.events(t))-1]
		res, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
		if err != nil || len(res.Recorded) != 1 || res.Recorded[0].Kind != KindSettled ||
			*res.Recorded[0].RequestSeq != pending.Seq || !strings.HasPrefix(detailOf(t, res.Recorded[0])["outcome"].(string), "not revoked") {
			t.Fatalf("Reconcile() = %+v, %v", res, err)
		}
		if s := tokenStates(t, f.ledger)["kept"]; s != StateActive {
			t.Errorf("state %s", s)
		}
		res, err = f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
		if err != nil || len(res.Recorded) != 0 || len(res.Pending) != 0 {
			t.Errorf("second Reconcile() = %+v, %v", res, err)
		}
	})
	t.Run("never sent", func(t *testing.T) {
		f := newFixture(t)
		tok := issueN(t, f.auditor, "unsent")[0]
		before := len(f.events(t))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := f.auditor.Revoke(cctx, tok.Token.Token); !errors.Is(err, woleet.ErrNotSent) {
			t.Fatalf("Revoke() = %v, want not sent", err)
		}
		if n := len(f.events(t)); n != before {
			t.Errorf("a revoke never sent recorded %d events", n-before)
		}
		if f.srv.Revoked(tok.Token.Token) {
			t.Error("the token was revoked")
		}
	})
	t.Run("unseen token, outcome unknown", func(t *testing.T) {
		f := newFixture(t)
		raw, err := f.srv.IssueDirect(woleettest.DefaultEmail, "stranger")
		if err != nil {
			t.Fatal(err)
		}
		f.srv.FailNext(1, 500, nil)
		if _, err := f.auditor.Revoke(ctx, raw); !errors.Is(err, woleet.ErrOutcomeUnknown) {
			t.Fatalf("Revoke() = %v", err)
		}
		evs := f.events(t)
		if !slices.Equal(kinds(evs), []Kind{KindImport, KindRevokeFailed}) || detailOf(t, evs[0])["source"] != "revoke" ||
			evs[0].Fingerprint != jwtinspect.Fingerprint(raw) || evs[0].CData != "stranger" {
			t.Fatalf("events = %+v", evs)
		}
		res, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
		if err != nil || !slices.Equal(kinds(res.Recorded), []Kind{KindSettled}) {
			t.Errorf("Reconcile() = %+v, %v", res, err)
		}
	})
}

// TestReconcileSettlesPendingIssues: the first complete reconcile after an
// issue with no known outcome settles it, with what it found.
func TestReconcileSettlesPendingIssues(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.srv.DropNext(1) // the token is issued, the answer lost
	if _, err := f.auditor.Issue(ctx, IssueOptions{CData: "dropped"}); !errors.Is(err, woleet.ErrOutcomeUnknown) {
		t.Fatalf("Issue() = %v, want outcome unknown", err)
	}
	// A process that died after recording its request.
	ghost := mustAppend(t, f.ledger, Event{Kind: KindIssueRequested, CData: "ghost",
		Actor: f.auditor.actor(), APIURL: f.client.BaseURL()})
	rep, err := f.ledger.Report(ctx, ReportOptions{})
	if err != nil || len(rep.PendingIssues) != 2 {
		t.Fatalf("pending issues = %+v, %v", rep.PendingIssues, err)
	}
	failed := rep.PendingIssues[0]
	if failed.Kind != KindIssueFailed {
		t.Fatalf("first pending = %+v", failed)
	}
	res, err := f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
	if err != nil || !slices.Equal(kinds(res.Recorded), []Kind{KindImport, KindSettled}) {
		t.Fatalf("Reconcile() = %+v, %v", res, err)
	}
	imp, settled := res.Recorded[0], res.Recorded[1]
	if imp.CData != "dropped" || imp.RequestSeq == nil || *imp.RequestSeq != failed.Seq {
		t.Errorf("import = %+v, want it to answer seq %d", imp, failed.Seq)
	}
	if settled.RequestSeq == nil || *settled.RequestSeq != ghost.Seq || !strings.HasPrefix(detailOf(t, settled)["outcome"].(string), "no token found") {
		t.Errorf("settled = %+v, want it to answer seq %d", settled, ghost.Seq)
	}
	rep, err = f.ledger.Report(ctx, ReportOptions{})
	if err != nil || len(rep.PendingIssues) != 0 {
		t.Errorf("pending issues after reconcile = %+v, %v", rep.PendingIssues, err)
	}
	res, err = f.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
	if err != nil || !res.InSync() || len(res.Recorded) != 0 {
		t.Errorf("second Reconcile() = %+v, %v", res, err)
	}
}

// TestReconcileLeavesIssuesInFlight: a token whose issue request is still
// in flight is not imported behind the issuing process's back.
func TestReconcileLeavesIssuesInFlight(t *testing.T) {
	srv := woleettest.NewServer()
	t.Cleanup(srv.Close)
	l := openTest(t) // the real clock, as in production
	client := fastClient(srv)
	a, err := NewAuditor(l, client)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustAppend(t, l, Event{Kind: KindIssueRequested, CData: "busy", Actor: a.actor(), APIURL: client.BaseURL()})
	if _, err := srv.IssueDirect(woleettest.DefaultEmail, "busy"); err != nil {
		t.Fatal(err)
	}
	res, err := a.Reconcile(ctx, ReconcileOptions{Apply: true})
	if err != nil || len(res.InFlight) != 1 || len(res.Unknown) != 0 || len(res.Recorded) != 0 {
		t.Fatalf("Reconcile() = %+v, %v", res, err)
	}
	res, err = a.Reconcile(ctx, ReconcileOptions{Apply: true, InFlight: -1})
	if err != nil || !slices.Equal(kinds(res.Recorded), []Kind{KindImport}) || res.Recorded[0].RequestSeq == nil {
		t.Fatalf("Reconcile(InFlight: -1) = %+v, %v", res, err)
	}
}

// TestPoisonTextIsRecorded: text from a token that the ledger cannot store
// as it is (a NUL, something shaped like a JWT, huge claims) is stored in
// its documented form, and never stops a fact from being recorded.
func TestPoisonTextIsRecorded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	jwtShaped := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	poison := []string{
		unsignedJWT(t, map[string]any{"cdata": "a\x00b", "sub": "s"}),
		unsignedJWT(t, map[string]any{"cdata": jwtShaped, "sub": jwtShaped}),
		unsignedJWT(t, map[string]any{"cdata": "big", "blob": strings.Repeat("x", 1<<20+10)}),
		unsignedJWT(t, map[string]any{"cdata": "claim", "nested": map[string]any{"t": jwtShaped}}),
		deepJWT(1200),
	}
	var input []string
	for i := range 600 {
		input = append(input, unsignedJWT(t, map[string]any{"cdata": "good", "n": i}))
		if i%120 == 0 {
			input = append(input, poison[i/120])
		}
	}
	res, err := f.auditor.Import(ctx, slices.Values(input), ImportOptions{})
	if err != nil || res.Imported != 605 || res.Rejected != 0 {
		t.Fatalf("Import() = %+v, %v", res, err)
	}
	byFP := map[string]Event{}
	for _, e := range f.events(t) {
		byFP[e.Fingerprint] = e
	}
	nul := byFP[jwtinspect.Fingerprint(poison[0])]
	if nul.CData != `a\x00b` || detailOf(t, nul)["cdata_original"] == nil {
		t.Errorf("NUL cdata recorded as %q, detail %s", nul.CData, nul.Detail)
	}
	shaped := byFP[jwtinspect.Fingerprint(poison[1])]
	want := "[token sha256:" + jwtinspect.ShortFingerprint(jwtinspect.Fingerprint(jwtShaped)) + "]"
	if shaped.CData != want || shaped.Subject != want {
		t.Errorf("JWT-shaped cdata recorded as %q / %q, want %q", shaped.CData, shaped.Subject, want)
	}
	big := byFP[jwtinspect.Fingerprint(poison[2])]
	if d := detailOf(t, big); d["claims_sha256"] == nil || d["claims"] != nil || len(big.Detail) > 4096 {
		t.Errorf("huge claims recorded as %d bytes of detail", len(big.Detail))
	}
	claim := byFP[jwtinspect.Fingerprint(poison[3])]
	if d := detailOf(t, claim); d["claims"] == nil || strings.Contains(string(claim.Detail), jwtShaped) {
		t.Errorf("claims with a JWT-shaped member recorded as %s", claim.Detail)
	}
	deep := byFP[jwtinspect.Fingerprint(poison[4])]
	if d := detailOf(t, deep); d["claims_sha256"] == nil || d["claims"] != nil {
		t.Errorf("claims nested 1,200 deep recorded as %.200s", deep.Detail)
	}
	assertNoSecret(t, f.ledger.Path(), jwtShaped)
	if rep, err := f.ledger.Verify(ctx); err != nil || !rep.OK() {
		t.Errorf("Verify() = %+v, %v", rep, err)
	}

	// The same text on tokens the server issued: reconcile and revoke record them.
	g := newFixture(t)
	raw, err := g.srv.IssueDirect(woleettest.DefaultEmail, jwtShaped)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := g.auditor.Reconcile(ctx, ReconcileOptions{Apply: true})
	if err != nil || len(rec.Recorded) != 1 {
		t.Fatalf("Reconcile() = %+v, %v", rec, err)
	}
	if _, err := g.auditor.Revoke(ctx, raw); err != nil {
		t.Fatalf("Revoke() = %v", err)
	}
	if s := tokenStates(t, g.ledger); len(s) != 1 {
		t.Errorf("states = %v", s)
	}
}

// TestAgeFromTheTokensIAT: a token imported long after it was issued is as
// old as its iat says.
func TestAgeFromTheTokensIAT(t *testing.T) {
	f := newFixture(t) // the ledger's clock reads 2025-01-02
	ctx := context.Background()
	old := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	input := []string{
		unsignedJWT(t, map[string]any{"cdata": "old", "iat": old.Unix()}),
		unsignedJWT(t, map[string]any{"cdata": "new"}),
		unsignedJWT(t, map[string]any{"cdata": "absurd", "iat": 5}),
	}
	if _, err := f.auditor.Import(ctx, slices.Values(input), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range collect(t, f.ledger.Tokens(ctx, TokenFilter{State: StateActive, MinAge: 90 * 24 * time.Hour})) {
		got = append(got, tk.CData)
		if !tk.TokenIAT.Equal(old) || !tk.FirstSeenAt.Equal(old) || tk.IssuedAt.Year() != 2025 {
			t.Errorf("token %+v", tk)
		}
	}
	if !slices.Equal(got, []string{"old"}) {
		t.Errorf("older than 90 days: %v, want [old]", got)
	}
	newer := collect(t, f.ledger.Tokens(ctx, TokenFilter{MaxAge: 24 * time.Hour}))
	if len(newer) != 2 {
		t.Errorf("newer than a day: %d tokens, want 2 (new, absurd)", len(newer))
	}
	rep, err := f.ledger.Report(ctx, ReportOptions{})
	if err != nil || len(rep.OldestLive) != 3 || rep.OldestLive[0].CData != "old" || rep.OldestLive[0].Age() < 700*24*time.Hour {
		t.Errorf("oldest live = %+v, %v", rep.OldestLive, err)
	}
}

// TestMigrateFixtures migrates the ledgers today's tokenaudit wrote
// (versions 1 and 2, in testdata/ledgers) to the current schema: every
// event and hash is kept, the tokens view shows the same tokens in the same
// states, and the ledger verifies.
func TestMigrateFixtures(t *testing.T) {
	for _, name := range []string{"v1-demo.db", "v2-demo.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			copyFileMode(t, filepath.Join("testdata", "ledgers", name), path, 0o600)
			db := rawDB(t, path)
			before := queryStrings(t, db, "SELECT fingerprint || ' ' || cdata || ' ' || state FROM tokens ORDER BY issued_seq")
			leaves := queryStrings(t, db, "SELECT hex(leaf_hash) FROM events ORDER BY seq")
			db.Close()
			l := openAt(t, path)
			if l.SchemaVersion() != SchemaVersion {
				t.Fatalf("schema version %d", l.SchemaVersion())
			}
			ctx := context.Background()
			var after []string
			for _, tk := range collect(t, l.Tokens(ctx, TokenFilter{})) {
				after = append(after, tk.Fingerprint+" "+tk.CData+" "+string(tk.State))
				if tk.APIURL == "" || tk.FirstSeenAt.IsZero() {
					t.Errorf("migrated token %+v", tk)
				}
			}
			if !slices.Equal(before, after) || len(before) == 0 {
				t.Errorf("tokens before migration %v, after %v", before, after)
			}
			rep, err := l.Verify(ctx)
			if err != nil || !rep.OK() || rep.Verified != int64(len(leaves)) {
				t.Errorf("Verify() = %+v, %v", rep, err)
			}
			if _, err := l.Append(ctx, Event{Kind: KindIssueRequested, CData: "after"}); err != nil {
				t.Errorf("append after migration: %v", err)
			}
		})
	}
}

// queryStrings runs a query returning one text column.
func queryStrings(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// deepJWT builds an unsecured JWT whose claims nest depth arrays deep.
func deepJWT(depth int) string {
	p := `{"cdata":"deep","d":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString([]byte(p)) + "."
}

// copyFileMode copies src to dst, created with mode.
func copyFileMode(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
