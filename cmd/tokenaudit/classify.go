package main

import (
	"errors"
	"net"
	"net/url"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
	"github.com/tokenaudit/tokenaudit/woleet"
)

// classify maps errors from the library packages to exit statuses; exitCode
// handles the CLI's own error types first.
func classify(err error) int {
	var (
		parseErr  *jwtinspect.ParseError
		tooLong   *tokenstream.LineTooLongError
		integrity *audit.IntegrityError
		apiErr    *woleet.APIError
		urlErr    *url.Error
		netErr    *net.OpError
	)
	switch {
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
	case errors.As(err, &apiErr), errors.Is(err, woleet.ErrOutcomeUnknown),
		errors.Is(err, woleet.ErrRateLimited), errors.As(err, &urlErr), errors.As(err, &netErr):
		return exitAPI
	}
	return exitError
}
