package audit

import (
	"strings"
	"testing"
)

// FuzzFingerprintRange checks that fingerprint queries from users either
// fail or give a range that holds exactly the fingerprints they name.
func FuzzFingerprintRange(f *testing.F) {
	for _, s := range []string{"sha256:0123456789abcdef", "ABCDEF0123", fp(7), "sha256:", "0123456", " 01234567 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		lo, hi, err := fingerprintRange(q)
		if err != nil {
			return
		}
		if !strings.HasPrefix(lo, "sha256:") || len(lo) < 7+MinFingerprintPrefix || len(lo) > 71 {
			t.Fatalf("fingerprintRange(%q) = %q, %q", q, lo, hi)
		}
		full := lo + strings.Repeat("0", 71-len(lo))
		if !validFingerprint(full) {
			t.Fatalf("fingerprintRange(%q) = %q, which no fingerprint starts with", q, lo)
		}
		if hi != "" && !(lo <= full && full < hi) {
			t.Fatalf("fingerprintRange(%q) = [%q, %q) misses %q", q, lo, hi, full)
		}
		if hi == "" && len(lo) != 71 {
			t.Fatalf("fingerprintRange(%q) = exact %q, not a full fingerprint", q, lo)
		}
	})
}
