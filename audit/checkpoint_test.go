package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// testKey generates a checkpoint key named name and returns its signer
// and its verifiers.
func testKey(t testing.TB, name string) (note.Signer, note.Verifiers) {
	t.Helper()
	return keyFrom(t, rand.Reader, name)
}

// keyFrom generates a checkpoint key from the randomness of r.
func keyFrom(t testing.TB, r io.Reader, name string) (note.Signer, note.Verifiers) {
	t.Helper()
	skey, vkey, err := GenerateCheckpointKey(r, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, note.VerifierList(v)
}

// appendN appends n import events in one batch.
func appendN(t testing.TB, l *Ledger, n int) []Event {
	t.Helper()
	size, err := l.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]Event, n)
	for i := range batch {
		batch[i] = Event{Kind: KindImport, Fingerprint: fp(int(size) + i), CData: fmt.Sprintf("cust-%d", int(size)+i),
			Detail: []byte(`{"source":"<test> & co"}`)}
	}
	got, err := l.AppendBatch(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// mustCheckpoint signs and stores a checkpoint or fails the test.
func mustCheckpoint(t testing.TB, l *Ledger, s note.Signer) *StoredCheckpoint {
	t.Helper()
	sc, err := l.Checkpoint(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// rewriteLedger rebuilds the ledger behind the library's back, as someone
// holding the file could: the same events with edit applied to each, every
// leaf hash and stored hash recomputed, the triggers put back. With
// dropCheckpoints, the stored checkpoints go too. Verify cannot tell.
func rewriteLedger(t *testing.T, l *Ledger, edit func(*Event), dropCheckpoints bool) {
	t.Helper()
	ctx := context.Background()
	var events []Event
	for e, err := range l.Events(ctx, EventFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		edit(&e)
		events = append(events, e)
	}
	db := rawDB(t, l.Path())
	dropTriggers(t, db)
	mustExec(t, db, "DROP TRIGGER checkpoints_no_delete")
	mustExec(t, db, "DELETE FROM hashes")
	mustExec(t, db, "DELETE FROM events")
	if dropCheckpoints {
		mustExec(t, db, "DELETE FROM checkpoints")
	}
	conn, err := db.Conn(ctx) // released below: the pool has one connection
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	now := func() time.Time { ts := events[i].TS; i++; return ts }
	if err := appendTx(ctx, conn, tx, events, now); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	restoreTriggers(t, db)
}

// cutTail removes the events from seq on, with their stored hashes and,
// with dropCheckpoints, the checkpoints that sign them: a consistent,
// smaller tree.
func cutTail(t *testing.T, l *Ledger, seq int64, dropCheckpoints bool) {
	t.Helper()
	db := rawDB(t, l.Path())
	dropTriggers(t, db)
	mustExec(t, db, "DROP TRIGGER checkpoints_no_delete")
	mustExec(t, db, "DELETE FROM events WHERE seq >= ?", seq)
	mustExec(t, db, "DELETE FROM hashes WHERE seq >= ?", seq)
	if dropCheckpoints {
		mustExec(t, db, "DELETE FROM checkpoints WHERE tree_size > ?", seq)
	}
	restoreTriggers(t, db)
}

func TestFormatCheckpointIsTlogsTreeNote(t *testing.T) {
	h := tlog.RecordHash([]byte("x"))
	got, err := FormatCheckpoint(Checkpoint{Origin: "go.sum database tree", Size: 1234, Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	if want := tlog.FormatTree(tlog.Tree{N: 1234, Hash: h}); !bytes.Equal(got, want) {
		t.Errorf("FormatCheckpoint = %q, tlog.FormatTree = %q", got, want)
	}
	tree, err := tlog.ParseTree(got)
	if err != nil || tree.N != 1234 || tree.Hash != h {
		t.Errorf("tlog.ParseTree(%q) = %v, %v", got, tree, err)
	}
}

func TestParseCheckpoint(t *testing.T) {
	const root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
	for _, tc := range []struct {
		text string
		want Checkpoint
	}{
		{"example.com/behind-the-sofa\n20852163\n" + root + "\n", Checkpoint{Origin: "example.com/behind-the-sofa", Size: 20852163}},
		{"tokenaudit/00ff\n0\n" + root + "\n", Checkpoint{Origin: "tokenaudit/00ff", Size: 0}},
		{"o\n1\n" + root + "\nx-ext one\nsecond\n", Checkpoint{Origin: "o", Size: 1, Extensions: []string{"x-ext one", "second"}}},
		{"un été\n7\n" + root + "\n", Checkpoint{Origin: "un été", Size: 7}},
	} {
		c, err := ParseCheckpoint([]byte(tc.text))
		if err != nil {
			t.Errorf("ParseCheckpoint(%q): %v", tc.text, err)
			continue
		}
		if c.Origin != tc.want.Origin || c.Size != tc.want.Size || fmt.Sprint(c.Extensions) != fmt.Sprint(tc.want.Extensions) ||
			c.Hash.String() != root {
			t.Errorf("ParseCheckpoint(%q) = %+v", tc.text, c)
		}
		back, err := FormatCheckpoint(c)
		if err != nil || string(back) != tc.text {
			t.Errorf("FormatCheckpoint(ParseCheckpoint(%q)) = %q, %v", tc.text, back, err)
		}
	}
	for _, tc := range []struct{ text, substr string }{
		{"", "does not end with a newline"},
		{"o\n1\n" + root, "does not end with a newline"},
		{"o\n1\n", "2 lines"},
		{"\n1\n" + root + "\n", "empty origin"},
		{"o\n01\n" + root + "\n", "tree size"},
		{"o\n-1\n" + root + "\n", "tree size"},
		{"o\n+1\n" + root + "\n", "tree size"},
		{"o\n 1\n" + root + "\n", "tree size"},
		{"o\n99999999999999999999\n" + root + "\n", "tree size"},
		{"o\n1\n" + strings.TrimSuffix(root, "=") + "\n", "root hash"},
		{"o\n1\nAAAA\n", "root hash"},
		{"o\n1\n" + strings.Replace(root, "I=", "J=", 1) + "\n", "root hash"}, // non-zero padding bits
		{"o\n1\n" + root + "\n\n", "empty extension line 1"},
		{"o\n1\n" + root + "\next\n\n", "empty extension line 2"},
		{"o\r\n1\n" + root + "\n", "control character"},
		{"o\x00\n1\n" + root + "\n", "control character"},
		{"o\xff\n1\n" + root + "\n", "not valid UTF-8"},
		{"o\n1\n" + root + "\n" + strings.Repeat("x", MaxCheckpointSize) + "\n", "more than"},
	} {
		_, err := ParseCheckpoint([]byte(tc.text))
		if !errors.Is(err, ErrMalformedCheckpoint) || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("ParseCheckpoint(%q) = %v, want ErrMalformedCheckpoint with %q", truncate(tc.text, 60), err, tc.substr)
		}
	}
	for _, c := range []Checkpoint{{Origin: ""}, {Origin: "a\nb"}, {Origin: "o", Size: -1}, {Origin: "o", Extensions: []string{""}}} {
		if _, err := FormatCheckpoint(c); !errors.Is(err, ErrMalformedCheckpoint) {
			t.Errorf("FormatCheckpoint(%+v) = %v, want ErrMalformedCheckpoint", c, err)
		}
	}
}

func TestGenerateCheckpointKey(t *testing.T) {
	for _, name := range []string{"", "a b", "a+b", "tab\there", "esc\x1b[31m", "nel\u0085", "\xff", strings.Repeat("n", 201)} {
		if _, _, err := GenerateCheckpointKey(rand.Reader, name); err == nil {
			t.Errorf("GenerateCheckpointKey(%q) succeeded", name)
		}
	}
	skey, vkey, err := GenerateCheckpointKey(rand.Reader, "ops.example.com/tokenaudit")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(skey, "PRIVATE+KEY+ops.example.com/tokenaudit+") || !strings.HasPrefix(vkey, "ops.example.com/tokenaudit+") ||
		strings.Contains(vkey, skey[len("PRIVATE+KEY+ops.example.com/tokenaudit+00000000+"):]) {
		t.Errorf("keys %q… and %q do not have the signed-note forms", skey[:24], vkey)
	}
	if _, _, err := GenerateCheckpointKey(nil, "x"); err == nil {
		t.Error("GenerateCheckpointKey(nil, …) succeeded")
	}
}

func TestCheckpointSignOpenVerify(t *testing.T) {
	l := openTest(t, WithNow(newClock().Now))
	ctx := context.Background()
	s, vs := testKey(t, "ops.example.com/tokenaudit")
	appendN(t, l, 9)
	sc := mustCheckpoint(t, l, s)
	origin, err := l.Origin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "tokenaudit/"+info.LedgerID || sc.Origin != origin || sc.Head() != info.Head || sc.ID != 1 ||
		sc.Signer != fmt.Sprintf("%s+%08x", s.Name(), s.KeyHash()) || !sc.TS.Equal(time.Date(2025, 1, 2, 3, 4, 14, 0, time.UTC)) {
		t.Errorf("Checkpoint = %+v; origin %q, head %v", sc, origin, info.Head)
	}
	text, _ := FormatCheckpoint(sc.Checkpoint)
	if !bytes.HasPrefix(sc.Note, append(text, '\n')) || !bytes.Contains(sc.Note, []byte("\n— ops.example.com/tokenaudit ")) {
		t.Errorf("note = %q", sc.Note)
	}

	opened, err := OpenCheckpoint(sc.Note, vs)
	if err != nil {
		t.Fatal(err)
	}
	if opened.Head() != sc.Head() || opened.Origin != origin || len(opened.Signers) != 1 || opened.Signers[0] != sc.Signer {
		t.Errorf("OpenCheckpoint = %+v", opened)
	}
	head, err := l.VerifyCheckpoint(ctx, opened.Checkpoint)
	if err != nil || head != info.Head {
		t.Errorf("VerifyCheckpoint = %v, %v", head, err)
	}
	// The ledger grows: the checkpoint still holds.
	appendN(t, l, 7)
	if head, err := l.VerifyCheckpoint(ctx, opened.Checkpoint); err != nil || head.Size != 16 {
		t.Errorf("after growth: VerifyCheckpoint = %v, %v", head, err)
	}
	if rep, err := l.Verify(ctx); err != nil || !rep.OK() {
		t.Errorf("Verify = %v", err)
	}
}

func TestOpenCheckpointRefusesForgeries(t *testing.T) {
	l := openTest(t)
	s, vs := testKey(t, "ops")
	appendN(t, l, 5)
	sc := mustCheckpoint(t, l, s)
	// Another key with the same name: its signature is not the trusted key's.
	mallory, _ := testKey(t, "ops")
	c := sc.Checkpoint
	c.Hash[0] ^= 1
	forgedByName, err := SignCheckpoint(c, mallory)
	if err != nil {
		t.Fatal(err)
	}
	// The trusted key's signature over another text.
	lines := strings.SplitAfter(string(sc.Note), "\n")
	lines[1] = "6\n"
	altered := strings.Join(lines, "")
	// A flipped bit in the signature itself.
	sig := bytes.LastIndexByte(sc.Note[:len(sc.Note)-1], ' ') + 1
	flipped := bytes.Clone(sc.Note)
	flipped[sig+10] ^= 1 // a base64 letter; 'A'..'z' flipped stays a letter
	if flipped[sig+10] == '\n' {
		t.Fatal("bad flip")
	}
	for _, tc := range []struct {
		name, msg, substr string
		verifiers         note.Verifiers
		want              error
	}{
		{"signed by a key of the same name", string(forgedByName), "none of them a trusted key", vs, ErrCheckpointSignature},
		{"text altered after signing", altered, "does not match the checkpoint", vs, ErrCheckpointSignature},
		{"signature flipped", string(flipped), "", vs, nil},
		{"no verifiers", string(sc.Note), "no trusted verifier key", nil, ErrCheckpointSignature},
		{"unsigned text", string(sc.Note[:bytes.Index(sc.Note, []byte("\n\n"))+1]), "not a signed note", vs, ErrMalformedCheckpoint},
		{"garbage", "hello", "not a signed note", vs, ErrMalformedCheckpoint},
		{"signed non-checkpoint", string(mustSign(t, "just words\n", s)), "lines", vs, ErrMalformedCheckpoint},
	} {
		_, err := OpenCheckpoint([]byte(tc.msg), tc.verifiers)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%s: OpenCheckpoint succeeded", tc.name)
		case tc.want == nil:
			// A flipped signature is either malformed base64 or a bad signature.
			if !errors.Is(err, ErrCheckpointSignature) && !errors.Is(err, ErrMalformedCheckpoint) {
				t.Errorf("%s: OpenCheckpoint = %v", tc.name, err)
			}
		case !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.substr):
			t.Errorf("%s: OpenCheckpoint = %v, want %v with %q", tc.name, err, tc.want, tc.substr)
		}
	}
	// A note signed by both an unknown key and the trusted one opens.
	both, err := note.Sign(&note.Note{Text: string(sc.Note[:bytes.Index(sc.Note, []byte("\n\n"))+1])}, mallory, s)
	if err != nil {
		t.Fatal(err)
	}
	if sc2, err := OpenCheckpoint(both, vs); err != nil || len(sc2.Signers) != 1 || sc2.Signers[0] != sc.Signer {
		t.Errorf("OpenCheckpoint(cosigned) = %+v, %v", sc2, err)
	}
}

// mustSign signs text with s.
func mustSign(t *testing.T, text string, s note.Signer) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestVerifyCheckpointRefusesAnotherLedger(t *testing.T) {
	a, b := openTest(t), openTest(t)
	s, vs := testKey(t, "ops")
	appendN(t, a, 4)
	appendN(t, b, 4)
	sc, err := OpenCheckpoint(mustCheckpoint(t, a, s).Note, vs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.VerifyCheckpoint(context.Background(), sc.Checkpoint); !errors.Is(err, ErrWrongLedger) {
		t.Errorf("VerifyCheckpoint of another ledger's checkpoint = %v, want ErrWrongLedger", err)
	}
	if _, err := b.ProveEvent(context.Background(), 0, sc.Note); !errors.Is(err, ErrWrongLedger) {
		t.Errorf("ProveEvent with another ledger's checkpoint = %v, want ErrWrongLedger", err)
	}
}

// wantConsistencyError checks that err is a *ConsistencyError of the
// given sizes.
func wantConsistencyError(t *testing.T, err error, checkpoint, ledger int64, truncated bool) {
	t.Helper()
	var ce *ConsistencyError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v, want a *ConsistencyError", err)
	}
	if ce.Checkpoint.Size != checkpoint || ce.Ledger.Size != ledger || ce.Truncated() != truncated {
		t.Errorf("ConsistencyError = %+v (%v), want checkpoint %d, ledger %d, truncated %v", ce, ce, checkpoint, ledger, truncated)
	}
	want := "history was rewritten"
	if truncated {
		want = "events were removed from the end"
	}
	if !strings.Contains(ce.Error(), want) {
		t.Errorf("Error() = %q, want %q", ce.Error(), want)
	}
}

func TestVerifyCheckpointCatchesRewrittenHistory(t *testing.T) {
	l := openTest(t, WithNow(newClock().Now))
	ctx := context.Background()
	s, vs := testKey(t, "ops")
	// Checkpoints at sizes 1 to 20, kept elsewhere.
	var kept []*SignedCheckpoint
	for range 20 {
		appendN(t, l, 1)
		sc, err := OpenCheckpoint(mustCheckpoint(t, l, s).Note, vs)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, sc)
	}
	const changed = 11
	rewriteLedger(t, l, func(e *Event) {
		if e.Seq == changed {
			e.CData = "mallory"
		}
	}, true)
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK() || rep.Verified != 20 {
		t.Fatalf("Verify of the rewritten ledger = %+v, %v; want it to pass", rep, err)
	}
	for _, sc := range kept {
		_, err := l.VerifyCheckpoint(ctx, sc.Checkpoint)
		if sc.Size <= changed {
			// These events are untouched: the checkpoint still holds.
			if err != nil {
				t.Errorf("checkpoint of %d events: %v", sc.Size, err)
			}
			continue
		}
		wantConsistencyError(t, err, sc.Size, 20, false)
	}
}

func TestVerifyCheckpointCatchesTailCut(t *testing.T) {
	l := openTest(t)
	ctx := context.Background()
	s, vs := testKey(t, "ops")
	appendN(t, l, 17)
	sc, err := OpenCheckpoint(mustCheckpoint(t, l, s).Note, vs)
	if err != nil {
		t.Fatal(err)
	}
	cutTail(t, l, 14, true)
	if rep, err := l.Verify(ctx); err != nil || rep.Verified != 14 {
		t.Fatalf("Verify after the cut = %+v, %v; want it to pass", rep, err)
	}
	_, err = l.VerifyCheckpoint(ctx, sc.Checkpoint)
	wantConsistencyError(t, err, 17, 14, true)
	if _, err := l.ProveEvent(ctx, 3, sc.Note); !errors.As(err, new(*ConsistencyError)) {
		t.Errorf("ProveEvent after the cut = %v, want a *ConsistencyError", err)
	}
	// Cut and regrown to the same size, with other events: still caught.
	appendN(t, l, 3)
	_, err = l.VerifyCheckpoint(ctx, sc.Checkpoint)
	wantConsistencyError(t, err, 17, 17, false)
}

func TestVerifyChecksStoredCheckpoints(t *testing.T) {
	s, _ := testKey(t, "ops")
	for _, tc := range []struct {
		name   string
		edit   func(t *testing.T, l *Ledger)
		substr string
	}{
		{"tail cut, checkpoints left", func(t *testing.T, l *Ledger) { cutTail(t, l, 12, false) },
			"checkpoint 2 signs 15 events, but the ledger holds 12: events were removed from the end (and 1 more checkpoint(s) fail)"},
		{"rewrite, checkpoints left", func(t *testing.T, l *Ledger) {
			rewriteLedger(t, l, func(e *Event) {
				if e.Seq == 6 {
					e.Subject = "forged"
				}
			}, false)
		}, "checkpoint 2 does not match the ledger's first 15 events: history was rewritten (and 1 more checkpoint(s) fail)"},
		{"note altered", func(t *testing.T, l *Ledger) {
			db := rawDB(t, l.Path())
			mustExec(t, db, "DROP TRIGGER checkpoints_no_update")
			mustExec(t, db, "UPDATE checkpoints SET note = replace(note, '\n15\n', '\n14\n') WHERE id = 2")
			restoreTriggers(t, db)
		}, "checkpoint 2: its tree_size and root_hash columns differ from its note"},
		{"note and columns altered", func(t *testing.T, l *Ledger) {
			db := rawDB(t, l.Path())
			mustExec(t, db, "DROP TRIGGER checkpoints_no_update")
			mustExec(t, db, "UPDATE checkpoints SET note = replace(note, '\n15\n', '\n14\n'), tree_size = 14 WHERE id = 2")
			restoreTriggers(t, db)
		}, "checkpoint 2 does not match the ledger's first 14 events"},
		{"another ledger's checkpoint", func(t *testing.T, l *Ledger) {
			other := openTest(t)
			appendN(t, other, 3)
			sc := mustCheckpoint(t, other, s)
			db := rawDB(t, l.Path())
			mustExec(t, db, "INSERT INTO checkpoints (ts, tree_size, root_hash, signer, note) VALUES ('2025-01-01T00:00:00.000000Z', 3, ?, 'x', ?)",
				sc.Hash[:], string(sc.Note))
		}, "checkpoint 4 is of another ledger"},
		{"garbage note", func(t *testing.T, l *Ledger) {
			db := rawDB(t, l.Path())
			mustExec(t, db, "INSERT INTO checkpoints (ts, tree_size, root_hash, signer, note) VALUES ('2025-01-01T00:00:00.000000Z', 3, zeroblob(32), 'x', 'hello')")
		}, "checkpoint 4: malformed checkpoint: not a signed note"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openTest(t)
			for _, n := range []int{5, 10, 5} {
				appendN(t, l, n)
				mustCheckpoint(t, l, s)
			}
			tc.edit(t, l)
			rep, err := l.Verify(context.Background())
			wantIntegrityError(t, rep, err, -1, tc.substr)
			if len(rep.Problems) != 1 {
				t.Errorf("problems = %v, want one", rep.Problems)
			}
		})
	}
}

func TestCheckpointsTableIsAppendOnly(t *testing.T) {
	l := openTest(t)
	s, _ := testKey(t, "ops")
	appendN(t, l, 3)
	mustCheckpoint(t, l, s)
	db := rawDB(t, l.Path())
	for _, stmt := range []string{
		"UPDATE checkpoints SET tree_size = 2",
		"DELETE FROM checkpoints",
		"INSERT INTO checkpoints (ts, tree_size, root_hash, signer, note) VALUES ('2025-01-01T00:00:00.000000Z', 4, zeroblob(32), 'x', 'n')",
		"INSERT INTO checkpoints (ts, tree_size, root_hash, signer, note) VALUES ('2025-01-01T00:00:00.000000Z', 1, zeroblob(31), 'x', 'n')",
		"INSERT INTO checkpoints (ts, tree_size, root_hash, signer, note) VALUES ('yesterday', 1, zeroblob(32), 'x', 'n')",
	} {
		if _, err := db.Exec(stmt); err == nil {
			t.Errorf("%s: succeeded", stmt)
		}
	}
	if _, err := l.Verify(context.Background()); err != nil {
		t.Errorf("Verify after refused edits: %v", err)
	}
}

func TestCheckpointsAndLatest(t *testing.T) {
	l := openTest(t)
	ctx := context.Background()
	s, vs := testKey(t, "ops")
	if _, err := l.LatestCheckpoint(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("LatestCheckpoint of a ledger without any = %v, want ErrNotFound", err)
	}
	empty := mustCheckpoint(t, l, s) // an empty tree may be signed too
	if empty.Size != 0 {
		t.Errorf("checkpoint of an empty ledger has size %d", empty.Size)
	}
	if _, err := l.VerifyCheckpoint(ctx, empty.Checkpoint); err != nil {
		t.Errorf("VerifyCheckpoint(empty) = %v", err)
	}
	var sizes []int64
	for _, n := range []int{2, 3, 1} {
		appendN(t, l, n)
		sizes = append(sizes, mustCheckpoint(t, l, s).Size)
	}
	var got []int64
	for sc, err := range l.Checkpoints(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenCheckpoint(sc.Note, vs); err != nil {
			t.Errorf("stored checkpoint %d: %v", sc.ID, err)
		}
		got = append(got, sc.Size)
	}
	if fmt.Sprint(got) != fmt.Sprint(append([]int64{0}, sizes...)) {
		t.Errorf("Checkpoints sizes = %v, want 0 then %v", got, sizes)
	}
	latest, err := l.LatestCheckpoint(ctx)
	if err != nil || latest.Size != 6 || latest.ID != 4 {
		t.Errorf("LatestCheckpoint = %+v, %v", latest, err)
	}
	ro := openAt(t, l.Path(), WithReadOnly())
	if _, err := ro.Checkpoint(ctx, s); !errors.Is(err, ErrLedgerReadOnly) {
		t.Errorf("Checkpoint on a read-only ledger = %v", err)
	}
	if _, err := l.Checkpoint(ctx, nil); err == nil {
		t.Error("Checkpoint(nil) succeeded")
	}
}

func TestAutoCheckpoint(t *testing.T) {
	s, vs := testKey(t, "auto")
	for _, bad := range []Option{WithAutoCheckpoint(nil, 5), WithAutoCheckpoint(s, 0)} {
		if _, err := Open(t.TempDir()+"/l.db", bad); err == nil {
			t.Error("Open with a bad WithAutoCheckpoint succeeded")
		}
	}
	l := openTest(t, WithAutoCheckpoint(s, 5))
	ctx := context.Background()
	for range 12 {
		appendN(t, l, 1)
	}
	appendN(t, l, 7)  // 19: 9 past the checkpoint at 10
	appendN(t, l, 1)  // 20
	appendN(t, l, 20) // 40
	var sizes []int64
	for sc, err := range l.Checkpoints(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenCheckpoint(sc.Note, vs); err != nil {
			t.Error(err)
		}
		sizes = append(sizes, sc.Size)
	}
	if fmt.Sprint(sizes) != "[5 10 19 40]" {
		t.Errorf("automatic checkpoints at sizes %v, want [5 10 19 40]", sizes)
	}
	if _, err := l.Verify(ctx); err != nil {
		t.Error(err)
	}
	// A process without the key appends; the next one with it catches up.
	l.Close()
	plain := openAt(t, l.Path())
	appendN(t, plain, 8)
	plain.Close()
	again := openAt(t, l.Path(), WithAutoCheckpoint(s, 5))
	appendN(t, again, 1)
	if latest, err := again.LatestCheckpoint(ctx); err != nil || latest.Size != 49 {
		t.Errorf("LatestCheckpoint = %+v, %v; want size 49", latest, err)
	}
}

// failingSigner is a note.Signer whose Sign fails.
type failingSigner struct{ note.Signer }

func (failingSigner) Sign([]byte) ([]byte, error) { return nil, errors.New("the HSM is unplugged") }

func TestAutoCheckpointFailureFailsTheWrite(t *testing.T) {
	s, _ := testKey(t, "auto")
	l := openTest(t, WithAutoCheckpoint(failingSigner{s}, 2))
	ctx := context.Background()
	mustAppend(t, l, Event{Kind: KindIssueRequested})
	_, err := l.AppendBatch(ctx, []Event{{Kind: KindIssueRequested}, {Kind: KindIssueRequested}})
	if err == nil || !strings.Contains(err.Error(), "the HSM is unplugged") {
		t.Fatalf("AppendBatch with a failing signer = %v", err)
	}
	if n, _ := l.Count(ctx); n != 1 {
		t.Errorf("%d events after the failed write, want 1: the write must be all or nothing", n)
	}
}

func TestMigrateToCheckpoints(t *testing.T) {
	path := t.TempDir() + "/v1.db"
	src := openTest(t)
	appendN(t, src, 6)
	want, _ := src.TreeHead(context.Background())
	oldLedger(t, path, 1, src)
	if _, err := Open(path, WithReadOnly()); !errors.Is(err, ErrOlderSchema) {
		t.Errorf("read-only Open of a version 1 ledger = %v, want ErrOlderSchema", err)
	}
	l := openAt(t, path)
	if l.SchemaVersion() != SchemaVersion {
		t.Errorf("schema version %d after migration", l.SchemaVersion())
	}
	ctx := context.Background()
	rep, err := l.Verify(ctx)
	if err != nil || rep.Head != want {
		t.Fatalf("Verify after migration = %+v, %v", rep, err)
	}
	s, _ := testKey(t, "ops")
	if sc := mustCheckpoint(t, l, s); sc.Head() != want {
		t.Errorf("checkpoint after migration = %v, want %v", sc.Head(), want)
	}
}
