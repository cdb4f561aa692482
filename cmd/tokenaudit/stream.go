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

A token is a JWT, or else an opaque token: every command but verify takes a
line of printable ASCII without white space or dots, that does not start
like a JWT ("eyJ", "{"), as a token known by its fingerprint alone (finding
not-a-jwt), and warns once. Text shaped like a JWT that does not parse is
malformed.

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

// errorRecord is the JSON form of a token that could not be processed.
type errorRecord struct {
	Line   int    `json:"line"`
	Source string `json:"source"`
	Error  string `json:"error"`
	Code   int    `json:"code"`
}

// stream renders every token in args on all cores and prints the results
// in input order. newRender is called once per worker and returns that
// worker's render function (see [tokenstream.RenderFunc]), which may keep
// scratch memory from one token to the next. Failures become error records
// and do not stop the stream; the returned error carries the first
// failure's exit status.
func (a *app) stream(ctx context.Context, args []string, newRender func() tokenstream.RenderFunc) error {
	args, err := a.tokenArgs(args)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(a.stdout, 256<<10)
	var (
		failures, total int
		firstCode       int
	)
	opts := tokenstream.Options{Stdin: a.stdin}
	err = tokenstream.Process(ctx, args, opts, newRender,
		func(it tokenstream.Item, out []byte, err error) error {
			total++
			if _, werr := w.Write(out); werr != nil {
				return werr
			}
			if err == nil {
				return nil
			}
			failures++
			code := exitCode(err)
			if firstCode == 0 {
				firstCode = code
			}
			var shown *shownError
			if errors.As(err, &shown) && a.format.Structured() {
				return nil // the JSON record printed already says what failed
			}
			return a.reportStreamError(w, it, err, code)
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

// stateless adapts a render function that returns its output and keeps
// nothing between tokens to [app.stream].
func stateless(render func(tokenstream.Item) ([]byte, error)) func() tokenstream.RenderFunc {
	return func() tokenstream.RenderFunc {
		return func(dst []byte, it tokenstream.Item) ([]byte, error) {
			out, err := render(it)
			return append(dst, out...), err
		}
	}
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
