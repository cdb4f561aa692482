package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// sameDocument reports whether two JSON texts decode to the same value,
// numbers compared as written.
func sameDocument(t *testing.T, a, b []byte) bool {
	t.Helper()
	decode := func(p []byte) any {
		d := json.NewDecoder(bytes.NewReader(p))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, p)
		}
		return v
	}
	return reflect.DeepEqual(decode(a), decode(b))
}

// TestAppendInspectJSONMatchesEncodingJSON is a differential test: the fast
// writer must produce the document encoding/json produces for the record.
func TestAppendInspectJSONMatchesEncodingJSON(t *testing.T) {
	tokens := []string{
		woleetStyle(`{"sub":"u","iat":1764320000,"jti":"j","cdata":"acme \"quoted\" \u2028 <tag> & \\ tab\t"}`),
		woleetStyle(`{"cdata":"dup","cdata":"last wins"}`),
		woleetStyle("{\"cdata\":\"bad \xff utf8\",\"n\":1e400}"),
		woleetStyle(`{"nested":{"a":[1,2.50,{"b":null}]},"exp":99999999999}`),
		woleetStyle(`"just a string"`),
	}
	files, _ := filepath.Glob(filepath.Join(vectorDir, "*.jw*"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && !strings.HasSuffix(f, ".jwk") && !strings.HasSuffix(f, ".jwkset") {
			tokens = append(tokens, strings.TrimSpace(string(b)))
		}
	}
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	for _, s := range tokens {
		tok, err := jwtinspect.Parse(s, jwtinspect.WithNow(func() time.Time { return now }))
		if err != nil {
			continue
		}
		rec := newInspectRecord(tok, now)
		fast, err := appendInspectJSON(nil, rec, tok)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := marshalNoEscape(rec)
		if err != nil {
			t.Fatal(err)
		}
		if !sameDocument(t, fast, slow) {
			t.Errorf("documents differ for %.40s…\nfast: %s\nslow: %s", s, fast, slow)
		}
		if bytes.Count(fast, []byte("\n")) != 1 || !bytes.HasSuffix(fast, []byte("\n")) {
			t.Errorf("not one line: %q", fast)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x1f\x7f", "\u2028\u2029", "bad\xff\xc3", "日本 <&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		want, err := marshalNoEscape(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json says %s", s, got, want)
		}
	})
}
