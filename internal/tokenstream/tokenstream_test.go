package tokenstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

func collect(t *testing.T, args []string, opts Options) []Item {
	t.Helper()
	var items []Item
	err := Read(context.Background(), args, opts, func(it Item) error {
		items = append(items, it)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return items
}

func TestReadSkipsBlanksAndCommentsAndStripsBearer(t *testing.T) {
	in := "# tokens for acme\n\n  a.b.c  \r\nBearer d.e.f\nAuthorization: Bearer g.h.i\n\t# indented comment\nj.k.l"
	items := collect(t, []string{"-"}, Options{Stdin: strings.NewReader(in)})
	want := []struct {
		line  int
		token string
	}{{3, "a.b.c"}, {4, "d.e.f"}, {5, "g.h.i"}, {7, "j.k.l"}}
	if len(items) != len(want) {
		t.Fatalf("got %d items, want %d: %+v", len(items), len(want), items)
	}
	for i, w := range want {
		if items[i].Line != w.line || items[i].Token != w.token || items[i].Source != "stdin" || items[i].Err != nil {
			t.Errorf("item %d = %+v, want line %d token %q", i, items[i], w.line, w.token)
		}
	}
	if got := items[0].Where(); got != "stdin line 3" {
		t.Errorf("Where() = %q", got)
	}
}

func TestReadArgumentsFilesAndStdinInOrder(t *testing.T) {
	files := map[string]string{"t.txt": "f1\nf2\n"}
	opts := Options{
		Stdin: strings.NewReader("s1\n"),
		Open: func(name string) (io.ReadCloser, error) {
			s, ok := files[name]
			if !ok {
				return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
			}
			return io.NopCloser(strings.NewReader(s)), nil
		},
	}
	items := collect(t, []string{"Bearer  x1 ", "@t.txt", "-"}, opts)
	var got []string
	for _, it := range items {
		got = append(got, it.Where()+"="+it.Token)
	}
	want := "argument 1=x1,t.txt line 1=f1,t.txt line 2=f2,stdin line 1=s1"
	if strings.Join(got, ",") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, ","), want)
	}

	err := Read(context.Background(), []string{"@missing.txt"}, opts, func(Item) error { return nil })
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "argument 1") {
		t.Errorf("missing file: err = %v", err)
	}
	err = Read(context.Background(), []string{"@"}, opts, func(Item) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "needs a file name") {
		t.Errorf("bare @: err = %v", err)
	}
}

func TestReadLongLines(t *testing.T) {
	const max = 100 << 10 // larger than the reader's 64 KiB buffer
	long := strings.Repeat("a", max)
	tooLong := strings.Repeat("b", max+10)
	// The last line has no newline and exactly fills the reader's buffer.
	last := strings.Repeat("c", 64<<10)
	in := "short\n" + long + "\n" + tooLong + "\nafter\n" + last
	items := collect(t, []string{"-"}, Options{Stdin: iotest.HalfReader(strings.NewReader(in)), MaxLine: max})
	if len(items) != 5 {
		t.Fatalf("got %d items, want 5", len(items))
	}
	if items[0].Token != "short" || items[1].Token != long || items[3].Token != "after" || items[4].Token != last {
		t.Errorf("tokens read wrong: lens %d %d %d %d", len(items[0].Token), len(items[1].Token), len(items[3].Token), len(items[4].Token))
	}
	var tl *LineTooLongError
	if !errors.As(items[2].Err, &tl) || items[2].Line != 3 || items[2].Token != "" {
		t.Errorf("too-long line: %+v", items[2])
	}
	if items[3].Line != 4 || items[4].Line != 5 {
		t.Errorf("line numbers after a long line: %d, %d", items[3].Line, items[4].Line)
	}
}

func TestReadErrorNamesSourceAndLine(t *testing.T) {
	r := io.MultiReader(strings.NewReader("a\nb\n"), iotest.ErrReader(errors.New("disk on fire")))
	err := Read(context.Background(), []string{"-"}, Options{Stdin: r}, func(Item) error { return nil })
	if err == nil || err.Error() != "stdin: line 3: disk on fire" {
		t.Errorf("err = %v", err)
	}
}

// upper renders a token as itself in upper case, on a line of its own.
func upper() RenderFunc {
	return func(dst []byte, it Item) ([]byte, error) {
		return append(append(dst, strings.ToUpper(it.Token)...), '\n'), nil
	}
}

func TestProcessKeepsOrderAcrossWorkers(t *testing.T) {
	var b strings.Builder
	const n = 10_000
	for i := range n {
		if i%1000 == 0 {
			b.WriteString("# a comment\n\n")
		}
		fmt.Fprintf(&b, "tok%d\n", i)
	}
	var got []string
	err := Process(context.Background(), []string{"arg", "-", "last"},
		Options{Stdin: iotest.HalfReader(strings.NewReader(b.String())), Workers: 4, ChunkSize: 37},
		upper,
		func(it Item, out []byte, err error) error {
			if err != nil {
				t.Fatalf("%s: %v", it.Where(), err)
			}
			if string(out) != strings.ToUpper(it.Token)+"\n" {
				t.Fatalf("%s: token %q changed after rendering %q", it.Where(), it.Token, out)
			}
			got = append(got, it.Where()+"="+string(out))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n+2 {
		t.Fatalf("got %d results, want %d", len(got), n+2)
	}
	if got[0] != "argument 1=ARG\n" || got[n+1] != "argument 3=LAST\n" {
		t.Errorf("arguments: %q, %q", got[0], got[n+1])
	}
	line := 1
	for i, r := range got[1 : n+1] {
		if i%1000 == 0 {
			line += 2
		}
		if want := fmt.Sprintf("stdin line %d=TOK%d\n", line, i); r != want {
			t.Fatalf("result %d = %q, want %q: order or line numbers lost", i, r, want)
		}
		line++
	}
}

// TestProcessReusesWorkersRender: each worker gets a render function of its
// own, made once, which it may use without locks.
func TestProcessReusesWorkersRender(t *testing.T) {
	var made atomic.Int32
	newRender := func() RenderFunc {
		made.Add(1)
		busy := false // a data race if two goroutines shared it
		return func(dst []byte, it Item) ([]byte, error) {
			if busy {
				t.Error("render called concurrently")
			}
			busy = true
			defer func() { busy = false }()
			return append(dst, it.Token...), nil
		}
	}
	in := strings.Repeat("x\n", 100_000)
	count := 0
	err := Process(context.Background(), []string{"-"}, Options{Stdin: strings.NewReader(in), Workers: 3, ChunkSize: 64},
		newRender, func(it Item, out []byte, err error) error {
			if string(out) != "x" || err != nil {
				t.Fatalf("%s: %q %v", it.Where(), out, err)
			}
			count++
			return nil
		})
	if err != nil || count != 100_000 || made.Load() != 3 {
		t.Errorf("err %v, %d results, %d render functions made", err, count, made.Load())
	}
}

// TestProcessReportsItemErrors: a line too long and a failed render each
// reach emit with their error, in place, and do not stop the stream.
func TestProcessReportsItemErrors(t *testing.T) {
	fail := errors.New("bad token")
	render := func() RenderFunc {
		return func(dst []byte, it Item) ([]byte, error) {
			if it.Token == "bad" {
				return append(dst, "partial"...), fail
			}
			return append(dst, it.Token...), nil
		}
	}
	in := "ok1\n" + strings.Repeat("z", 50) + "\nbad\n" + strings.Repeat("y", 500) + "\nok2"
	var got []string
	err := Process(context.Background(), []string{"-"}, Options{Stdin: strings.NewReader(in), MaxLine: 20, ChunkSize: 16},
		render, func(it Item, out []byte, err error) error {
			got = append(got, fmt.Sprintf("%d:%s:%v", it.Line, out, err))
			return nil
		})
	want := "1:ok1:<nil>,2::line is longer than the 20-byte limit,3:partial:bad token,4::line is longer than the 20-byte limit,5:ok2:<nil>"
	if err != nil || strings.Join(got, ",") != want {
		t.Errorf("err %v\ngot  %s\nwant %s", err, strings.Join(got, ","), want)
	}
}

// TestProcessArgumentsOnly: tokens given only as arguments are rendered in
// order, with one render function, and a too-long one is reported in place.
func TestProcessArgumentsOnly(t *testing.T) {
	made := 0
	newRender := func() RenderFunc {
		made++
		return upper()
	}
	var got []string
	err := Process(context.Background(), []string{"a", strings.Repeat("x", 11), "Bearer b"}, Options{MaxLine: 10},
		newRender, func(it Item, out []byte, err error) error {
			got = append(got, fmt.Sprintf("%s=%q %v", it.Where(), out, err))
			return nil
		})
	want := `argument 1="A\n" <nil>,argument 2="" line is longer than the 10-byte limit,argument 3="B\n" <nil>`
	if err != nil || strings.Join(got, ",") != want || made != 1 {
		t.Errorf("err %v, %d render functions\ngot  %s\nwant %s", err, made, strings.Join(got, ","), want)
	}
	stop := errors.New("stop")
	err = Process(context.Background(), []string{"a", "b"}, Options{}, upper, func(Item, []byte, error) error { return stop })
	if err != stop {
		t.Errorf("emit error: got %v", err)
	}
}

func TestProcessStopsOnEmitError(t *testing.T) {
	stop := errors.New("stop")
	seen := 0
	err := Process(context.Background(), []string{"-"},
		Options{Stdin: strings.NewReader(strings.Repeat("x\n", 100_000)), ChunkSize: 20},
		upper,
		func(Item, []byte, error) error {
			seen++
			if seen == 25 {
				return stop
			}
			return nil
		})
	if !errors.Is(err, stop) || seen != 25 {
		t.Errorf("err = %v, seen = %d", err, seen)
	}
}

func TestProcessReturnsReadError(t *testing.T) {
	err := Process(context.Background(), []string{"ok", "@nope"},
		Options{Open: func(string) (io.ReadCloser, error) { return nil, fs.ErrNotExist }},
		upper,
		func(Item, []byte, error) error { return nil })
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

// referenceRead is what Read must do, written as plainly as possible: split
// at newlines, refuse lines over max+2 bytes with their newline, trim,
// skip blanks and comments, normalize.
func referenceRead(in string, max int) []Item {
	var items []Item
	for i, l := range strings.SplitAfter(in, "\n") {
		switch t := strings.TrimSpace(l); {
		case l == "":
		case len(l) > max+2:
			items = append(items, Item{Source: "stdin", Line: i + 1, Err: &LineTooLongError{Max: max}})
		case t != "" && t[0] != '#':
			items = append(items, Item{Source: "stdin", Line: i + 1, Token: jwtinspect.Normalize(t)})
		}
	}
	return items
}

// FuzzRead: Read gives what referenceRead gives, whatever the chunk size and
// however the reader splits its reads, and Process agrees. Read's tokens are
// compared after reading ends: they must stay valid, unlike Process's.
func FuzzRead(f *testing.F) {
	f.Add("a.b.c\n# c\n\nBearer x\r\n", 8, 3)
	f.Add("Authorization: Bearer", 3, 1)
	f.Add("0123456789\n01234567890\n012345678901\n0123456789012", 10, 4)
	f.Fuzz(func(t *testing.T, in string, max, chunk int) {
		if max < 1 || max > 1<<20 {
			max = 1 + (max&0xffff+0xffff)%0xffff
		}
		chunk = 1 + (chunk&0xffff+0xffff)%0xffff
		want := referenceRead(in, max)
		for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in)), iotest.HalfReader(strings.NewReader(in))} {
			var got []Item
			err := Read(context.Background(), []string{"-"}, Options{Stdin: r, MaxLine: max, ChunkSize: chunk}, func(it Item) error {
				got = append(got, it)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("max %d chunk %d:\ngot  %+v\nwant %+v", max, chunk, got, want)
			}
		}
		var got []Item
		err := Process(context.Background(), []string{"-"}, Options{Stdin: strings.NewReader(in), MaxLine: max, ChunkSize: chunk, Workers: 2},
			upper, func(it Item, _ []byte, err error) error {
				if err != it.Err {
					t.Fatalf("%s: error %v, item error %v", it.Where(), err, it.Err)
				}
				it.Token = strings.Clone(it.Token) // valid only during the call
				got = append(got, it)
				return nil
			})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Process: err %v\ngot  %+v\nwant %+v", err, got, want)
		}
	})
}
