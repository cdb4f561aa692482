package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenaudit/tokenaudit/internal/output"
)

// vectorDir holds the RFC 7515/7519/7520 examples, copied from
// ../shared/testvectors so that the tests run on a clean checkout.
const vectorDir = "../../testdata/vectors"

// joeClaims is the claim set of RFC 7515 A.1–A.7, numbers as written.
const joeClaims = `{"iss":"joe","exp":1300819380,"http://example.com/is_root":true}` // the token's own order

const frodo = "It’s a dangerous business, Frodo, going out your door."

// vectorWant is what inspect must report for one vector file.
type vectorWant struct {
	kind, alg string
	claims    string // compact JSON, or "" when claims must be null
	payload   string // prefix of the payload text, when claims are null
}

var vectorWants = map[string]vectorWant{
	"rfc7515_A.1.jwsc":          {"jws", "HS256", joeClaims, ""},
	"rfc7515_A.2.jwsc":          {"jws", "RS256", joeClaims, ""},
	"rfc7515_A.3.jwsc":          {"jws", "ES256", joeClaims, ""},
	"rfc7515_A.4.jwsc":          {"jws", "ES512", "", "Payload"},
	"rfc7515_A.5.jwsc":          {"unsecured", "none", joeClaims, ""},
	"rfc7515_A.6.jwsg":          {"jws-json", "RS256", joeClaims, ""},
	"rfc7515_A.7.jwsf":          {"jws-json", "ES256", joeClaims, ""},
	"rfc7519_3.1.jwt":           {"jws", "HS256", joeClaims, ""},
	"rfc7519_6.1.unsecured.jwt": {"unsecured", "none", joeClaims, ""},
	"rfc7520_4.1.jwsc":          {"jws", "RS256", "", frodo},
	"rfc7520_4.2.jwsc":          {"jws", "PS384", "", frodo},
	"rfc7520_4.3.jwsc":          {"jws", "ES512", "", frodo},
	"rfc7520_4.4.jwsc":          {"jws", "HS256", "", frodo},
	"rfc7520_4.5.jwsc":          {"jws", "HS256", "", ""}, // detached payload
	"rfc7520_4.8.jwsg":          {"jws-json", "RS256", "", frodo},
	"rfc7520_4.5.jwsf":          {"jws-json", "HS256", "", ""}, // detached payload
	"rfc7520_4.5.jwsg":          {"jws-json", "HS256", "", ""},
	"rfc7519_A.1.jwe":           {"jwe", "RSA1_5", "", ""},
	"rfc7519_A.2.nested.jwe":    {"jwe", "RSA1_5", "", ""},
}

func TestInspectEveryVector(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorDir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in %s: %v", vectorDir, err)
	}
	seen := 0
	for _, path := range files {
		name := filepath.Base(path)
		ext := filepath.Ext(name)
		switch ext {
		case ".jwsc", ".jwsf", ".jwsg", ".jwec", ".jwef", ".jweg", ".jwt", ".jwe":
		default:
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			r := cli(t, "", nil, "inspect", "--format", "jsonl", "@"+path)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var rec struct {
				Kind        string           `json:"kind"`
				Alg         *string          `json:"alg"`
				Claims      *json.RawMessage `json:"claims"`
				Payload     *string          `json:"payload"`
				Fingerprint string           `json:"fingerprint"`
				Findings    []map[string]string
				Verified    *json.RawMessage `json:"verified"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
				t.Fatalf("output is not one JSON document: %v\n%s", err, r.stdout)
			}
			if strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("jsonl output is not one line: %q", r.stdout)
			}
			raw, _ := os.ReadFile(path)
			if want := fingerprintOf(strings.TrimSpace(string(raw))); rec.Fingerprint != want {
				t.Errorf("fingerprint %s, want %s", rec.Fingerprint, want)
			}
			if rec.Verified != nil {
				t.Errorf("verified = %s, want null", *rec.Verified)
			}
			want, ok := vectorWants[name]
			switch {
			case ok:
			case strings.HasPrefix(ext, ".jwe"):
				want = vectorWant{kind: "jwe"}
			case ext == ".jwsf" || ext == ".jwsg":
				want = vectorWant{kind: "jws-json", payload: frodo}
			default:
				t.Fatalf("no expectation for %s", name)
			}
			if rec.Kind != want.kind {
				t.Errorf("kind %q, want %q", rec.Kind, want.kind)
			}
			if want.alg != "" && (rec.Alg == nil || *rec.Alg != want.alg) {
				t.Errorf("alg %v, want %q", rec.Alg, want.alg)
			}
			if want.claims != "" {
				if rec.Claims == nil || string(*rec.Claims) != want.claims {
					t.Errorf("claims %s, want exactly %s", deRaw(rec.Claims), want.claims)
				}
				if rec.Payload != nil {
					t.Errorf("payload %q with claims present, want null", *rec.Payload)
				}
			} else if rec.Claims != nil {
				t.Errorf("claims %s, want null", *rec.Claims)
			}
			if want.payload != "" && (rec.Payload == nil || !strings.HasPrefix(*rec.Payload, want.payload)) {
				t.Errorf("payload %v, want it to start with %q", rec.Payload, want.payload)
			}
			if want.kind == "jwe" && !hasFinding(rec.Findings, "jwe") {
				t.Errorf("a JWE without the jwe finding: %v", rec.Findings)
			}
			if want.kind == "unsecured" && !hasFinding(rec.Findings, "alg-none") {
				t.Errorf("an unsecured JWT without alg-none: %v", rec.Findings)
			}
		})
	}
	if seen < 60 {
		t.Errorf("only %d token vectors found", seen)
	}
}

func deRaw(m *json.RawMessage) string {
	if m == nil {
		return "null"
	}
	return string(*m)
}

func hasFinding(fs []map[string]string, id string) bool {
	for _, f := range fs {
		if f["id"] == id {
			return true
		}
	}
	return false
}

// woleetStyle builds an unsigned-looking Woleet token with the given claims
// JSON; the signature is 32 arbitrary bytes.
func woleetStyle(claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(claims)) + "." + enc.EncodeToString(make([]byte, 32))
}

func TestInspectPrettyJSONAndExactNumbers(t *testing.T) {
	tok := woleetStyle(`{"sub":"u1","iat":1764320000,"jti":"j1","cdata":"acme-corp","big":12345678901234567890,"f":1.50}`)
	r := cli(t, "", nil, "inspect", "--format", "json", tok)
	r.want(t, 0, []string{
		"{\n  \"kind\": \"jws\",\n",
		`"big": 12345678901234567890`,
		`"f": 1.50`,
		`"iat": 1764320000`,
		`"cdata": "acme-corp"`,
		`"status": "no-expiry"`,
		`"iat": "2025-11-28T08:53:20Z"`,
		`"verified": null`,
		`"id": "no-expiry"`,
	}, nil)
}

func TestInspectTableForPeople(t *testing.T) {
	tok := woleetStyle(`{"sub":"u1","iat":1764320000,"jti":"j1","cdata":"acme\u001b[2J"}`)
	r := cli(t, "", nil, "inspect", tok)
	r.want(t, 0, []string{
		`cdata        acme\x1b[2J`, // escaped, never sent to the terminal
		"kind         jws",
		"algorithm    HS256",
		"fingerprint  " + fingerprintOf(tok),
		"expiry       no-expiry: valid until revoked",
		"2025-11-28T08:53:20Z (",
		"Findings",
		"no-expiry",
	}, nil)
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("escape character reached stdout (not a terminal, so no colour either):\n%q", r.stdout)
	}
	if strings.Contains(r.stdout, tok) {
		t.Errorf("inspect printed the token itself")
	}
}

func TestInspectMarkdownAndCSV(t *testing.T) {
	tok := woleetStyle(`{"sub":"u1","cdata":"a|b"}`)
	cli(t, "", nil, "inspect", "--format", "markdown", tok).want(t, 0,
		[]string{"| cdata | a\\|b |", "### Findings", "| severity | id | message |"}, nil)
	cli(t, "", []string{"TOKENAUDIT_FORMAT=csv"}, "inspect", tok).want(t, 0,
		[]string{"field,value\n", "cdata,a|b\n", "severity,id,message\n"}, nil)
}

func TestInspectMalformed(t *testing.T) {
	good := woleetStyle(`{"cdata":"x"}`)
	parts := strings.Split(good, ".")
	tests := []struct {
		name, token, stderr string
	}{
		{"two parts", "abc.def", "input: wrong number of parts"},
		{"bad base64 in payload", parts[0] + "." + parts[1][:5] + "*" + parts[1][6:] + "." + parts[2], "payload: illegal base64url data at byte " + itoa(len(parts[0])+1+5)},
		{"internal space", parts[0] + ". " + parts[1] + "." + parts[2], "white space inside the token"},
		{"header not json", "bm90IGpzb24." + parts[1] + "." + parts[2], "header: invalid JSON"},
		{"binary", "\x00\x01\xff.\xfe.\x00", "tokenaudit: stdin line 1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, tt.token, nil, "inspect", "-")
			r.want(t, 2, nil, []string{tt.stderr})
			if r.stdout != "" {
				t.Errorf("stdout = %q", r.stdout)
			}
			if n := strings.Count(r.stderr, "\n"); n != 1 {
				t.Errorf("want one line on stderr, got %d:\n%s", n, r.stderr)
			}
		})
	}
}

func TestInspectStreamWithBadLines(t *testing.T) {
	a := woleetStyle(`{"cdata":"alpha"}`)
	b := woleetStyle(`{"cdata":"beta"}`)
	in := "# issued today\n" + a + "\n\nnot-a.token\n  Authorization: Bearer " + b + "  \n"
	r := cli(t, in, nil, "inspect", "--format", "jsonl", "-")
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (a malformed line)", r.code)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 JSON lines (two tokens, one error record), got %d:\n%s", len(lines), r.stdout)
	}
	var errRec struct {
		Line   int    `json:"line"`
		Source string `json:"source"`
		Error  string `json:"error"`
		Code   int    `json:"code"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &errRec); err != nil {
		t.Fatal(err)
	}
	if errRec.Line != 4 || errRec.Source != "stdin" || errRec.Code != 2 || !strings.Contains(errRec.Error, "wrong number of parts") {
		t.Errorf("error record = %+v", errRec)
	}
	if !strings.Contains(lines[0], `"cdata":"alpha"`) || !strings.Contains(lines[2], `"cdata":"beta"`) {
		t.Errorf("records out of order or wrong:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "1 of 3 tokens failed") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestCDataAndFingerprint(t *testing.T) {
	a := woleetStyle(`{"cdata":"acme corp"}`)
	none := woleetStyle(`{"sub":"x"}`)
	num := woleetStyle(`{"cdata":42}`)
	in := a + "\n" + none + "\n" + num + "\n"
	cli(t, in, nil, "cdata").want(t, 0, nil, nil)
	r := cli(t, in, nil, "cdata")
	if r.stdout != "acme corp\n\n42\n" || r.code != 0 {
		t.Errorf("cdata = %q (exit %d)", r.stdout, r.code)
	}
	r = cli(t, "", nil, "cdata", "--format", "jsonl", none)
	if r.stdout != `{"cdata":null,"fingerprint":"`+fingerprintOf(none)+`"}`+"\n" {
		t.Errorf("cdata jsonl = %q", r.stdout)
	}
	r = cli(t, "", nil, "fingerprint", "Bearer "+a)
	if r.stdout != fingerprintOf(a)+"\n" || r.code != 0 {
		t.Errorf("fingerprint = %q (exit %d)", r.stdout, r.code)
	}
	cli(t, "", nil, "fingerprint", "garbage.txt").want(t, 2, nil, []string{"wrong number of parts"})
	// One word could be an opaque token: fingerprinted, not silently.
	cli(t, "", nil, "fingerprint", "garbage").want(t, 0, []string{fingerprintOf("garbage")}, []string{"1 token is not a JWT (not-a-jwt)"})
}

func TestInputForms(t *testing.T) {
	a := woleetStyle(`{"cdata":"from-file"}`)
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(file, []byte("# one\r\n"+a+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, woleetStyle(`{"cdata":"from-stdin"}`)+"\n", nil, "cdata", woleetStyle(`{"cdata":"from-arg"}`), "@"+file, "-")
	if r.stdout != "from-arg\nfrom-file\nfrom-stdin\n" {
		t.Errorf("stdout = %q, stderr = %q", r.stdout, r.stderr)
	}
	// No argument: standard input.
	r = cli(t, a+"\n", nil, "cdata")
	if r.stdout != "from-file\n" {
		t.Errorf("no-argument stdin: %q", r.stdout)
	}
	cli(t, "", nil, "cdata", "@"+filepath.Join(dir, "missing.txt")).want(t, 1, nil, []string{"missing.txt", "no such file"})
}

func TestOversizedInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "big.txt")
	big := strings.Repeat("A", 17<<20)
	if err := os.WriteFile(file, []byte(big+"\n"+woleetStyle(`{"cdata":"after"}`)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "", nil, "cdata", "@"+file)
	r.want(t, 2, []string{"after\n"}, []string{"big.txt line 1: token is longer than the 64KiB limit: raise it with --max-token-size"})
}

// unsafeInOutput returns the first character in s that no output may carry
// raw from untrusted text (see output.Unsafe), other than the format's
// separators sep, or -1.
func unsafeInOutput(s, sep string) rune {
	for _, r := range s {
		if output.Unsafe(r) && !strings.ContainsRune(sep, r) {
			return r
		}
	}
	return -1
}

// TestNoFormatCarriesControls: a cdata that sets the window title, turns
// the terminal red, reverses text, hides text or breaks lines reaches no
// output raw, in any format and from any command; JSON gives back the
// exact text.
func TestNoFormatCarriesControls(t *testing.T) {
	cdata := "t\x1b]0;pwned\x07\x1b[31m\u202e\u009b\u200b\u2028\u2029\u2066\u0085end"
	claims, _ := json.Marshal(map[string]any{"sub": "u\u202e", "iat": 1764320000, "cdata": cdata})
	tok := woleetStyle(string(claims))
	at := newAPITest(t)
	listed := at.direct(t, "x\u202ey\u2028")
	at.run(t, listed+"\n", "revoke").want(t, 0, nil, nil) // recorded as an import, then revoked
	for _, f := range []string{"table", "json", "jsonl", "csv", "markdown"} {
		for _, args := range [][]string{
			{"inspect", tok}, {"inspect", "-"}, {"cdata", tok}, {"fingerprint", tok},
			{"tokens"}, {"events"},
		} {
			args = append(args, "--format", f)
			r := at.run(t, tok+"\n", args...)
			if r.code != 0 {
				t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
			}
			if c := unsafeInOutput(r.stdout, "\n"); c >= 0 {
				t.Errorf("%v: stdout carries %U:\n%q", args, c, r.stdout)
			}
			if c := unsafeInOutput(r.stderr, "\n"); c >= 0 {
				t.Errorf("%v: stderr carries %U:\n%q", args, c, r.stderr)
			}
			if f == "jsonl" && args[0] == "cdata" {
				rec := decodeJSON[map[string]any](t, r.stdout)
				if rec["cdata"] != cdata {
					t.Errorf("cdata --format jsonl gives back %q, want %q", rec["cdata"], cdata)
				}
			}
			if f == "jsonl" && args[0] == "tokens" {
				rec := decodeJSON[map[string]any](t, r.stdout)
				if rec["cdata"] != "x\u202ey\u2028" {
					t.Errorf("tokens --format jsonl gives back %q", rec["cdata"])
				}
			}
		}
	}
}
