package woleettest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRedactQuery: no token value survives in a recorded query.
// Seeds: testdata/fuzz/FuzzRedactQuery.
func FuzzRedactQuery(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		got := redactQuery(raw)
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		rq, err := url.ParseQuery(got)
		if err != nil {
			t.Fatalf("redactQuery(%q) = %q: not a query any more: %v", raw, got, err)
		}
		for _, v := range rq["token"] {
			if v != "REDACTED" {
				t.Fatalf("redactQuery(%q) = %q keeps token %q", raw, got, v)
			}
		}
		for k, vs := range q {
			if k != "token" && strings.Join(rq[k], ",") != strings.Join(vs, ",") {
				t.Fatalf("redactQuery(%q) = %q changed %q", raw, got, k)
			}
		}
	})
}

// FuzzServeHTTP: any request gets a well-formed answer and no panic.
func FuzzServeHTTP(f *testing.F) {
	srv := NewUnstartedServer()
	defer srv.Close()
	tok, err := srv.IssueDirect(DefaultEmail, "seed")
	if err != nil {
		f.Fatal(err)
	}
	basic := func(u, p string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header.Get("Authorization")
	}(DefaultEmail, DefaultPassword)
	// More seeds in testdata/fuzz/FuzzServeHTTP; these need a live token.
	f.Add("GET", "/v1/token", "cdata=a%20b", basic)
	f.Add("DELETE", "/v1/token", "token="+url.QueryEscape(tok), "Bearer "+tok)
	f.Fuzz(func(t *testing.T, method, path, rawQuery, auth string) {
		u := &url.URL{Path: path, RawQuery: rawQuery}
		req, err := http.NewRequest(method, "http://127.0.0.1"+u.RequestURI(), nil)
		if err != nil {
			return
		}
		req.URL.Path, req.URL.RawQuery = path, rawQuery
		req.Header.Set("Authorization", auth)
		req.RemoteAddr = "127.0.0.1:1234"
		w := httptest.NewRecorder()
		srv.serveHTTP(w, req)
		switch w.Code {
		case 200, 400, 401, 404, 405:
		default:
			t.Fatalf("%s %s?%s: status %d", method, path, rawQuery, w.Code)
		}
		if w.Code != 200 || method == "GET" {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s?%s: body %q is not JSON", method, path, rawQuery, w.Body)
			}
		}
		rec := srv.Requests()
		if q, err := url.ParseQuery(rec[len(rec)-1].Query); err == nil {
			for _, v := range q["token"] {
				if v != "REDACTED" {
					t.Fatalf("the recorded query keeps a token: %q", rec[len(rec)-1].Query)
				}
			}
		}
	})
}
