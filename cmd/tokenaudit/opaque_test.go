package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// notJWTWarning starts the warning a command gives once when it took
// tokens that are not JWTs.
const notJWTWarning = "tokenaudit: warning: "

// wantWarnedOnce fails unless stderr holds the not-a-jwt warning exactly
// once, for n tokens.
func wantWarnedOnce(t *testing.T, what, stderr string, n int) {
	t.Helper()
	want := notJWTWarning + "1 token is not a JWT (not-a-jwt): taken as an opaque token, known by its fingerprint alone"
	if n > 1 {
		want = notJWTWarning + itoa(n) + " tokens are not JWTs (not-a-jwt): taken as opaque tokens, known by their fingerprints alone"
	}
	if strings.Count(stderr, "(not-a-jwt)") != 1 || !strings.Contains(stderr, want) {
		t.Errorf("%s: stderr should warn once, %q:\n%s", what, want, stderr)
	}
}

// TestReconcileRefusesSchemaInvalidList: a list answer the spec does not
// allow is an API error (exit 6) that records nothing and says what the
// server sent; before, {"tokens": null} read as "no live tokens" made
// reconcile --apply record every live token as revoked_elsewhere.
func TestReconcileRefusesSchemaInvalidList(t *testing.T) {
	at := newAPITest(t)
	at.issue(t, "acme")
	at.issue(t, "globex")
	before := eventKinds(t, at.db)
	for body, says := range map[string]string{
		`{"tokens": null}`:   `"tokens" is null, not an array of strings; the server sent {"tokens":null}`,
		`{}`:                 `the required member "tokens" is missing; the server sent {}`,
		`{"TOKENS": []}`:     `a member is named "TOKENS": the specification's name is "tokens" (names are case-sensitive); the server sent {"TOKENS":[]}`,
		`{"tokens": [null]}`: `"tokens"[0] is null, not a string; the server sent {"tokens":[null]}`,
	} {
		at.srv.AnswerNext(1, http.StatusOK, nil, []byte(body))
		r := at.run(t, "", "reconcile", "--apply")
		r.want(t, exitAPI, nil, []string{"GET /v1/user/tokens: 200 OK: " + says,
			"tokenaudit: hint: the Woleet API is " + at.srv.URL})
		if r.stdout != "" {
			t.Errorf("reconcile --apply against %s printed %q", body, r.stdout)
		}
		wantEqual(t, "events after reconcile --apply against "+body, eventKinds(t, at.db), before)
	}
	wantEqual(t, "tokens view", queryRows(t, openSQL(t, at.db), "SELECT cdata, state FROM tokens ORDER BY issued_seq"),
		[]string{"acme|active", "globex|active"})

	// GET /token answering {"Token": …}: a token may have been issued, so
	// the outcome is unknown (recorded, for reconcile to settle); the token
	// is shown by its fingerprint alone.
	const issued = "a-token-under-the-wrong-name"
	at.tokens = append(at.tokens, issued)
	at.srv.AnswerNext(1, http.StatusOK, nil, []byte(`{"Token": "`+issued+`"}`))
	r := at.run(t, "", "issue", "--cdata", "wrong-name")
	r.want(t, exitAPI, nil, []string{`GET /v1/token: 200 OK: a member is named "Token": the specification's name is "token"`,
		`the server sent {"Token":"[redacted sha256:` + short(issued) + `]"}`, "a token may have been issued: run reconcile to find it"})
	if r.stdout != "" {
		t.Errorf("issue printed %q", r.stdout)
	}
	wantEqual(t, "events after the misnamed token", queryRows(t, openSQL(t, at.db),
		"SELECT kind, http_status, json_extract(detail, '$.outcome') FROM events ORDER BY seq")[len(before):],
		[]string{"issue_requested|NULL|NULL", "issue_failed|200|unknown"})
	at.checkNoLeak(t)
}

// TestOpaqueTokensEndToEnd: with an API that issues tokens that are not
// JWTs, issue, revoke (standard input), import, inspect, fingerprint and
// cdata all take them, by fingerprint, and each warns once; a mangled JWT
// or text with white space is still malformed.
func TestOpaqueTokensEndToEnd(t *testing.T) {
	at := newAPITest(t, woleettest.WithOpaqueTokens())
	r := at.run(t, "", "issue", "--cdata", "opaque", "--count", "2")
	r.want(t, 0, nil, []string{"tokenaudit: issued sha256:"})
	wantWarnedOnce(t, "issue", r.stderr, 2)
	issued := strings.Fields(r.stdout)
	if len(issued) != 2 || !strings.HasPrefix(issued[0], woleettest.OpaqueTokenPrefix) {
		t.Fatalf("issue printed %q, want two opaque tokens", r.stdout)
	}
	at.tokens = append(at.tokens, issued...)
	db := openSQL(t, at.db)
	wantEqual(t, "issue events", queryRows(t, db,
		"SELECT kind, fingerprint, cdata, json_extract(detail, '$.findings[0]') FROM events WHERE kind = 'issue' ORDER BY seq"),
		[]string{"issue|" + fingerprintOf(issued[0]) + "|opaque|not-a-jwt", "issue|" + fingerprintOf(issued[1]) + "|opaque|not-a-jwt"})

	r = at.run(t, issued[0]+"\n", "revoke")
	r.want(t, 0, []string{"stdin line 1", short(issued[0]), "revoked"}, nil)
	wantWarnedOnce(t, "revoke", r.stderr, 1)
	if !at.srv.Revoked(issued[0]) {
		t.Error("the opaque token was not revoked at the API")
	}

	// Issued behind the ledger's back, then imported from a file.
	outside := []string{at.direct(t, "outside-1"), at.direct(t, "outside-2")}
	file := filepath.Join(t.TempDir(), "opaque.txt")
	if err := os.WriteFile(file, []byte(strings.Join(append(outside, issued[1]), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = at.run(t, "", "import", "@"+file)
	r.want(t, 0, []string{"Read 3 tokens: imported 2, 1 already in the ledger, 0 repeated, 0 rejected.\n"}, nil)
	wantWarnedOnce(t, "import", r.stderr, 3)
	wantEqual(t, "import events", queryRows(t, db,
		"SELECT fingerprint, json_extract(detail, '$.findings[0]') FROM events WHERE kind = 'import' ORDER BY seq"),
		[]string{fingerprintOf(outside[0]) + "|not-a-jwt", fingerprintOf(outside[1]) + "|not-a-jwt"})
	wantEqual(t, "tokens view", queryRows(t, db, "SELECT cdata, state FROM tokens ORDER BY issued_seq"),
		[]string{"opaque|revoked", "opaque|active", "|active", "|active"})

	r = at.run(t, "", "inspect", outside[0])
	r.want(t, 0, []string{"kind         opaque", "fingerprint  " + fingerprintOf(outside[0]), "not-a-jwt"}, nil)
	wantWarnedOnce(t, "inspect", r.stderr, 1)
	r = at.run(t, outside[0]+"\n"+outside[1]+"\n", "inspect", "--format", "jsonl")
	r.want(t, 0, []string{`{"kind":"opaque","alg":null,"header":null,"claims":null,"payload":null,"cdata":null,"fingerprint":"` + fingerprintOf(outside[1]) + `"`,
		`"times":{"iat":null,"nbf":null,"exp":null,"status":"unknown"},"findings":[{"id":"not-a-jwt","severity":"medium"`}, nil)
	wantWarnedOnce(t, "inspect --format jsonl", r.stderr, 2)

	r = at.run(t, "", "fingerprint", outside[0])
	r.want(t, 0, []string{fingerprintOf(outside[0]) + "\n"}, nil)
	wantWarnedOnce(t, "fingerprint", r.stderr, 1)
	r = at.run(t, "", "cdata", "--format", "jsonl", outside[0])
	r.want(t, 0, []string{`{"cdata":null,"fingerprint":"` + fingerprintOf(outside[0]) + `"}`}, nil)
	wantWarnedOnce(t, "cdata", r.stderr, 1)

	// Reconcile agrees with the API: the tokens match by fingerprint.
	r = at.run(t, "", "reconcile")
	r.want(t, 0, []string{"The API lists 3 live tokens;", "In sync.\n"}, nil)

	// Text shaped like a JWT that does not parse, and text with white
	// space, are not tokens.
	for _, bad := range []string{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIi.x!", "eyJhbGciOiJIUzI1NiJ9", "not a token", "a.b"} {
		for _, cmd := range []string{"inspect", "revoke", "import", "fingerprint", "cdata"} {
			r = at.run(t, bad+"\n", cmd)
			if r.code != exitMalformed || strings.Contains(r.stderr, "not-a-jwt") {
				t.Errorf("%s %q: exit %d, want %d without the warning; stderr:\n%s", cmd, bad, r.code, exitMalformed, r.stderr)
			}
		}
	}
	at.checkNoLeak(t)
}
