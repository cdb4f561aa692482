// Package tokenstream reads tokens the way every tokenaudit command accepts
// them, and processes long streams of them in parallel, in input order, in
// constant memory.
//
// An argument is a token, "-" for standard input, or "@FILE". Standard input
// and files hold one token per line: blank lines and lines starting with "#"
// are skipped, and each line is passed through [jwtinspect.Normalize] (surrounding
// white space and a leading "Bearer " or "Authorization: Bearer " removed), so
// a pasted HTTP header works. A line longer than the size cap is not read into
// memory: it becomes an [Item] with an error, and the stream goes on.
//
// Use [Process] to run a function over every token with both cores and get
// the results back in input order.
package tokenstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// DefaultMaxLine is the longest line read, matching jwtinspect's default
// size cap (16 MiB).
const DefaultMaxLine = 16 << 20

// Item is one token read from the input, or one line that could not be read.
type Item struct {
	// Source names where the token came from: "argument 2", "stdin", or a file name.
	Source string
	// Line is the 1-based line number within Source (0 for an argument).
	Line int
	// Token is the normalized token text. Empty when Err is set.
	Token string
	// Err says why this line could not be read (for example, it is too long).
	Err error
}

// Where describes an item's position for error messages: "stdin line 4",
// "tokens.txt line 2", or "argument 1".
func (it Item) Where() string {
	if it.Line == 0 {
		return it.Source
	}
	return fmt.Sprintf("%s line %d", it.Source, it.Line)
}

// LineTooLongError reports a line over the size cap. The line is skipped
// without being held in memory.
type LineTooLongError struct {
	Max int
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line is longer than the %d-byte limit", e.Max)
}

// Options tune reading and processing. The zero value is ready to use.
type Options struct {
	// Stdin is read for the argument "-". Nil means os.Stdin.
	Stdin io.Reader
	// Open opens "@FILE" arguments. Nil means os.Open.
	Open func(name string) (io.ReadCloser, error)
	// MaxLine is the longest line accepted; 0 means DefaultMaxLine.
	MaxLine int
	// Workers is how many goroutines process tokens; 0 means GOMAXPROCS.
	Workers int
	// BatchSize is how many tokens a worker takes at once; 0 means 256.
	BatchSize int
}

func (o *Options) defaults() {
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Open == nil {
		o.Open = func(name string) (io.ReadCloser, error) { return os.Open(name) }
	}
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
}

// Read calls yield for every token in args, in order. It stops at the first
// error yield returns, or when an "@FILE" cannot be opened or a stream cannot
// be read; those errors are returned. Lines that are too long are reported as
// items with Err set, not as a returned error.
func Read(ctx context.Context, args []string, opts Options, yield func(Item) error) error {
	opts.defaults()
	for i, arg := range args {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case arg == "-":
			if err := readLines(ctx, "stdin", opts.Stdin, opts.MaxLine, yield); err != nil {
				return err
			}
		case strings.HasPrefix(arg, "@"):
			name := arg[1:]
			if name == "" {
				return fmt.Errorf("argument %d: \"@\" needs a file name, as in @tokens.txt", i+1)
			}
			f, err := opts.Open(name)
			if err != nil {
				return fmt.Errorf("argument %d: %w", i+1, err)
			}
			err = readLines(ctx, name, f, opts.MaxLine, yield)
			f.Close()
			if err != nil {
				return err
			}
		default:
			item := Item{Source: fmt.Sprintf("argument %d", i+1), Token: jwtinspect.Normalize(arg)}
			if len(arg) > opts.MaxLine {
				item.Token, item.Err = "", &LineTooLongError{Max: opts.MaxLine}
			}
			if err := yield(item); err != nil {
				return err
			}
		}
	}
	return nil
}

// readLines reads one token per line from r. A line is never held in memory
// beyond maxLine bytes.
func readLines(ctx context.Context, source string, r io.Reader, maxLine int, yield func(Item) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		partial  []byte // the start of a line longer than the reader's buffer
		pending  bool   // partial or tooLong holds a line not yet emitted
		tooLong  bool
		lineNo   int
		finished bool
	)
	for reads := 1; !finished; reads++ {
		if reads&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		chunk, err := br.ReadSlice('\n')
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			finished = true
		default:
			return fmt.Errorf("%s: line %d: %w", source, lineNo+1, err)
		}
		if len(chunk) == 0 && !pending {
			continue
		}
		if !tooLong && len(partial)+len(chunk) > maxLine+2 { // +2: room for "\r\n"
			tooLong, partial = true, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) && !pending {
			// The common case: the whole line is in the reader's buffer.
			lineNo++
			if err := emitLine(source, lineNo, chunk, tooLong, maxLine, yield); err != nil {
				return err
			}
			tooLong = false
			continue
		}
		if !tooLong {
			partial = append(partial, chunk...)
		}
		pending = true
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		lineNo++
		if err := emitLine(source, lineNo, partial, tooLong, maxLine, yield); err != nil {
			return err
		}
		partial, pending, tooLong = nil, false, false
	}
	return nil
}

// emitLine turns one raw line into an item, skipping blanks and comments.
func emitLine(source string, lineNo int, line []byte, tooLong bool, maxLine int, yield func(Item) error) error {
	if tooLong {
		return yield(Item{Source: source, Line: lineNo, Err: &LineTooLongError{Max: maxLine}})
	}
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] == '#' {
		return nil
	}
	return yield(Item{Source: source, Line: lineNo, Token: jwtinspect.Normalize(string(trimmed))})
}

// Process reads every token in args (see [Read]) and calls work on each,
// using opts.Workers goroutines, then calls emit with each item and its
// result in input order. Memory stays bounded by a few batches per worker,
// whatever the length of the input. The first error from reading or from emit
// stops the processing and is returned.
func Process[R any](ctx context.Context, args []string, opts Options, work func(Item) R, emit func(Item, R) error) error {
	opts.defaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type batch struct {
		items   []Item
		results []R
		done    chan struct{}
	}
	jobs := make(chan *batch, opts.Workers)
	ordered := make(chan *batch, 2*opts.Workers)

	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() {
			for b := range jobs {
				b.results = make([]R, len(b.items))
				for i, it := range b.items {
					b.results[i] = work(it)
				}
				close(b.done)
			}
		})
	}

	readErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(jobs)
		cur := &batch{done: make(chan struct{})}
		// A batch goes to the workers first, then to the emitter's queue, so
		// every batch the emitter waits for is being worked on.
		send := func() error {
			select {
			case jobs <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case ordered <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
			cur = &batch{done: make(chan struct{})}
			return nil
		}
		err := Read(ctx, args, opts, func(it Item) error {
			cur.items = append(cur.items, it)
			if len(cur.items) >= opts.BatchSize {
				return send()
			}
			return nil
		})
		if err == nil && len(cur.items) > 0 {
			err = send()
		}
		readErr <- err
	}()

	var emitErr error
	for b := range ordered {
		<-b.done
		if emitErr != nil {
			continue
		}
		for i, it := range b.items {
			if err := emit(it, b.results[i]); err != nil {
				emitErr = err
				cancel()
				break
			}
		}
	}
	wg.Wait()
	if emitErr != nil {
		return emitErr
	}
	return <-readErr
}
