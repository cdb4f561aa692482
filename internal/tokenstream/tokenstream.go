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
// Use [Process] to render every token with all cores and get the output back
// in input order. The reader hands the workers whole chunks of input; each
// worker splits its chunk into lines itself, and renders into a buffer that
// is reused from one chunk to the next, so that a stream of millions of
// tokens costs little more than the rendering itself.
package tokenstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

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
	// ChunkSize is about how many bytes of input a worker takes at once (a
	// longer line is taken whole); 0 means DefaultChunkSize.
	ChunkSize int
}

// DefaultChunkSize is the default [Options.ChunkSize]: 64 KiB, some 250
// Woleet tokens.
const DefaultChunkSize = 64 << 10

// argBatch is how many arguments go to a worker at once.
const argBatch = 256

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
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
}

// chunk is what the reader hands on: whole lines of text from one source,
// or one item that stands alone (an argument, or a line too long to read).
type chunk struct {
	source string
	first  int    // the number of the first line in text
	text   string // whole lines; the last one lacks its newline at the end of input
	buf    []byte // the memory text is a view of, which the reader no longer writes
	item   Item   // when text is empty
}

// bufferFunc returns an empty buffer of at least size bytes for the reader
// to fill. The reader never writes to a buffer again once it has handed on a
// chunk of it, so the chunk's text stays as it is for as long as the
// caller does not give that buffer out again.
type bufferFunc func(size int) []byte

// newBuffer is a bufferFunc that always allocates: the texts it backs
// behave as ordinary strings.
func newBuffer(size int) []byte { return make([]byte, size) }

// Read calls yield for every token in args, in order. It stops at the first
// error yield returns, or when an "@FILE" cannot be opened or a stream cannot
// be read; those errors are returned. Lines that are too long are reported as
// items with Err set, not as a returned error.
func Read(ctx context.Context, args []string, opts Options, yield func(Item) error) error {
	opts.defaults()
	return readChunks(ctx, args, opts, newBuffer, func(c chunk) error {
		if c.text == "" {
			return yield(c.item)
		}
		return eachLine(c.source, c.first, c.text, opts.MaxLine, yield)
	})
}

// IsStream reports whether an argument names a stream of tokens ("-" or
// "@FILE") rather than being a token.
func IsStream(arg string) bool { return arg == "-" || strings.HasPrefix(arg, "@") }

// readChunks reads every argument in order and calls yield with its
// chunks, read into buffers from newBuf.
func readChunks(ctx context.Context, args []string, opts Options, newBuf bufferFunc, yield func(chunk) error) error {
	for i, arg := range args {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case arg == "-":
			if err := readStream(ctx, "stdin", opts.Stdin, opts, newBuf, yield); err != nil {
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
			err = readStream(ctx, name, f, opts, newBuf, yield)
			f.Close()
			if err != nil {
				return err
			}
		default:
			item := Item{Source: fmt.Sprintf("argument %d", i+1), Token: jwtinspect.Normalize(arg)}
			if len(arg) > opts.MaxLine {
				item.Token, item.Err = "", &LineTooLongError{Max: opts.MaxLine}
			}
			if err := yield(chunk{item: item}); err != nil {
				return err
			}
		}
	}
	return nil
}

// readStream reads r in chunks of whole lines of about opts.ChunkSize
// bytes. A line longer than a chunk is read whole when it is within the
// size cap; beyond the cap it is skipped without being held in memory, and
// becomes an item with a [LineTooLongError].
func readStream(ctx context.Context, source string, r io.Reader, opts Options, newBuf bufferFunc, yield func(chunk) error) error {
	// A line of maxLine bytes, "\r\n" and one byte more certainly is too long.
	limit := opts.MaxLine + 3
	buf := newBuf(opts.ChunkSize)
	var (
		n        int  // bytes in buf
		line     = 1  // the number of the line that starts buf
		skipping bool // discarding the rest of a line that is too long
	)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := io.ReadFull(r, buf[n:])
		n += m
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return fmt.Errorf("%s: line %d: %w", source, line+bytes.Count(buf[:n], []byte{'\n'}), err)
		}
		if skipping {
			i := bytes.IndexByte(buf[:n], '\n')
			if i < 0 && !eof {
				n = 0
				continue
			}
			if err := yield(chunk{item: Item{Source: source, Line: line, Err: &LineTooLongError{Max: opts.MaxLine}}}); err != nil {
				return err
			}
			if i < 0 {
				return nil
			}
			skipping, line = false, line+1
			n = copy(buf, buf[i+1:n])
		}
		cut := n
		if !eof {
			cut = bytes.LastIndexByte(buf[:n], '\n') + 1
		}
		if cut > 0 {
			// buf is handed on with the chunk and never written again here:
			// the rest of it moves to a new buffer.
			c := chunk{source: source, first: line, text: unsafe.String(unsafe.SliceData(buf), cut), buf: buf}
			line += strings.Count(c.text, "\n")
			if err := yield(c); err != nil {
				return err
			}
			next := newBuf(max(opts.ChunkSize, n-cut))
			n = copy(next, buf[cut:n])
			buf = next
		}
		switch {
		case eof:
			return nil
		case n < len(buf):
		case len(buf) < limit:
			// One line fills the buffer: make room for all of it.
			buf = append(buf, make([]byte, min(len(buf), limit-len(buf)))...)
		default:
			skipping, n = true, 0
		}
		if len(buf) > opts.ChunkSize && n <= opts.ChunkSize/2 {
			// Done with a long line: back to a buffer of the usual size.
			small := newBuf(opts.ChunkSize)
			n = copy(small, buf[:n])
			buf = small
		}
	}
}

// eachLine calls yield for every token in text, whole lines of source
// starting with line number first, skipping blanks and comments.
func eachLine(source string, first int, text string, maxLine int, yield func(Item) error) error {
	for line := first; text != ""; line++ {
		l := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			l, text = text[:i+1], text[i+1:]
		} else {
			text = ""
		}
		if len(l) > maxLine+2 { // +2: room for "\r\n"
			if err := yield(Item{Source: source, Line: line, Err: &LineTooLongError{Max: maxLine}}); err != nil {
				return err
			}
			continue
		}
		trimmed := strings.TrimSpace(l)
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		if err := yield(Item{Source: source, Line: line, Token: jwtinspect.Normalize(trimmed)}); err != nil {
			return err
		}
	}
	return nil
}

// RenderFunc appends what one item renders to (its output) to dst and
// returns the extended buffer, with an error when the item failed. It may
// append output even when it fails; it must never return less than dst.
type RenderFunc func(dst []byte, it Item) ([]byte, error)

// Process reads every token in args (see [Read]) and renders each on
// opts.Workers goroutines, then calls emit with each item, its output and
// its error, in input order. newRender is called once per worker, and the
// function it returns is only ever called from that worker, so it may keep
// scratch memory from one token to the next.
//
// The input is read into buffers that are used again once a chunk's items
// are emitted, and the output is written to buffers that are used again in
// the same way: an item's Token is only valid during the calls to render and
// emit for it, and out during the call to emit. Keep a copy
// ([strings.Clone]) of anything needed later.
//
// Memory stays bounded by a few chunks per worker, whatever the length of
// the input. The first error from reading or from emit stops the
// processing and is returned.
func Process(ctx context.Context, args []string, opts Options, newRender func() RenderFunc,
	emit func(it Item, out []byte, err error) error) error {
	opts.defaults()
	if !slices.ContainsFunc(args, IsStream) {
		// Only tokens given as arguments: too few to be worth a goroutine.
		render := newRender()
		var out []byte
		return readChunks(ctx, args, opts, newBuffer, func(c chunk) error {
			err := c.item.Err
			if out = out[:0]; err == nil {
				out, err = render(out, c.item)
			}
			return emit(c.item, out, err)
		})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan *batch, opts.Workers)
	ordered := make(chan *batch, 2*opts.Workers)
	free := make(chan *batch, 3*opts.Workers+2)
	bufs := make(chan []byte, 3*opts.Workers+2) // input buffers, free again
	reuseBuf := func(size int) []byte {
		select {
		case b := <-bufs:
			if len(b) >= size {
				return b
			}
		default:
		}
		return make([]byte, size)
	}

	var wg sync.WaitGroup
	for range opts.Workers {
		render := newRender()
		wg.Go(func() {
			for b := range jobs {
				b.run(render, opts.MaxLine)
			}
		})
	}

	readErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(jobs)
		cur := newBatch(free)
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
			cur = newBatch(free)
			return nil
		}
		err := readChunks(ctx, args, opts, reuseBuf, func(c chunk) error {
			if c.text == "" {
				cur.items = append(cur.items, c.item)
				if len(cur.items) < argBatch {
					return nil
				}
				return send()
			}
			if len(cur.items) > 0 { // arguments before the chunk go first
				if err := send(); err != nil {
					return err
				}
			}
			cur.chunk = c
			return send()
		})
		if err == nil && len(cur.items) > 0 {
			err = send()
		}
		readErr <- err
	}()

	var emitErr error
	for b := range ordered {
		<-b.done
		if emitErr == nil {
			start := 0
			for i, it := range b.items {
				if err := emit(it, b.out[start:b.ends[i]], b.errs[i]); err != nil {
					emitErr = err
					cancel()
					break
				}
				start = b.ends[i]
			}
		}
		b.recycle(free, bufs, opts.ChunkSize)
	}
	wg.Wait()
	if emitErr != nil {
		return emitErr
	}
	return <-readErr
}

// batch is one worker's share of the input: a chunk of lines, or items the
// reader made (arguments, lines too long), and what rendering them gave.
type batch struct {
	chunk chunk  // lines to split, when chunk.text is not empty
	items []Item // the items rendered, in order
	out   []byte // their output, one after the other
	ends  []int  // the end of each item's output in out
	errs  []error
	done  chan struct{} // closed when rendered
}

// newBatch takes a batch from free, or makes one.
func newBatch(free chan *batch) *batch {
	select {
	case b := <-free:
		b.done = make(chan struct{})
		return b
	default:
		return &batch{done: make(chan struct{})}
	}
}

// recycle clears b and puts it in free, keeping its buffers, and gives
// its input buffer to bufs when it is of the usual size.
func (b *batch) recycle(free chan *batch, bufs chan []byte, chunkSize int) {
	if len(b.chunk.buf) == chunkSize {
		select {
		case bufs <- b.chunk.buf:
		default:
		}
	}
	clear(b.items) // drop the references to the chunk's text
	clear(b.errs)
	*b = batch{items: b.items[:0], out: b.out[:0], ends: b.ends[:0], errs: b.errs[:0]}
	select {
	case free <- b:
	default:
	}
}

// run renders every item of the batch, splitting its chunk into lines first.
func (b *batch) run(render RenderFunc, maxLine int) {
	one := func(it Item) error {
		var err error
		if it.Err != nil {
			err = it.Err
		} else {
			var out []byte
			out, err = render(b.out, it)
			if len(out) >= len(b.out) { // else render broke its contract: drop what it gave
				b.out = out
			}
		}
		b.ends = append(b.ends, len(b.out))
		b.errs = append(b.errs, err)
		return nil
	}
	if b.chunk.text != "" {
		// The items are collected while rendering, so that each line is
		// read once.
		_ = eachLine(b.chunk.source, b.chunk.first, b.chunk.text, maxLine, func(it Item) error {
			b.items = append(b.items, it)
			return one(it)
		})
	} else {
		for _, it := range b.items {
			one(it)
		}
	}
	close(b.done)
}
