package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"time"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/woleet"
)

// This file holds what the commands that use the ledger share: opening it,
// building the Auditor, and turning library errors into messages with hints.

// openLedger opens the ledger the flags name. A reading command (write
// false) never creates, migrates or writes the file.
func (a *app) openLedger(f ledgerFlags, write bool) (*audit.Ledger, error) {
	path, err := a.ledgerPath(f)
	if err != nil {
		return nil, err
	}
	if f.lockTimeout < time.Millisecond {
		return nil, usageErrorf("--lock-timeout %v is shorter than 1ms", f.lockTimeout)
	}
	opts := []audit.Option{audit.WithNow(a.now), audit.WithBusyTimeout(f.lockTimeout)}
	if !write {
		opts = append(opts, audit.WithReadOnly())
	} else {
		cp, err := a.checkpointOptions() // automatic checkpoints, see checkpoint.go
		if err != nil {
			return nil, err
		}
		opts = append(opts, cp...)
	}
	l, err := audit.Open(path, opts...)
	if err != nil {
		if !write && errors.Is(err, fs.ErrNotExist) && !errors.Is(err, audit.ErrLedgerUnavailable) {
			return nil, withHint(fmt.Errorf("no ledger at %s", audit.RedactURL(path)),
				"the first issue, revoke, import or reconcile creates it; name another ledger with --db or TOKENAUDIT_DB")
		}
		return nil, ledgerError(err)
	}
	return l, nil
}

// readLedger opens the ledger read-only, runs fn on it and closes it.
func (a *app) readLedger(f ledgerFlags, fn func(*audit.Ledger) error) error {
	l, err := a.openLedger(f, false)
	if err != nil {
		return err
	}
	defer l.Close()
	return fn(l)
}

// ledgerError rewords an error from the ledger and adds what to do about it.
func ledgerError(err error) error {
	if err == nil {
		return nil
	}
	err = tidy(err)
	var unrecorded *audit.UnrecordedError
	switch {
	case errors.As(err, &unrecorded):
		return err // its message says what happened and what to do
	case errors.Is(err, audit.ErrNewerSchema):
		return withHint(err, "nothing was written to it: upgrade tokenaudit to use it")
	case errors.Is(err, audit.ErrOlderSchema):
		return withHint(err, "a command that writes (import, reconcile, issue) migrates it once")
	case errors.Is(err, audit.ErrLedgerEmpty):
		return withHint(err, "nothing was written to it: check --db and TOKENAUDIT_DB",
			"if it was a ledger, its events are lost: restore it from a backup, then run \"tokenaudit ledger verify\"",
			"to start a new ledger there, run \"tokenaudit ledger init\" with its path")
	case errors.Is(err, audit.ErrNotALedger):
		return withHint(err, "nothing was written to it: check --db and TOKENAUDIT_DB",
			"if it was a ledger, it is damaged: restore it from a backup, then run \"tokenaudit ledger verify\"")
	case classify(err) == exitIntegrity:
		return withHint(err, "the ledger file is damaged: do not append to it; restore it from a backup, "+
			"then run \"tokenaudit ledger verify\"")
	case errors.Is(err, audit.ErrLedgerUnavailable):
		return withHint(err, "the ledger's PostgreSQL server cannot be reached: check the URL and that the server runs, then try again")
	case errors.Is(err, audit.ErrNotDurable):
		return withHint(err, "nothing was written: a ledger must not lose an event it reported recorded")
	case errors.Is(err, audit.ErrLedgerLocked):
		return withHint(err, "another process is writing to the ledger: try again, or wait longer with --lock-timeout")
	case errors.Is(err, audit.ErrLedgerUnreadable):
		return withHint(err, "run any tokenaudit command on the ledger once as a user who may write its folder: "+
			"the ledger then keeps the -wal and -shm files other users read it through",
			"give those files the ledger file's permissions (chmod, chgrp), or let this user write the folder")
	case errors.Is(err, audit.ErrLedgerReadOnly), errors.Is(err, fs.ErrPermission):
		return withHint(err, "nothing was written: check the permissions of the ledger file and of its directory, "+
			"where SQLite keeps the ledger's -wal and -shm files (on PostgreSQL: that the role may write, see \"tokenaudit ledger init --writer ROLE\")")
	}
	return err
}

// apiError adds to an error from the Woleet API where the API is and what
// to check; other errors pass through ledgerError.
func apiError(err error, baseURL string) error {
	if err == nil {
		return nil
	}
	var unrecorded *audit.UnrecordedError
	if errors.As(err, &unrecorded) {
		return ledgerError(err)
	}
	if classify(err) != exitAPI {
		return ledgerError(err)
	}
	err = tidy(err)
	hints := []string{"the Woleet API is " + baseURL + " (WOLEET_API_URL)"}
	switch {
	case errors.Is(err, woleet.ErrUnauthorized):
		hints = append(hints, "check WOLEET_API_TOKEN, or WOLEET_USERNAME and WOLEET_PASSWORD")
	case errors.Is(err, woleet.ErrRateLimited):
		hints = append(hints, "the API refused requests beyond its rate limit: try again in a moment")
	case errors.Is(err, context.DeadlineExceeded):
		hints = append(hints, "the API did not answer in time: try again, or wait longer with --timeout")
	}
	return withHint(err, hints...)
}

// rewordedError is a library error with a message for people: the
// "audit: " and "woleet: " prefixes, useful in a program's log, are dropped.
// The chain is kept for errors.Is, errors.As and the exit status.
type rewordedError struct {
	msg string
	err error
}

func (e *rewordedError) Error() string { return e.msg }
func (e *rewordedError) Unwrap() error { return e.err }

// libraryPrefix matches the package prefixes tidy drops: "audit: " and
// "woleet: " at the start of the message or of a wrapped cause.
var libraryPrefix = regexp.MustCompile(`(^|: |\()(?:audit|woleet): `)

// tidy rewords err for people (see rewordedError).
func tidy(err error) error {
	msg := libraryPrefix.ReplaceAllString(err.Error(), "$1")
	if msg == err.Error() {
		return err
	}
	return &rewordedError{msg: msg, err: err}
}

// timedAPI bounds each call to the Woleet API, its retries included, so
// that one slow call does not hang a command and a long run of calls (a
// bulk revocation) is not cut short by one overall deadline.
type timedAPI struct {
	api     audit.TokenAPI
	timeout time.Duration // 0: no bound
}

func (t timedAPI) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if t.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, t.timeout)
}

func (t timedAPI) GenerateToken(ctx context.Context, opts woleet.GenerateTokenOptions) (*woleet.Token, error) {
	ctx, cancel := t.bound(ctx)
	defer cancel()
	return t.api.GenerateToken(ctx, opts)
}

func (t timedAPI) RevokeToken(ctx context.Context, token string) error {
	ctx, cancel := t.bound(ctx)
	defer cancel()
	return t.api.RevokeToken(ctx, token)
}

func (t timedAPI) ListTokens(ctx context.Context) ([]string, error) {
	ctx, cancel := t.bound(ctx)
	defer cancel()
	return t.api.ListTokens(ctx)
}

// auditSession is what a command that talks to the API through the
// ledger holds: the client, the ledger and the Auditor between them.
type auditSession struct {
	client  *woleet.Client
	ledger  *audit.Ledger
	auditor *audit.Auditor
}

// Close closes the ledger.
func (s *auditSession) Close() error { return s.ledger.Close() }

// apiError is the package function apiError for this session's API.
func (s *auditSession) apiError(err error) error { return apiError(err, s.client.BaseURL()) }

// openSession checks the API credentials, then opens the ledger (for
// writing when write is set) and builds the Auditor. Credentials come
// first, so that a missing one leaves no new ledger file behind.
func (a *app) openSession(af apiFlags, lf ledgerFlags, write bool) (*auditSession, error) {
	if af.timeout < 0 {
		return nil, usageErrorf("--timeout %v is negative", af.timeout)
	}
	client, err := a.apiClient(af)
	if err != nil {
		return nil, err
	}
	ledger, err := a.openLedger(lf, write)
	if err != nil {
		return nil, err
	}
	return newAuditSession(client, ledger, af.timeout)
}

// newAuditSession builds the Auditor over a client and an open ledger,
// which it closes on failure.
func newAuditSession(client *woleet.Client, ledger *audit.Ledger, timeout time.Duration) (*auditSession, error) {
	auditor, err := audit.NewAuditor(ledger, timedAPI{api: client, timeout: timeout},
		audit.WithAPIIdentity(client.Identity()), audit.WithAPIURL(client.BaseURL()))
	if err != nil {
		ledger.Close()
		return nil, err
	}
	return &auditSession{client: client, ledger: ledger, auditor: auditor}, nil
}
