package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/internal/output"
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

// jsonTestTokens are tokens that take every path of the JSON writers.
func jsonTestTokens() []string {
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
	return tokens
}

// TestAppendInspectJSONMatchesEncodingJSON is a differential test: the fast
// writer must produce the document encoding/json produces for the record.
func TestAppendInspectJSONMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	for _, s := range jsonTestTokens() {
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

// TestAppendSummaryJSONMatchesRecord: for every token the Summary path
// writes, it writes exactly the bytes of the record path, which the test
// above holds to encoding/json; and it takes every Woleet-style token.
func TestAppendSummaryJSONMatchesRecord(t *testing.T) {
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	clock := jwtinspect.WithNow(func() time.Time { return now })
	tokens := append(jsonTestTokens(),
		woleetStyle(`{"sub":"u","iat":1764320000,"nbf":1764320000,"exp":1764330000.5,"cdata":"x"}`),
		woleetStyle(" {\"cdata\" : [1,  2],\n\"exp\":\"soon\"} "),
		woleetStyle(`[1,2]`), woleetStyle(``), woleetStyle("not json \xff"),
	)
	var sum jwtinspect.Summary
	written := 0
	for _, s := range tokens {
		tok, err := jwtinspect.Parse(s, clock)
		if serr := sum.Parse(s, clock); (err == nil) != (serr == nil) {
			t.Fatalf("Parse error %v, Summary.Parse error %v", err, serr)
		}
		if err != nil || !summaryJSONOK(&sum) {
			continue
		}
		written++
		slow, err := appendInspectJSON([]byte("prefix"), newInspectRecord(tok, now), tok)
		if err != nil {
			t.Fatal(err)
		}
		if fast := appendSummaryJSON([]byte("prefix"), &sum, now); !bytes.Equal(fast, slow) {
			t.Errorf("for %.40s…\nsummary: %s\nrecord:  %s", s, fast, slow)
		}
	}
	if written < 10 { // the vectors hold many JWE and JSON serializations, written from records
		t.Errorf("the Summary path wrote only %d of %d tokens", written, len(tokens))
	}
	for _, s := range strings.Fields(string(woleetStream(50))) {
		if err := sum.Parse(s, clock); err != nil || !summaryJSONOK(&sum) {
			t.Fatalf("a Woleet-style token is not written from its Summary (err %v)", err)
		}
	}
}

// FuzzAppendCompact: on valid JSON, appendCompact writes what json.Compact
// writes, unsafe characters escaped, and hasSpaceOrControl finds exactly the bytes at or below ' '.
func FuzzAppendCompact(f *testing.F) {
	for _, s := range []string{`{}`, ` { "a b" : [1, 2.50, "\" x\\"] ,` + "\n\t\r" + `"c":{ } } `, `{"k":"v"}`, `"   "`, "[\"\u00e9\\u0020\",\t1]", "{\"abcdefgh\":\"ijklmno\x7f\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		want := slices.ContainsFunc(text, func(c byte) bool { return c <= ' ' })
		if got := hasSpaceOrControl(text); got != want {
			t.Fatalf("hasSpaceOrControl(%q) = %v", text, got)
		}
		if !json.Valid(text) {
			return
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, text); err != nil {
			t.Fatal(err)
		}
		if got := appendCompact([]byte("x"), text); string(got) != "x"+string(output.AppendEscapedJSON(nil, buf.Bytes())) {
			t.Fatalf("appendCompact(%q) = %q, json.Compact gives %q", text, got[1:], buf.Bytes())
		}
	})
}
