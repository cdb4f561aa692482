package audit

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

func TestRevokeWhereByFingerprint(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var issued []*IssueResult
	for _, c := range []string{"acme", "acme", "globex"} {
		res, err := f.auditor.Issue(ctx, IssueOptions{CData: c})
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, res)
	}
	target := issued[1].Event.Fingerprint
	prefix := strings.ToUpper(strings.TrimPrefix(target, "sha256:")[:MinFingerprintPrefix])

	dry, err := f.auditor.RevokeWhere(ctx, RevokeWhereOptions{Fingerprint: prefix, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Matched) != 1 || dry.Matched[0].Fingerprint != target || dry.Matched[0].CData != "acme" || len(dry.Revoked) != 0 {
		t.Fatalf("dry run by prefix %s = %+v", prefix, dry)
	}

	res, err := f.auditor.RevokeWhere(ctx, RevokeWhereOptions{Fingerprint: target})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Revoked) != 1 || res.Revoked[0].Fingerprint != target || !f.srv.Revoked(issued[1].Token.Token) ||
		f.srv.Revoked(issued[0].Token.Token) {
		t.Fatalf("RevokeWhere(fingerprint) = %+v", res)
	}

	// A token the ledger holds active but the server no longer lists.
	if err := f.srv.RevokeDirect(issued[2].Token.Token); err != nil {
		t.Fatal(err)
	}
	res, err = f.auditor.RevokeWhere(ctx, RevokeWhereOptions{Fingerprint: issued[2].Event.Fingerprint})
	if err != nil || len(res.Matched) != 0 || len(res.NotListed) != 1 || res.NotListed[0].Fingerprint != issued[2].Event.Fingerprint {
		t.Errorf("RevokeWhere(revoked elsewhere) = %+v, %v", res, err)
	}

	for _, bad := range []RevokeWhereOptions{
		{Fingerprint: "sha256:abc"},          // too short
		{Fingerprint: "sha256:nothexnothex"}, // not hex
		{Fingerprint: target, CData: "acme"}, // both
		{Fingerprint: target, CDataPrefix: true},
	} {
		if _, err := f.auditor.RevokeWhere(ctx, bad); err == nil {
			t.Errorf("RevokeWhere(%+v) was accepted", bad)
		}
	}
}

func TestRevokeWhereConfirm(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for range 2 {
		if _, err := f.auditor.Issue(ctx, IssueOptions{CData: "acme"}); err != nil {
			t.Fatal(err)
		}
	}
	before := len(f.events(t))

	var asked []ListedToken
	res, err := f.auditor.RevokeWhere(ctx, RevokeWhereOptions{CData: "acme", Confirm: func(r *RevokeWhereResult) bool {
		asked = slices.Clone(r.Matched)
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 || !res.DryRun || len(res.Revoked) != 0 || len(f.srv.LiveTokens(woleettest.DefaultEmail)) != 2 ||
		len(f.events(t)) != before {
		t.Fatalf("declined: asked about %d, result %+v", len(asked), res)
	}

	// A token issued after the confirmation question is not revoked: only
	// what was shown is.
	var late string
	res, err = f.auditor.RevokeWhere(ctx, RevokeWhereOptions{CData: "acme", Confirm: func(r *RevokeWhereResult) bool {
		var err error
		late, err = f.srv.IssueDirect(woleettest.DefaultEmail, "acme")
		if err != nil {
			t.Error(err)
		}
		return len(r.Matched) == 2
	}})
	if err != nil || res.DryRun || len(res.Revoked) != 2 {
		t.Fatalf("confirmed: %+v, %v", res, err)
	}
	if live := f.srv.LiveTokens(woleettest.DefaultEmail); len(live) != 1 || live[0] != late {
		t.Errorf("after the confirmed revocation %d tokens are live, want only the late one", len(live))
	}

	// Not asked in a dry run, nor when nothing matches.
	called := false
	confirm := func(*RevokeWhereResult) bool { called = true; return true }
	if _, err := f.auditor.RevokeWhere(ctx, RevokeWhereOptions{CData: "acme", DryRun: true, Confirm: confirm}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auditor.RevokeWhere(ctx, RevokeWhereOptions{CData: "nobody", Confirm: confirm}); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("Confirm was called in a dry run or with nothing to revoke")
	}
}
