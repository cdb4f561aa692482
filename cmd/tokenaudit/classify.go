package main

import (
	"errors"

	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// classify maps errors from the library packages to exit statuses; exitCode
// handles the CLI's own error types first.
func classify(err error) int {
	var (
		parseErr *jwtinspect.ParseError
		tooLong  *tokenstream.LineTooLongError
	)
	switch {
	case errors.As(err, &parseErr), errors.As(err, &tooLong):
		return exitMalformed
	}
	return exitError
}
