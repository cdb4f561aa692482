package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tokenaudit/tokenaudit/audit"
)

// This file holds how "issue" hands a token over on standard output. A
// token is a credential that never expires: writing it is part of handing
// it out, and a token that reaches nobody must not stay live.

// errNowhere says that standard output leads nowhere: it was closed (the
// Go runtime then opens /dev/null in its place) or is /dev/null.
var errNowhere = errors.New("standard output is closed or /dev/null: an issued token would reach nobody")

// stdoutNowhere reports whether f, the process's standard output, is
// /dev/null. A closed standard output is /dev/null too by the time main
// runs: the Go runtime opens it on a closed descriptor 0, 1 or 2.
func stdoutNowhere(f *os.File) bool {
	if f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(fi, null)
}

// delivered waits, when standard output is a pipe, until the reader has
// read everything written to it, and fails when the reader goes away
// first: then what is left unread (a token, or its end) reached nobody.
// Elsewhere (a file, a terminal) a completed write is a delivery.
func (a *app) delivered(ctx context.Context) error {
	if a.stdoutFile == nil {
		return nil
	}
	fi, err := a.stdoutFile.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return nil
	}
	return waitPipeRead(ctx, a.stdoutFile)
}

// undelivered handles token i (from 0) of count, issued and recorded but
// not handed out: writing it failed with werr. It revokes the token again
// through the API, recorded in the ledger, and returns the error that says
// so: exit status 1 when the revocation is recorded, 5 when the ledger
// could not record it, the API error's status when the API refused it (the
// token is then live, and the hint says how to revoke it).
func (a *app) undelivered(ctx context.Context, s *auditSession, rec issueRecord, i, count int, werr error) error {
	what := fmt.Sprintf("token sha256:%s", shortFP(rec.Fingerprint))
	if count > 1 {
		what = fmt.Sprintf("token %d of %d (sha256:%s)", i+1, count, shortFP(rec.Fingerprint))
	}
	rest := ""
	switch left := count - i - 1; {
	case left == 1:
		rest = "; the last token was not issued"
	case left > 1:
		rest = fmt.Sprintf("; the other %d tokens were not issued", left)
	}
	// The revocation must be recorded even after Ctrl-C.
	ev, rerr := s.auditor.Revoke(context.WithoutCancel(ctx), rec.Token)
	var unrecorded *audit.UnrecordedError
	switch {
	case rerr == nil:
		return &exitStatusError{code: exitError, err: fmt.Errorf(
			"%s was issued, but writing it to standard output failed (%v): it was revoked again (ledger seq %d)%s",
			what, werr, ev.Seq, rest)}
	case errors.As(rerr, &unrecorded):
		return &exitStatusError{code: exitIntegrity, err: withHint(fmt.Errorf(
			"%s was issued, but writing it to standard output failed (%v): the API revoked it again, but the ledger could not record that: %w%s",
			what, werr, tidy(rerr), rest),
			"run \"tokenaudit reconcile --apply\" once the ledger works: it records the revocation")}
	}
	return withHint(fmt.Errorf("%s was issued, but writing it to standard output failed (%v), and revoking it again failed: %w%s",
		what, werr, s.apiError(rerr), rest),
		fmt.Sprintf("it is live and nobody holds it: revoke it with \"tokenaudit revoke --fingerprint %s --yes\"", rec.Fingerprint))
}
