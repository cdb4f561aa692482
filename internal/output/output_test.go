package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": Table, "json": JSON, "JSONL": JSONL, "csv": CSV, "markdown": Markdown, "table": Table} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseFormat("yaml")
	if err == nil || !strings.Contains(err.Error(), `unknown format "yaml"`) || !strings.Contains(err.Error(), "markdown") {
		t.Errorf("ParseFormat(yaml) err = %v", err)
	}
}

func sample() *Sheet {
	s := &Sheet{Title: "Live tokens", Header: []string{"cdata", "count"}}
	s.Append("acme|corp", "2")
	s.Append("evil\x1b[31m", "1")
	return s
}

func TestSheetFormats(t *testing.T) {
	tests := []struct {
		f    Format
		want []string
		not  []string
	}{
		{Table, []string{"Live tokens", "│ cdata", `evil\x1b[31m`, "acme|corp"}, []string{"\x1b"}},
		{Markdown, []string{"### Live tokens", "| cdata | count |", "|---|---|", `| acme\|corp | 2 |`, `evil\x1b\[31m`}, []string{"\x1b"}},
		{CSV, []string{"cdata,count\n", "acme|corp,2\n"}, nil},
		{JSONL, []string{`{"cdata":"acme|corp","count":"2"}` + "\n"}, nil},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := sample().Write(&buf, tt.f); err != nil {
			t.Fatalf("%s: %v", tt.f, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("%s output lacks %q:\n%s", tt.f, w, buf.String())
			}
		}
		for _, n := range tt.not {
			if strings.Contains(buf.String(), n) {
				t.Errorf("%s output contains %q:\n%q", tt.f, n, buf.String())
			}
		}
	}
	var buf bytes.Buffer
	if err := sample().Write(&buf, JSON); err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("json output does not parse: %v\n%s", err, buf.String())
	}
	if len(got) != 2 || got[1]["cdata"] != "evil\x1b[31m" || got[0]["count"] != "2" {
		t.Errorf("json round trip: %#v", got)
	}
	if !strings.HasPrefix(buf.String(), "[\n  {\n    \"cdata\"") {
		t.Errorf("json key order or indent lost:\n%s", buf.String())
	}
}

func TestEmptySheet(t *testing.T) {
	var buf bytes.Buffer
	s := &Sheet{Header: []string{"a"}}
	if err := s.Write(&buf, Table); err != nil || !strings.Contains(buf.String(), "(none)") {
		t.Errorf("empty table = %q, %v", buf.String(), err)
	}
	buf.Reset()
	if err := s.Write(&buf, JSON); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("empty json = %q, %v", buf.String(), err)
	}
}

func TestClean(t *testing.T) {
	tests := map[string]string{
		"plain":              "plain",
		"münchen 日本":         "münchen 日本",
		"a\x1b[2Jb":          `a\x1b[2Jb`,
		"line\nbreak\r":      `line\nbreak\r`,
		"bidi\u202eevil":     `bidi\u202eevil`,
		"bad\xffutf8":        `bad\xffutf8`,
		"tab\there":          `tab\there`,
		"\u0085next-line":    `\u0085next-line`,
		"replacement\ufffdk": `replacement\ufffdk`,
	}
	for in, want := range tests {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStyle(t *testing.T) {
	if got := (Style{}).Severity("high"); got != "high" {
		t.Errorf("disabled style coloured: %q", got)
	}
	if got := (Style{Enabled: true}).Severity("critical"); got != "\x1b[1;31mcritical\x1b[0m" {
		t.Errorf("critical = %q", got)
	}
	if got := (Style{Enabled: true}).Severity("info"); got != "info" {
		t.Errorf("info = %q", got)
	}
}

func FuzzClean(f *testing.F) {
	f.Add("a\x1b[31mb\xff\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		c := Clean(s)
		for _, r := range c {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("Clean(%q) = %q keeps a control character", s, c)
			}
		}
		if !needsCleaning(s) && c != s {
			t.Fatalf("clean text changed: %q -> %q", s, c)
		}
	})
}
