package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile holds one character of every kind no format may print raw.
var hostile = []string{"\x1b]0;pwned\x07", "\x1b[31m", "\x00", "\x7f", "\u0085", "\u009b", "\u202e", "\u2066", "\u2069",
	"\u200b", "\u200d", "\u2060", "\ufeff", "\u2028", "\u2029", "\U000e0041"}

// rawUnsafe returns the first Unsafe character in s, other than the
// separators sep, or -1.
func rawUnsafe(s, sep string) rune {
	for _, r := range s {
		if Unsafe(r) && !strings.ContainsRune(sep, r) {
			return r
		}
	}
	return -1
}

func TestUnsafe(t *testing.T) {
	for _, s := range hostile {
		r, _ := utf8.DecodeRuneInString(s)
		if !Unsafe(r) {
			t.Errorf("Unsafe(%U) = false", r)
		}
	}
	for _, r := range "aZ09 ~é日本\u00a0\u00a9\u2013" {
		if Unsafe(r) {
			t.Errorf("Unsafe(%U) = true", r)
		}
	}
}

// TestNoFormatCarriesUnsafe: a sheet of hostile cells, in every format,
// holds no unsafe character but the format's own separators; JSON gives
// back the exact text.
func TestNoFormatCarriesUnsafe(t *testing.T) {
	s := &Sheet{Title: "t\u202e", Header: []string{"cdata"}}
	for _, h := range hostile {
		s.Append("x" + h + "y")
	}
	for _, f := range Formats {
		if f == HTML {
			continue // only the report writes it, through CleanDocument
		}
		var buf bytes.Buffer
		if err := s.Write(&buf, f); err != nil {
			t.Fatal(err)
		}
		if r := rawUnsafe(buf.String(), "\n"); r >= 0 {
			t.Errorf("%s output carries %U:\n%q", f, r, buf.String())
		}
		switch f {
		case JSON:
			var got []map[string]string
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil || len(got) != len(hostile) {
				t.Fatalf("%v: %s", err, buf.String())
			}
			for i, h := range hostile {
				if got[i]["cdata"] != "x"+h+"y" {
					t.Errorf("JSON gives back %q, want %q", got[i]["cdata"], "x"+h+"y")
				}
			}
		case CSV:
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil || len(rows) != len(hostile)+1 {
				t.Errorf("csv: %v, %d rows", err, len(rows))
			}
		}
	}
	if got := Clean("a\u2028b\u202ec\x1b"); got != `a\u2028b\u202ec\x1b` {
		t.Errorf("Clean = %q", got)
	}
	doc := "<p>\tx\u202ey\x1b\xff</p>\r\n"
	if got := string(CleanDocument([]byte(doc))); got != "<p>\tx\\u202ey\\x1b\\xff</p>\r\n" {
		t.Errorf("CleanDocument(%q) = %q", doc, got)
	}
	if got := string(AppendJSONString(nil, "\U000e0041\u009b")); got != `"\udb40\udc41\u009b"` {
		t.Errorf("AppendJSONString = %s", got)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x1f\x7f", "\u2028\u2029", "bad\xff\xc3", "日本 <&>", "\u202e\u009b\u200b\U000e0041"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendJSONString(nil, s)
		want, err := MarshalJSON(s, "")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendJSONString(%q) = %s, encoding/json then AppendEscapedJSON say %s", s, got, want)
		}
		if r := rawUnsafe(string(got), ""); r >= 0 {
			t.Fatalf("AppendJSONString(%q) = %s carries %U", s, got, r)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || (utf8.ValidString(s) && back != s) {
			t.Fatalf("AppendJSONString(%q) = %s decodes to %q, %v", s, got, back, err)
		}
	})
}
