package main

import (
	"context"
	"errors"
	"net"
	"net/url"

	"github.com/mattn/go-sqlite3"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
	"github.com/tokenaudit/tokenaudit/woleet"
)

// classify maps errors from the library packages to exit statuses; exitCode
// handles the CLI's own error types first.
func classify(err error) int {
	var (
		unrecorded  *audit.UnrecordedError
		sqliteErr   sqlite3.Error
		parseErr    *jwtinspect.ParseError
		tooLong     *tokenstream.LineTooLongError
		integrity   *audit.IntegrityError
		consistency *audit.ConsistencyError
		apiErr      *woleet.APIError
		urlErr      *url.Error
		netErr      *net.OpError
	)
	switch {
	case errors.As(err, &unrecorded):
		// The API acted and the ledger could not record it: the ledger no
		// longer tells the truth until a reconcile records what happened.
		return exitIntegrity
	case errors.As(err, &sqliteErr) && (sqliteErr.Code == sqlite3.ErrCorrupt || sqliteErr.Code == sqlite3.ErrNotADB):
		// The ledger file is damaged.
		return exitIntegrity
	case errors.As(err, &parseErr), errors.As(err, &tooLong):
		return exitMalformed
	case errors.Is(err, jwtinspect.ErrExpired), errors.Is(err, jwtinspect.ErrNotYetValid):
		return exitTime
	case errors.Is(err, jwtinspect.ErrSignatureInvalid), errors.Is(err, jwtinspect.ErrNoMatchingKey),
		errors.Is(err, jwtinspect.ErrAlgNotAllowed), errors.Is(err, jwtinspect.ErrAlgConfusion),
		errors.Is(err, jwtinspect.ErrWeakHMACKey), errors.Is(err, jwtinspect.ErrNotSigned),
		errors.Is(err, jwtinspect.ErrClaimsInvalid):
		return exitSignature
	case errors.As(err, &integrity), errors.Is(err, audit.ErrNotALedger):
		return exitIntegrity
	case errors.As(err, &consistency), errors.Is(err, audit.ErrWrongLedger),
		errors.Is(err, audit.ErrCheckpointSignature), errors.Is(err, audit.ErrInvalidProof):
		// History was rewritten, or a checkpoint or proof does not check.
		return exitIntegrity
	case errors.As(err, &apiErr), errors.Is(err, woleet.ErrOutcomeUnknown), errors.Is(err, woleet.ErrNotSent),
		errors.Is(err, woleet.ErrRateLimited), errors.As(err, &urlErr), errors.As(err, &netErr),
		errors.Is(err, context.DeadlineExceeded):
		// The API failed, or did not answer in time (--timeout: the only
		// deadline the CLI sets).
		return exitAPI
	}
	return exitError
}
