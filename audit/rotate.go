package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// RotateOptions are the parameters of [Auditor.Rotate].
type RotateOptions struct {
	// CData selects the tokens to rotate: the live tokens the server lists
	// with exactly this cdata; the new token is issued with it.
	CData string
	// KeepNewest leaves this many of the newest old tokens live (a grace
	// set for holders that have not switched yet); 0 revokes them all.
	KeepNewest int
	// Reason, when set, is recorded as detail.reason on every event.
	Reason string
	// DryRun lists what would be revoked and kept, issues and revokes
	// nothing.
	DryRun bool
	// Deliver hands the new token to its holder (prints it). It is called
	// once the issue is recorded and before anything is revoked; when it
	// fails, the new token is revoked again, the old ones are left alone and
	// Rotate returns its error. Required unless DryRun.
	Deliver func(*IssueResult) error
	// Confirm, if set, is called once the plan is known (Revoke, Kept and
	// NotListed filled in) and before anything is issued; when it returns
	// false nothing is done and the result comes back with DryRun set. It
	// is not called in a dry run, and must not modify the result.
	Confirm func(*RotateResult) bool
	// Progress, if set, is called after each revocation.
	Progress func(RevokeProgress)
}

// RotateResult is the outcome of [Auditor.Rotate].
type RotateResult struct {
	// DryRun is set when nothing was issued or revoked on purpose.
	DryRun bool `json:"dry_run"`
	// Issued is the new token's issue event (nil in a dry run or when the
	// issue failed).
	Issued *Event `json:"issued"`
	// Revoke lists the old tokens to revoke, oldest first, as the server
	// listed them before the new token was issued.
	Revoke []ListedToken `json:"revoke"`
	// Kept lists the old tokens left live (KeepNewest), oldest first.
	Kept []ListedToken `json:"kept"`
	// Revoked lists the revoke events recorded.
	Revoked []Event `json:"revoked"`
	// Failed lists the old tokens that could not be revoked or recorded:
	// they are still live, or their outcome is unknown.
	Failed []RevokeFailure `json:"failed"`
	// NotListed lists tokens the ledger holds active with this cdata that
	// the server does not list (run reconcile).
	NotListed []Token `json:"not_listed"`
}

// Rotate replaces the live tokens of one cdata with a new token:
//
//  1. The server's live tokens with opts.CData are listed (ListTokens) and
//     ordered oldest first, by the ledger's record of them (tokens it
//     never saw count as older than any it knows, by their iat). The
//     newest opts.KeepNewest are kept; the others are to be revoked.
//  2. A new token is issued through [Auditor.Issue], its issue event
//     recording detail.rotates: the fingerprints to be revoked.
//  3. opts.Deliver hands it out. If that fails, the new token is revoked
//     again (detail.reason says why) and nothing else is done.
//  4. Only then is each old token revoked through
//     [Auditor.RevokeWithOptions], its event recording detail.rotated_by:
//     the new token's fingerprint. A failed revocation does not stop the
//     others; the new token stands either way.
//
// The error is non-nil when anything failed; the result says what was
// done. With DryRun, only step 1 runs.
func (a *Auditor) Rotate(ctx context.Context, opts RotateOptions) (*RotateResult, error) {
	if a.api == nil {
		return nil, errNoAPI
	}
	if opts.KeepNewest < 0 {
		return nil, fmt.Errorf("audit: rotate: keep newest %d is negative", opts.KeepNewest)
	}
	if !opts.DryRun && opts.Deliver == nil {
		return nil, errors.New("audit: rotate: no Deliver function: the new token would reach nobody")
	}
	raws, err := a.api.ListTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: rotate: list the server's tokens: %w", err)
	}
	res := &RotateResult{DryRun: opts.DryRun, Revoke: []ListedToken{}, Kept: []ListedToken{},
		Revoked: []Event{}, Failed: []RevokeFailure{}, NotListed: []Token{}}
	type old struct {
		raw string
		lt  ListedToken
		at  time.Time
		seq int64
	}
	matched, todo, listed := selectListed(raws, func(raw, _ string) bool {
		c, _, err := jwtinspect.CData(raw)
		return err == nil && c == opts.CData
	})
	olds := make([]old, len(matched))
	for i, lt := range matched {
		olds[i] = old{raw: todo[i], lt: lt, seq: -1}
		if iat, ok := decode(todo[i]).detail["token_iat"].(string); ok {
			olds[i].at, _ = parseTS(iat)
		}
	}
	for t, err := range a.store.Tokens(ctx, TokenFilter{State: StateActive, CData: opts.CData}) {
		if err != nil {
			return nil, fmt.Errorf("audit: rotate: read the ledger: %w", err)
		}
		if !listed[t.Fingerprint] {
			res.NotListed = append(res.NotListed, t)
			continue
		}
		for i := range olds {
			if olds[i].lt.Fingerprint == t.Fingerprint {
				olds[i].seq = t.IssuedSeq
			}
		}
	}
	slices.SortStableFunc(olds, func(x, y old) int {
		if (x.seq < 0) != (y.seq < 0) {
			return cmp.Compare(x.seq, y.seq) // unknown to the ledger first
		}
		return cmp.Or(cmp.Compare(x.seq, y.seq), x.at.Compare(y.at))
	})
	cut := max(len(olds)-opts.KeepNewest, 0)
	var rotates []string
	for _, o := range olds[:cut] {
		res.Revoke = append(res.Revoke, o.lt)
		rotates = append(rotates, o.lt.Fingerprint)
	}
	for _, o := range olds[cut:] {
		res.Kept = append(res.Kept, o.lt)
	}
	if opts.DryRun {
		return res, nil
	}
	if opts.Confirm != nil && !opts.Confirm(res) {
		res.DryRun = true
		return res, nil
	}

	issued, err := a.Issue(ctx, IssueOptions{CData: opts.CData, Reason: opts.Reason, Rotates: rotates})
	if err != nil {
		return res, fmt.Errorf("audit: rotate: %w (nothing was revoked)", err)
	}
	res.Issued = &issued.Event
	if derr := opts.Deliver(issued); derr != nil {
		reason := "rotation: the new token could not be handed out"
		_, rerr := a.RevokeWithOptions(context.WithoutCancel(ctx), issued.Token.Token, RevokeOptions{Reason: reason})
		if rerr != nil {
			return res, fmt.Errorf("audit: rotate: handing out the new token %s failed: %w; revoking it failed too: %w (nothing else was revoked)",
				short(issued.Event.Fingerprint), derr, rerr)
		}
		return res, fmt.Errorf("audit: rotate: handing out the new token %s failed: %w; it was revoked again and nothing else was revoked",
			short(issued.Event.Fingerprint), derr)
	}
	var errs []error
	for i, o := range olds[:cut] {
		p := RevokeProgress{Done: i + 1, Total: cut, Token: o.lt}
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("audit: rotate: the new token %s stands; stopped after revoking %d of %d old tokens: %w",
				short(issued.Event.Fingerprint), i, cut, err)
		}
		ev, err := a.RevokeWithOptions(ctx, o.raw, RevokeOptions{Reason: opts.Reason, RotatedBy: issued.Event.Fingerprint})
		if err != nil {
			p.Err = err
			res.Failed = append(res.Failed, RevokeFailure{Token: o.lt, Err: err, Error: err.Error()})
			errs = append(errs, err)
		} else {
			res.Revoked = append(res.Revoked, ev)
		}
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("audit: rotate: the new token %s stands; %d of %d old tokens were not revoked: %w",
			short(issued.Event.Fingerprint), len(errs), cut, errors.Join(errs...))
	}
	return res, nil
}
