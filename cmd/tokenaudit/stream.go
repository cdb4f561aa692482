package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
)

// tokenInputHelp explains, in every command's help, how tokens are given.
const tokenInputHelp = `Tokens: each argument is a token, "-" for standard input, or @FILE. Standard
input and files hold one token per line; blank lines and lines starting with
"#" are skipped, and surrounding white space and a leading "Bearer " or
"Authorization: Bearer " are removed, so a pasted HTTP header works. With no
argument, tokens are read from standard input.

A line that cannot be read as a token does not stop a stream: it becomes an
error record ({"line": N, "source": …, "error": …, "code": …} in JSON lines, a
line on standard error otherwise), and the exit status at the end is the
first failure's.`

// tokenArgs returns the token arguments to read: args, or standard input
// when there are none. A terminal on standard input with no arguments is a
// usage error rather than a silent wait.
func (a *app) tokenArgs(args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	if a.stdinTTY {
		return nil, usageErrorf("no token given: pass a token, - for standard input, or @FILE")
	}
	return []string{"-"}, nil
}

// streamOutcome is what a worker made of one token: bytes to print, or an
// error to report.
type streamOutcome struct {
	out []byte
	err error
}

// errorRecord is the JSON form of a token that could not be processed.
type errorRecord struct {
	Line   int    `json:"line"`
	Source string `json:"source"`
	Error  string `json:"error"`
	Code   int    `json:"code"`
}

// stream runs render over every token in args on all cores and prints the
// results in input order. Failures become error records and do not stop
// the stream; the returned error carries the first failure's exit status.
func (a *app) stream(ctx context.Context, args []string, render func(tokenstream.Item) ([]byte, error)) error {
	args, err := a.tokenArgs(args)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(a.stdout, 64<<10)
	var (
		failures, total int
		firstCode       int
	)
	opts := tokenstream.Options{Stdin: a.stdin}
	err = tokenstream.Process(ctx, args, opts,
		func(it tokenstream.Item) streamOutcome {
			if it.Err != nil {
				return streamOutcome{err: it.Err}
			}
			out, err := render(it)
			return streamOutcome{out: out, err: err}
		},
		func(it tokenstream.Item, o streamOutcome) error {
			total++
			if _, err := w.Write(o.out); err != nil {
				return err
			}
			if o.err == nil {
				return nil
			}
			failures++
			code := exitCode(o.err)
			if firstCode == 0 {
				firstCode = code
			}
			var shown *shownError
			if errors.As(o.err, &shown) && a.format.Structured() {
				return nil // the JSON record printed already says what failed
			}
			return a.reportStreamError(w, it, o.err, code)
		})
	if ferr := w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("writing output: %w", ferr)
	}
	if err != nil {
		return err
	}
	if failures > 0 {
		if total > 1 {
			fmt.Fprintf(a.stderr, "tokenaudit: %d of %d tokens failed\n", failures, total)
		}
		return &silentError{code: firstCode}
	}
	return nil
}

// reportStreamError prints one failed token: a JSON record on stdout in the
// JSON formats (so a consumer sees every line of input accounted for), a
// line on stderr otherwise.
func (a *app) reportStreamError(w *bufio.Writer, it tokenstream.Item, err error, code int) error {
	if a.format.Structured() {
		rec, merr := json.Marshal(errorRecord{Line: it.Line, Source: it.Source, Error: err.Error(), Code: code})
		if merr != nil {
			return merr
		}
		w.Write(rec)
		return w.WriteByte('\n')
	}
	// Keep stdout and stderr in order for a person watching both.
	if ferr := w.Flush(); ferr != nil {
		return ferr
	}
	_, werr := fmt.Fprintf(a.stderr, "tokenaudit: %s: %s\n", it.Where(), output.Clean(err.Error()))
	return werr
}
