package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// tokenInputHelp ends the help of every command that takes tokens; the
// whole story is the topic "tokenaudit help tokens" (see helptopics.go).
const tokenInputHelp = `Tokens: a token, "-" for standard input, or @FILE, one token a line; prefer
standard input or a file, which ps does not show. See "tokenaudit help tokens".`

// defaultMaxTokenSize bounds a token given to inspect, cdata, fingerprint
// and verify, so that a huge line (a log file given by mistake) gets a clear
// error rather than hundreds of megabytes of output and memory. A Woleet
// token is about 300 bytes, and servers refuse an Authorization header
// over 8-16 KiB. --max-token-size raises it up to maxMaxTokenSize.
const defaultMaxTokenSize = 64 << 10

// maxMaxTokenSize is the highest --max-token-size: jwtinspect's own cap.
const maxMaxTokenSize = jwtinspect.DefaultMaxSize

// tokenSize is the value of --max-token-size: bytes, or a number with the
// unit KiB or MiB ("64KiB", "2MiB").
type tokenSize int

func (s *tokenSize) String() string {
	switch n := int(*s); {
	case n%(1<<20) == 0 && n > 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n%(1<<10) == 0 && n > 0:
		return strconv.Itoa(n>>10) + "KiB"
	default:
		return strconv.Itoa(n)
	}
}

func (s *tokenSize) Set(text string) error {
	num, unit := text, 1
	for suffix, u := range map[string]int{"KiB": 1 << 10, "MiB": 1 << 20} {
		if n, ok := strings.CutSuffix(text, suffix); ok {
			num, unit = n, u
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > maxMaxTokenSize/unit {
		return fmt.Errorf("want a size from 1 to %d bytes (16MiB), such as 64KiB or 1MiB", maxMaxTokenSize)
	}
	*s = tokenSize(n * unit)
	return nil
}

func (s *tokenSize) Type() string { return "size" }

// tokenInputCommand adds to a command that reads tokens through
// [app.stream] the flag that bounds a token's size.
func (a *app) tokenInputCommand(cmd *cobra.Command) *cobra.Command {
	a.maxTokenSize = defaultMaxTokenSize
	cmd.Flags().Var(&a.maxTokenSize, "max-token-size", "refuse a token longer than this (at most 16MiB)")
	return cmd
}

// tooLargeError is a token over --max-token-size; it says how to raise the
// limit, and is a malformed token (exit status 2) like any line too long.
type tooLargeError struct {
	err *tokenstream.LineTooLongError
}

func (e *tooLargeError) Error() string {
	max := tokenSize(e.err.Max)
	return fmt.Sprintf("token is longer than the %s limit: raise it with --max-token-size (at most 16MiB)", max.String())
}

func (e *tooLargeError) Unwrap() error { return e.err }

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
	opts := tokenstream.Options{Stdin: a.stdin, MaxLine: int(a.maxTokenSize)}
	err = tokenstream.Process(ctx, args, opts, newRender,
		func(it tokenstream.Item, out []byte, err error) error {
			total++
			if tooLong := (*tokenstream.LineTooLongError)(nil); errors.As(err, &tooLong) && a.maxTokenSize > 0 {
				err = &tooLargeError{err: tooLong}
			}
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
		rec, merr := output.MarshalJSON(errorRecord{Line: it.Line, Source: it.Source, Error: errorText(err), Code: code}, "")
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
	_, werr := fmt.Fprintf(a.stderr, "tokenaudit: %s: %s\n", it.Where(), errorText(err))
	return werr
}
