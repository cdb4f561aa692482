package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokentext"
)

// Exit statuses, as documented in the README and in "tokenaudit --help".
const (
	exitOK        = 0 // success
	exitError     = 1 // usage or I/O error
	exitMalformed = 2 // malformed token
	exitSignature = 3 // signature not valid
	exitTime      = 4 // token not valid at this time (expired / not yet valid)
	exitIntegrity = 5 // ledger integrity failure
	exitAPI       = 6 // API error
	exitPolicy    = 7 // a policy of "tokenaudit check" is violated
	// exitInterrupted follows the shells' convention for a command ended
	// by SIGINT (128 + 2): Ctrl-C stopped it, after it said what was done.
	exitInterrupted = 130
)

// usageError is a mistake in the command line.
type usageError struct {
	err error
	cmd *cobra.Command
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// hintError adds advice, printed after the error as "tokenaudit: hint: …".
type hintError struct {
	err   error
	hints []string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// withHint attaches hints to err; nil stays nil.
func withHint(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hints: hints}
}

// exitStatusError carries an explicit exit status, for results that are not a
// single error (a stream where some tokens failed).
type exitStatusError struct {
	code int
	err  error
}

func (e *exitStatusError) Error() string { return e.err.Error() }
func (e *exitStatusError) Unwrap() error { return e.err }

// silentError has already been reported to the user (for example, as error
// records in a stream); run prints nothing more and exits with its status.
type silentError struct {
	code int
}

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitCode maps an error to the documented exit status. It is the one place
// that does so.
func exitCode(err error) int {
	var (
		status *exitStatusError
		silent *silentError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &silent):
		return silent.code
	case errors.As(err, &status):
		return status.code
	case errors.As(err, new(*policyError)):
		return exitPolicy
	case errors.Is(err, context.Canceled):
		// Only Ctrl-C or SIGTERM cancels a command's context.
		return exitInterrupted
	}
	return classify(err)
}

// printError writes err, and its hints, to w in the form
// "tokenaudit: <what went wrong>", each line through safeText.
func printError(w io.Writer, err error) {
	msg := strings.TrimPrefix(err.Error(), "tokenaudit: ")
	fmt.Fprintf(w, "tokenaudit: %s\n", safeText(msg))
	var hint *hintError
	for e := err; errors.As(e, &hint); e = hint.err {
		for _, h := range hint.hints {
			fmt.Fprintf(w, "tokenaudit: hint: %s\n", safeText(h))
		}
	}
	var usage *usageError
	if errors.As(err, &usage) && usage.cmd != nil {
		fmt.Fprintf(w, "tokenaudit: hint: run %q for usage\n", usage.cmd.CommandPath()+" --help")
	}
}

// safeText is what every error message, hint and note goes through before
// it is printed or put in a result: anything shaped like a token becomes
// its short fingerprint (an API error body may quote one), and what a
// terminal would interpret is escaped (see output.Clean).
func safeText(s string) string { return output.Clean(tokentext.Redact(s)) }

// errorText is an error's message for people: tidied (see tidy), then
// through safeText.
func errorText(err error) string { return safeText(tidy(err).Error()) }
