package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

// tamperLedgerSize is the number of events in the ledgers the tamper tests edit.
const tamperLedgerSize = 20

// tamperLedger returns a ledger of tamperLedgerSize mixed events, the events
// as appended, and a raw connection with the append-only triggers dropped,
// as an attacker with the file would have.
func tamperLedger(t *testing.T) (*Ledger, []Event, *sql.DB) {
	t.Helper()
	l := openTest(t, WithNow(newClock().Now))
	var batch []Event
	for i := range tamperLedgerSize {
		switch i % 4 {
		case 0:
			batch = append(batch, Event{Kind: KindIssueRequested, CData: fmt.Sprintf("cust-%d", i)})
		case 1:
			req := int64(i - 1)
			batch = append(batch, Event{Kind: KindIssue, Fingerprint: fp(i), CData: fmt.Sprintf("cust-%d", i-1),
				Subject: "user@example.com", RequestSeq: &req, Detail: []byte(`{"claims":{"iat":1}}`)})
		case 2:
			batch = append(batch, Event{Kind: KindRevokeFailed, Fingerprint: fp(i - 1), HTTPStatus: 503, Error: "woleet: server error"})
		case 3:
			batch = append(batch, Event{Kind: KindRevoke, Fingerprint: fp(i - 2), HTTPStatus: 200})
		}
	}
	// Several commits, so that the tree was built across transactions.
	var events []Event
	for len(batch) > 0 {
		n := min(len(batch), 7)
		got, err := l.AppendBatch(context.Background(), batch[:n])
		if err != nil {
			t.Fatal(err)
		}
		events, batch = append(events, got...), batch[n:]
	}
	db := rawDB(t, l.Path())
	dropTriggers(t, db)
	return l, events, db
}

// dropTriggers removes the append-only triggers.
func dropTriggers(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, table := range []string{"events", "hashes", "meta"} {
		mustExec(t, db, fmt.Sprintf("DROP TRIGGER %[1]s_no_update; DROP TRIGGER %[1]s_no_delete", table))
	}
	mustExec(t, db, "DROP TRIGGER events_dense")
}

// mustExec runs SQL on db or fails the test.
func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// restoreTriggers puts back the triggers tamperLedger dropped, so that a
// test exercises the data checks alone.
func restoreTriggers(t *testing.T, db *sql.DB) {
	t.Helper()
	want, err := expectedSchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range want {
		if o.typ == "trigger" {
			mustExec(t, db, "DROP TRIGGER IF EXISTS "+o.name)
			mustExec(t, db, o.sql)
		}
	}
}

// wantIntegrityError checks that err is an *IntegrityError at seq whose
// problem contains substr.
func wantIntegrityError(t *testing.T, rep *VerifyReport, err error, seq int64, substr string) {
	t.Helper()
	var ie *IntegrityError
	if !errors.As(err, &ie) {
		t.Fatalf("Verify() error = %v, want an *IntegrityError", err)
	}
	if ie.Seq != seq || !strings.Contains(ie.Problem, substr) {
		t.Errorf("Verify() = seq %d %q, want seq %d and %q", ie.Seq, ie.Problem, seq, substr)
	}
	if rep == nil || rep.OK() || rep.Problems[0] != ie {
		t.Errorf("report %+v does not lead with the returned error", rep)
	}
	if seq >= 0 && rep != nil && rep.Verified != seq {
		t.Errorf("report says %d events verified, want %d", rep.Verified, seq)
	}
}

// leafHashOf returns the leaf hash of e.
func leafHashOf(e Event) []byte {
	h := tlog.RecordHash(e.LeafBytes())
	return h[:]
}

func TestVerifyCatchesTampering(t *testing.T) {
	const k = 7 // 0b111: completes subtrees at levels 1, 2 and 3
	for _, tc := range []struct {
		name   string
		edit   func(t *testing.T, db *sql.DB, events []Event)
		seq    int64
		substr string
	}{
		{"update a column", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "UPDATE events SET cdata = 'someone-else' WHERE seq = ?", k)
		}, k, "does not match its leaf_hash"},
		{"update the ts", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "UPDATE events SET ts = '2020-01-01T00:00:00.000000Z' WHERE seq = ?", k)
		}, k, "does not match its leaf_hash"},
		{"set a NULL column", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "UPDATE events SET http_status = 200 WHERE seq = ?", 1)
		}, 1, "does not match its leaf_hash"},
		{"update a column and its leaf_hash", func(t *testing.T, db *sql.DB, events []Event) {
			e := events[k]
			e.CData = "someone-else"
			mustExec(t, db, "UPDATE events SET cdata = ?, leaf_hash = ? WHERE seq = ?", e.CData, leafHashOf(e), k)
		}, k, "the leaf hash of seq 7"},
		{"update a column, its leaf_hash and its stored leaf hash", func(t *testing.T, db *sql.DB, events []Event) {
			e := events[k]
			e.CData = "someone-else"
			h := leafHashOf(e)
			mustExec(t, db, "UPDATE events SET cdata = ?, leaf_hash = ? WHERE seq = ?", e.CData, h, k)
			mustExec(t, db, "UPDATE hashes SET hashes = CAST(? || substr(hashes, 33) AS BLOB) WHERE seq = ?", h, k)
		}, k, "tree level 1, over seq 6 to 7"},
		{"delete a row in the middle", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "DELETE FROM events WHERE seq = ?", k)
		}, k, "event is missing (the next row has seq 8)"},
		{"delete the last row", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "DELETE FROM events WHERE seq = ?", tamperLedgerSize-1)
		}, tamperLedgerSize - 1, "beyond the last event"},
		{"delete the first row", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "DELETE FROM events WHERE seq = 0")
		}, 0, "event is missing (the next row has seq 1)"},
		{"insert a row in the middle", func(t *testing.T, db *sql.DB, events []Event) {
			mustExec(t, db, "UPDATE events SET seq = seq + 1000 WHERE seq >= ?", k)
			mustExec(t, db, "UPDATE events SET seq = seq - 999 WHERE seq >= 1000")
			forged := events[k]
			forged.CData = "forged"
			insertRaw(t, db, forged)
		}, k, "the leaf hash of seq 7"},
		{"append a row with a gap", func(t *testing.T, db *sql.DB, events []Event) {
			e := events[0]
			e.Seq = tamperLedgerSize + 3
			insertRaw(t, db, e)
		}, tamperLedgerSize, "event is missing (the next row has seq 23)"},
		{"append a forged row without stored hashes", func(t *testing.T, db *sql.DB, events []Event) {
			e := events[0]
			e.Seq = tamperLedgerSize
			insertRaw(t, db, e)
		}, tamperLedgerSize, "the stored hashes of seq 20 are missing"},
		{"swap two rows", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "UPDATE events SET seq = 1000 WHERE seq = 4")
			mustExec(t, db, "UPDATE events SET seq = 4 WHERE seq = 6")
			mustExec(t, db, "UPDATE events SET seq = 6 WHERE seq = 1000")
		}, 4, "does not match its leaf_hash"},
		{"overwrite an interior hash", func(t *testing.T, db *sql.DB, _ []Event) {
			// Stored hash (2, 1) is the third hash of seq 7's row.
			mustExec(t, db, "UPDATE hashes SET hashes = CAST(substr(hashes, 1, 64) || zeroblob(32) || substr(hashes, 97) AS BLOB) WHERE seq = ?", k)
		}, 7, "tree level 2, over seq 4 to 7"},
		{"delete a stored hash", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "DELETE FROM hashes WHERE seq = 12")
		}, 12, "the stored hashes of seq 12 are missing (the next row is for seq 13)"},
		{"truncate a row of stored hashes", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "UPDATE hashes SET hashes = substr(hashes, 1, 32) WHERE seq = 11")
		}, 11, "are 32 bytes, not 96"},
		{"change a fingerprint_key", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "UPDATE events SET fingerprint_key = fingerprint_key + 1 WHERE seq = 5")
		}, 5, "fingerprint_key does not match the fingerprint"},
		{"clear a fingerprint_key", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "UPDATE events SET fingerprint_key = NULL WHERE seq = 9")
		}, 9, "fingerprint_key does not match the fingerprint"},
		{"give a fingerprint_key to an event without a fingerprint", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "UPDATE events SET fingerprint_key = 0 WHERE seq = 8")
		}, 8, "fingerprint_key does not match the fingerprint"},
		{"add a stored hash", func(t *testing.T, db *sql.DB, _ []Event) {
			mustExec(t, db, "INSERT INTO hashes (seq, hashes) VALUES (?, zeroblob(32))", tamperLedgerSize)
		}, tamperLedgerSize, "beyond the last event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, events, db := tamperLedger(t)
			tc.edit(t, db, events)
			restoreTriggers(t, db)
			rep, err := l.Verify(context.Background())
			wantIntegrityError(t, rep, err, tc.seq, tc.substr)
			if len(rep.Problems) != 1 {
				t.Errorf("problems = %v, want just one", rep.Problems)
			}
		})
	}
}

func TestVerifyCatchesSchemaChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   string
		substr string
	}{
		{"drop the triggers", "", "trigger events_dense is missing"},
		{"alter the view", "DROP VIEW tokens; CREATE VIEW tokens AS SELECT fingerprint, 'revoked' AS state FROM events", "view tokens was altered"},
		{"add a trigger", "CREATE TRIGGER sneaky AFTER INSERT ON events BEGIN SELECT 1; END", "unexpected trigger sneaky"},
		{"drop an index", "DROP INDEX events_cdata", "index events_cdata is missing"},
		{"change user_version", "PRAGMA user_version = 7", "user_version 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _, db := tamperLedger(t)
			if tc.edit != "" {
				restoreTriggers(t, db)
				mustExec(t, db, tc.edit)
			}
			rep, err := l.Verify(context.Background())
			wantIntegrityError(t, rep, err, -1, tc.substr)
			if rep.Verified != tamperLedgerSize {
				t.Errorf("verified %d events, want %d", rep.Verified, tamperLedgerSize)
			}
		})
	}
}

// TestVerifyEveryStoredHash flips a bit in each stored hash in turn and
// requires Verify to stop at the last seq the hash covers.
func TestVerifyEveryStoredHash(t *testing.T) {
	l, _, db := tamperLedger(t)
	ctx := context.Background()
	for id := range tlog.StoredHashCount(tamperLedgerSize) {
		flipHashBit(t, db, id)
		level, k := tlog.SplitStoredHashIndex(id)
		rep, err := l.Verify(ctx)
		wantIntegrityError(t, rep, err, (k+1)<<level-1, describeHash(id))
		flipHashBit(t, db, id)
	}
	restoreTriggers(t, db)
	if _, err := l.Verify(ctx); err != nil {
		t.Fatalf("after restoring every hash: %v", err)
	}
}

// TestVerifyEveryRow changes one column of each row in turn.
func TestVerifyEveryRow(t *testing.T) {
	l, _, db := tamperLedger(t)
	ctx := context.Background()
	for seq := range int64(tamperLedgerSize) {
		mustExec(t, db, "UPDATE events SET actor = actor || '!' WHERE seq = ?", seq)
		rep, err := l.Verify(ctx)
		wantIntegrityError(t, rep, err, seq, "does not match its leaf_hash")
		mustExec(t, db, "UPDATE events SET actor = substr(actor, 1, length(actor) - 1) WHERE seq = ?", seq)
	}
}

func TestVerifyTruncationNeedsAnEarlierHead(t *testing.T) {
	l, _, db := tamperLedger(t)
	ctx := context.Background()
	before, err := l.TreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Remove the last event and exactly its stored hashes: a consistent,
	// smaller tree. Verify alone cannot see it; the head differs.
	last := int64(tamperLedgerSize - 1)
	mustExec(t, db, "DELETE FROM events WHERE seq = ?", last)
	mustExec(t, db, "DELETE FROM hashes WHERE seq = ?", last)
	restoreTriggers(t, db)
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := l.TreeHead(ctx)
	if rep.Head != after || after.Size != last || after.Hash == before.Hash {
		t.Errorf("after truncation: report head %v, tree head %v, before %v", rep.Head, after, before)
	}
}

// flipHashBit flips the low bit of the last byte of stored hash id.
func flipHashBit(t *testing.T, db *sql.DB, id int64) {
	t.Helper()
	seq, pos := storedHashRow(id)
	var h []byte
	if err := db.QueryRow("SELECT hashes FROM hashes WHERE seq = ?", seq).Scan(&h); err != nil {
		t.Fatal(err)
	}
	h[(pos+1)*tlog.HashSize-1] ^= 1
	mustExec(t, db, "UPDATE hashes SET hashes = ? WHERE seq = ?", h, seq)
}

// insertRaw inserts e, with a correct leaf_hash for its own fields, bypassing
// the library.
func insertRaw(t *testing.T, db *sql.DB, e Event) {
	t.Helper()
	r := e.row()
	var args []any
	for _, a := range appendEventArgs(nil, &e, &r, leafHashOf(e)) {
		args = append(args, a.Value)
	}
	mustExec(t, db, insertSQL("events", insertColumns, insertArgs, 1), args...)
}

// TestHashReaderServesProofs checks that the stored hashes, read through
// Ledger.HashReader, prove every record and every earlier tree head with
// tlog's proof functions, as signed checkpoints will need.
func TestHashReaderServesProofs(t *testing.T) {
	l := openTest(t)
	ctx := context.Background()
	var heads []TreeHead
	var leaves []tlog.Hash
	for i := range 33 {
		e := mustAppend(t, l, Event{Kind: KindImport, Fingerprint: fp(i), CData: fmt.Sprint(i)})
		leaves = append(leaves, tlog.RecordHash(e.LeafBytes()))
		th, err := l.TreeHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, th)
	}
	hr := l.HashReader(ctx)
	last := heads[len(heads)-1]
	for n, leaf := range leaves {
		p, err := tlog.ProveRecord(last.Size, int64(n), hr)
		if err != nil {
			t.Fatalf("ProveRecord(%d): %v", n, err)
		}
		if err := tlog.CheckRecord(p, last.Size, last.Hash, int64(n), leaf); err != nil {
			t.Errorf("record %d: %v", n, err)
		}
	}
	for _, old := range heads {
		p, err := tlog.ProveTree(last.Size, old.Size, hr)
		if err != nil {
			t.Fatalf("ProveTree(%d): %v", old.Size, err)
		}
		if err := tlog.CheckTree(p, last.Size, last.Hash, old.Size, old.Hash); err != nil {
			t.Errorf("tree %d: %v", old.Size, err)
		}
	}
	if _, err := hr.ReadHashes([]int64{tlog.StoredHashCount(last.Size)}); err == nil {
		t.Error("ReadHashes beyond the tree succeeded")
	}
}

// TestVerifyIntactWithRealFingerprints: an intact ledger of tokens with
// real fingerprints (half of whose keys are negative integers) verifies:
// the index order check compares integer keys as integers.
func TestVerifyIntactWithRealFingerprints(t *testing.T) {
	l := openTest(t)
	ctx := context.Background()
	var batch []Event
	for i := range 300 {
		batch = append(batch, Event{Kind: KindImport, Fingerprint: jwtinspect.Fingerprint(fmt.Sprintf("token-%d", i)), CData: fmt.Sprintf("c%d", i%7)})
	}
	if _, err := l.AppendBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify() = %+v, %v", rep, err)
	}
}
