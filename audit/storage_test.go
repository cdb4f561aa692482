package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// indexLedger writes a closed ledger of a few tokens, issued and some
// revoked, whose pages are all in the database file (none in its -wal),
// and returns its path and the fingerprints.
func indexLedger(t *testing.T) (string, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(path, WithNow(newClock().Now))
	if err != nil {
		t.Fatal(err)
	}
	var fps []string
	var batch []Event
	for i := range 12 {
		fps = append(fps, jwtinspect.Fingerprint(fmt.Sprintf("token-%d", i))) // real keys, 8 bytes each
		batch = append(batch, Event{Kind: KindIssue, Fingerprint: fps[i], CData: fmt.Sprintf("cust-%d", i%3)})
		if i%4 == 0 {
			batch = append(batch, Event{Kind: KindRevoke, Fingerprint: fps[i]})
		}
		if i%3 == 0 { // in the partial index on an expression, events_import_iat
			imp := fp(2000 + i)
			batch = append(batch, Event{Kind: KindImport, Fingerprint: imp, CData: "imported",
				Detail: fmt.Appendf(nil, `{"token_iat":"2024-01-%02dT00:00:00.000000Z"}`, i+1)})
		}
	}
	if _, err := l.AppendBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil { // copies the WAL into the file
		t.Fatal(err)
	}
	return path, fps
}

// indexPage returns the offset and bytes of the root page of index, which
// must be a leaf page (the whole index), read from the file at path.
func indexPage(t *testing.T, path, index string) (int, []byte) {
	t.Helper()
	db := rawDB(t, path)
	var root, size int
	if err := db.QueryRow("SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_schema WHERE name = ?", index).Scan(&root, &size); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := (root - 1) * size
	page := b[off : off+size]
	if page[0] != 0x0a {
		t.Fatalf("index %s: root page %d is of type %#x, not a leaf index page", index, root, page[0])
	}
	return off, page
}

// withByte writes a copy of the file at path, with the byte at off
// changed to v, and returns the copy's path.
func withByte(t *testing.T, path string, off int, v byte) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] = v
	out := filepath.Join(t.TempDir(), "edited.db")
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantDamagedIndex fails unless Verify of the ledger at path reports an
// integrity problem that names index.
func wantDamagedIndex(t *testing.T, path, index, what string) {
	t.Helper()
	l, err := Open(path, WithReadOnly())
	if err != nil {
		if errors.Is(err, ErrNotALedger) {
			return // refused outright: not said intact
		}
		t.Fatalf("%s: Open: %v", what, err)
	}
	defer l.Close()
	rep, err := l.Verify(context.Background())
	var ie *IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("%s: Verify = %v, want an integrity failure", what, err)
	}
	for _, p := range rep.Problems {
		if strings.Contains(p.Problem, index) {
			return
		}
	}
	t.Errorf("%s: no problem names %s: %v", what, index, rep.Problems)
}

func TestVerifyChecksIndexes(t *testing.T) {
	path, fps := indexLedger(t)
	ctx := context.Background()
	off, page := indexPage(t, path, "events_fp")

	// One bit of a revoked token's fingerprint_key, changed in its index
	// entries: lookups, which read the index, no longer find those events;
	// the rows are untouched.
	target := binary.BigEndian.AppendUint64(nil, uint64(fingerprintKey(fps[4])))
	changed := 0
	for _, at := range []int{bytes.Index(page, target), bytes.LastIndex(page, target)} {
		if at < 0 {
			t.Fatal("the fingerprint's key is not in the index page")
		}
		at += len(target) - 1
		edited := withByte(t, path, off+at, page[at]^0x01)
		l, err := Open(edited, WithReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, err := range l.Events(ctx, EventFilter{Fingerprint: fps[4]}) {
			if err != nil {
				t.Fatal(err)
			}
			found++
		}
		l.Close()
		if found != 2 {
			changed++
		}
		wantDamagedIndex(t, edited, "events_fp", "one bit of a fingerprint's key")
	}
	if changed == 0 {
		t.Error("neither edit changed what the ledger answers")
	}

	// For every index of events: every byte of the page header and the
	// cell pointers, and of the first cells, changed one at a time.
	db := rawDB(t, path)
	var indexes []string
	rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		indexes = append(indexes, name)
	}
	rows.Close()
	db.Close()
	if len(indexes) == 0 {
		t.Fatal("no index on events")
	}
	for _, index := range indexes {
		off, page := indexPage(t, path, index)
		cells := int(binary.BigEndian.Uint16(page[3:5]))
		content := int(binary.BigEndian.Uint16(page[5:7])) // where the cells start
		var offsets []int
		for i := range 8 + 2*cells {
			offsets = append(offsets, i)
		}
		for i := content; i < min(len(page), content+60); i++ {
			offsets = append(offsets, i)
		}
		for k, i := range offsets {
			if testing.Short() && k%5 != 0 {
				continue
			}
			wantDamagedIndex(t, withByte(t, path, off+i, page[i]^0x5a), index, fmt.Sprintf("%s: byte %d of the page", index, i))
		}
	}

	// Two cell pointers swapped: the same entries, out of order.
	off, page = indexPage(t, path, "events_fp")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[off+8:off+12], []byte{page[10], page[11], page[8], page[9]})
	swapped := filepath.Join(t.TempDir(), "swapped.db")
	if err := os.WriteFile(swapped, b, 0o600); err != nil {
		t.Fatal(err)
	}
	wantDamagedIndex(t, swapped, "index events_fp is out of order", "swapped cell pointers")

	// The intact ledger still verifies, indexes included.
	l := openAt(t, path, WithReadOnly())
	if _, err := l.Verify(ctx); err != nil {
		t.Fatalf("intact ledger: %v", err)
	}
}

// TestConcurrentVerifies runs more Verifies at once than there are read
// connections: each uses two, so without a bound they would wait on one
// another for ever.
func TestConcurrentVerifies(t *testing.T) {
	l := openTest(t)
	appendN(t, l, 50)
	const n = 3 * readers
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := l.Verify(context.Background())
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestVerifyWhileAppending: the index scans run in snapshots of their own,
// later than Verify's; the entries appended in between must not count.
func TestVerifyWhileAppending(t *testing.T) {
	l := openTest(t)
	appendN(t, l, 200)
	ctx := context.Background()
	done := make(chan error)
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			batch := make([]Event, 20)
			for j := range batch {
				batch[j] = Event{Kind: KindImport, Fingerprint: fp(10_000 + 20*i + j), CData: "c"}
			}
			if _, err := l.AppendBatch(ctx, batch); err != nil {
				done <- err
				return
			}
		}
	}()
	for range 20 {
		if rep, err := l.Verify(ctx); err != nil {
			t.Errorf("Verify while appending: %v (%v)", err, rep.Problems)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestVerifyComparesEveryIndexOfEvents: every index of events, on leaf
// columns or on expressions, partial or not, is compared with the table
// itself, not left to SQLite's integrity_check (three times slower).
func TestVerifyComparesEveryIndexOfEvents(t *testing.T) {
	l := openTest(t)
	ctx := context.Background()
	tx, err := l.r.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	p, err := planStorage(ctx, tx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var compared []string
	for _, c := range p.indexes {
		compared = append(compared, c.name)
	}
	db := rawDB(t, l.Path())
	want := queryStrings(t, db, "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY name")
	if fmt.Sprint(compared) != fmt.Sprint(want) || slices.Contains(p.tables, "events") {
		t.Errorf("compared %v (integrity_check of %v), want every index of events: %v", compared, p.tables, want)
	}
	// Each index is read through itself.
	for _, c := range p.indexes {
		rows, err := db.Query("EXPLAIN QUERY PLAN " + p.indexQuery(c))
		if err != nil {
			t.Fatal(err)
		}
		var plan string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan += detail + "; "
		}
		rows.Close()
		// Covering, but for a partial index whose condition needs the row
		// (events_import_iat: kind = 'import'); the keys still come from
		// the index.
		if !regexp.MustCompile(`\bINDEX ` + regexp.QuoteMeta(c.name) + `\b`).MatchString(plan) {
			t.Errorf("%s: %s", c.name, plan)
		}
	}
}
