package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestJSONTimesKeepSixDigits(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 100_000_000, time.UTC) // encoding/json: "…05.1Z"
	const want = `"2026-01-02T03:04:05.100000Z"`
	seq := int64(4)
	tok := Token{Fingerprint: "sha256:ab", IssuedAt: at, RevokedAt: at, RevokedSeq: &seq, TokenIAT: at, FirstSeenAt: at, State: StateRevoked}
	for name, v := range map[string]any{
		"Event":     Event{Seq: 1, TS: at, Kind: KindIssue},
		"Token":     tok,
		"AgedToken": AgedToken{Token: tok, AgeSeconds: 7},
		"Report":    Report{GeneratedAt: at, OldestLive: []AgedToken{{Token: tok}}, PendingIssues: []Event{{TS: at}}},
		"Info":      &Info{CreatedAt: at},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(string(b), `05.1Z"`) || !strings.Contains(string(b), want) {
			t.Errorf("%s: %s", name, b)
		}
	}
	b, _ := json.Marshal(AgedToken{Token: tok, AgeSeconds: 7})
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"fingerprint", "issued_at", "revoked_at", "revoked_seq", "token_iat", "first_seen_at", "state", "age_seconds"} {
		if _, ok := m[k]; !ok {
			t.Errorf("AgedToken's JSON lacks %q: %s", k, b)
		}
	}
	b, _ = json.Marshal(Token{IssuedAt: at, FirstSeenAt: at})
	if strings.Contains(string(b), "revoked_at") || strings.Contains(string(b), "token_iat") {
		t.Errorf("zero times are not left out: %s", b)
	}
}
