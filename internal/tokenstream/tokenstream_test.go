package tokenstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/iotest"
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

func TestProcessKeepsOrderAcrossWorkers(t *testing.T) {
	var b strings.Builder
	const n = 10_000
	for i := range n {
		fmt.Fprintf(&b, "tok%d\n", i)
	}
	var got []string
	err := Process(context.Background(), []string{"-"},
		Options{Stdin: strings.NewReader(b.String()), Workers: 4, BatchSize: 7},
		func(it Item) string { return strings.ToUpper(it.Token) },
		func(it Item, r string) error {
			got = append(got, r)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d results, want %d", len(got), n)
	}
	for i, r := range got {
		if r != fmt.Sprintf("TOK%d", i) {
			t.Fatalf("result %d = %q: order lost", i, r)
		}
	}
}

func TestProcessStopsOnEmitError(t *testing.T) {
	stop := errors.New("stop")
	seen := 0
	err := Process(context.Background(), []string{"-"},
		Options{Stdin: strings.NewReader(strings.Repeat("x\n", 100_000)), BatchSize: 10},
		func(it Item) int { return 1 },
		func(it Item, r int) error {
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
		func(it Item) int { return 0 },
		func(Item, int) error { return nil })
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add("a.b.c\n# c\n\nBearer x\r\n", 8)
	f.Add("Authorization: Bearer", 3)
	f.Fuzz(func(t *testing.T, in string, max int) {
		if max < 1 || max > 1<<20 {
			max = 1 + (max&0xffff+0xffff)%0xffff
		}
		var n int
		err := Read(context.Background(), []string{"-"}, Options{Stdin: strings.NewReader(in), MaxLine: max}, func(it Item) error {
			n++
			if it.Err == nil && len(it.Token) > max+2 {
				t.Fatalf("bad item %+v", it)
			}
			if it.Line < 1 || it.Line > strings.Count(in, "\n")+1 {
				t.Fatalf("line %d out of range", it.Line)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n > strings.Count(in, "\n")+1 {
			t.Fatalf("%d items from %d lines", n, strings.Count(in, "\n")+1)
		}
	})
}
