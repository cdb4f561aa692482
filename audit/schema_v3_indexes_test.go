package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// oldLedger writes at path a ledger of schema version version (below
// SchemaVersion) holding the events of src, as the tokenaudit of that
// version would have: its schema is built by the migrations up to version,
// and the rows of events and hashes are copied from src (the columns an
// older schema has hold the same values, the leaf and the stored hashes
// being the same).
func oldLedger(t *testing.T, path string, version int, src *Ledger) {
	t.Helper()
	db := rawDB(t, path)
	for _, q := range migrations[:version] {
		mustExec(t, db, q)
	}
	mustExec(t, db, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", ApplicationID, version))
	mustExec(t, db, "ATTACH DATABASE ? AS src", src.Path())
	mustExec(t, db, "INSERT INTO events ("+eventColumns+") SELECT "+eventColumns+" FROM src.events ORDER BY seq")
	mustExec(t, db, "INSERT INTO hashes (seq, hashes) SELECT seq, hashes FROM src.hashes ORDER BY seq")
	mustExec(t, db, "DETACH DATABASE src")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// realFP returns a fingerprint made from i the way real ones are: the
// SHA-256 of something, so that about half of them have the high bit of
// fingerprint_key set.
func realFP(i int) string { return benchFP(i) }

// TestMigrateFingerprintKey migrates ledgers of schema versions 1 and 2 to
// the current one and checks that the migration computed every event's
// fingerprint_key as AppendBatch does (Verify checks each one against its
// fingerprint), and that every lookup and the report answer as on a ledger
// written by this version.
func TestMigrateFingerprintKey(t *testing.T) {
	src := openTest(t, WithNow(newClock().Now))
	ctx := context.Background()
	var fps []string
	var batch []Event
	for i := range 60 {
		f := realFP(i)
		if i%4 == 0 {
			f = fp(i) // a key shared by all these: high half and most of the low half zero
		}
		fps = append(fps, f)
		batch = append(batch, Event{Kind: KindIssueRequested, CData: fmt.Sprintf("c%d", i%3)},
			Event{Kind: KindImport, Fingerprint: f, CData: fmt.Sprintf("c%d", i%3)})
		if i%3 == 0 {
			batch = append(batch, Event{Kind: KindRevoke, Fingerprint: f})
		}
	}
	if _, err := src.AppendBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	want, err := src.Report(ctx, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for version := 1; version < SchemaVersion; version++ {
		t.Run(fmt.Sprint("from version ", version), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.db")
			oldLedger(t, path, version, src)
			l := openAt(t, path, WithNow(newClock().Now))
			if l.SchemaVersion() != SchemaVersion {
				t.Errorf("schema version %d after migration, want %d", l.SchemaVersion(), SchemaVersion)
			}
			rep, err := l.Verify(ctx)
			if err != nil || !rep.OK() || rep.Head != want.Head {
				t.Fatalf("Verify after migration = %+v, %v; want intact at %v", rep, err, want.Head)
			}
			got, err := l.Report(ctx, ReportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Tokens != want.Tokens || !slices.Equal(got.LiveByCData, want.LiveByCData) {
				t.Errorf("report after migration: %+v %v, want %+v %v", got.Tokens, got.LiveByCData, want.Tokens, want.LiveByCData)
			}
			for _, f := range fps {
				wt, werr := src.Token(ctx, f)
				gt, gerr := l.Token(ctx, f)
				if !reflect.DeepEqual(gt, wt) || (gerr == nil) != (werr == nil) {
					t.Errorf("Token(%s) after migration = %+v, %v; want %+v, %v", f, gt, gerr, wt, werr)
				}
				if p := f[:7+12]; f == realFP(0) || !strings.HasPrefix(f, "sha256:0000") {
					if gt, err := l.Token(ctx, p); err != nil || !reflect.DeepEqual(gt, wt) {
						t.Errorf("Token(%s) after migration = %+v, %v; want %+v", p, gt, err, wt)
					}
				}
			}
			// Appending works on the migrated ledger, and keeps it intact.
			mustAppend(t, l, Event{Kind: KindRevoke, Fingerprint: fps[1]})
			if rep, err := l.Verify(ctx); err != nil || !rep.OK() {
				t.Errorf("Verify after an append to the migrated ledger = %+v, %v", rep, err)
			}
		})
	}
}

// TestFingerprintKeyRanges checks keyRange against fingerprintKey: every
// fingerprint's key lies in the range of each of its prefixes, and outside
// the ranges of prefixes it does not start with, whatever the sign of the
// key.
func TestFingerprintKeyRanges(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	hexDigits := "0123456789abcdef"
	random := func() string {
		b := make([]byte, 64)
		for i := range b {
			b[i] = hexDigits[r.IntN(16)]
		}
		return "sha256:" + string(b)
	}
	for range 2000 {
		f, other := random(), random()
		for n := MinFingerprintPrefix; n <= 64; n++ {
			lo, hi, err := fingerprintRange(f[:7+n])
			if err != nil {
				t.Fatal(err)
			}
			klo, khi := keyRange(lo)
			if k := fingerprintKey(f); k < klo || k > khi {
				t.Fatalf("key %#x of %s is outside %#x..%#x, the range of its prefix %s", k, f, klo, khi, lo)
			}
			if k := fingerprintKey(other); (k >= klo && k <= khi) && !strings.HasPrefix(other, lo[:7+8]) {
				t.Fatalf("key %#x of %s is inside %#x..%#x, the range of %s, which it does not start with", k, other, klo, khi, lo)
			}
			if hi == "" && klo != khi {
				t.Fatalf("a full fingerprint's range %#x..%#x is not one key", klo, khi)
			}
		}
	}
	if k := fingerprintKey("sha256:8000000000000000000000000000000000000000000000000000000000000001"); k != -1<<63|1 {
		t.Errorf("fingerprintKey of sha256:80…01 = %#x, want the sign bit and 1", k)
	}
}
