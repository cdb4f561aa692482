package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// proofTreeSize is how far TestProofsAtEverySize grows the ledger.
const proofTreeSize = 100

// TestProofsAtEverySize grows a ledger one event at a time, as tlog's own
// tests grow a tree, signing a checkpoint at every size. At every size it
// checks every event's inclusion proof and the consistency of every
// earlier checkpoint, then flips a bit in each part of the proofs and
// requires the check to fail.
func TestProofsAtEverySize(t *testing.T) {
	t.Parallel() // CPU-bound: let it overlap the tests waiting on fsync
	l := openTest(t, WithNow(newClock().Now))
	ctx := context.Background()
	s, vs := testKey(t, "ops")
	var kept []*SignedCheckpoint
	for n := 1; n <= proofTreeSize; n++ {
		appendN(t, l, 1)
		sc, err := OpenCheckpoint(mustCheckpoint(t, l, s).Note, vs)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, sc)
		for _, old := range kept {
			head, err := l.VerifyCheckpoint(ctx, old.Checkpoint)
			if err != nil || head.Size != int64(n) {
				t.Fatalf("size %d: checkpoint of %d: %v, %v", n, old.Size, head, err)
			}
			if n%10 == 0 || old == sc {
				// A checkpoint of the same size with another root: rewritten.
				forged := old.Checkpoint
				forged.Hash[n%tlog.HashSize] ^= 1 << (n % 8)
				if _, err := l.VerifyCheckpoint(ctx, forged); !errors.As(err, new(*ConsistencyError)) {
					t.Fatalf("size %d: altered checkpoint of %d: %v, want a *ConsistencyError", n, old.Size, err)
				}
			}
		}
		for i := range int64(n) {
			p, err := l.ProveEvent(ctx, i, sc.Note)
			if err != nil {
				t.Fatalf("size %d: ProveEvent(%d): %v", n, i, err)
			}
			e, err := p.CheckInclusion()
			if err != nil || e.Seq != i {
				t.Fatalf("size %d: proof of %d: %v, %v", n, i, e.Seq, err)
			}
			if i == int64(n)-1 {
				// The signature is the same for every proof of this size.
				if _, got, err := p.Check(vs); err != nil || got.Head() != sc.Head() {
					t.Fatalf("size %d: Check: %v, %v", n, got, err)
				}
			}
			if len(p.Hashes) != auditPathLen(i, int64(n)) {
				t.Errorf("size %d: proof of %d has %d hashes, want %d", n, i, len(p.Hashes), auditPathLen(i, int64(n)))
			}
			for j := range p.Hashes {
				p.Hashes[j][j%tlog.HashSize] ^= 1
				if _, err := p.CheckInclusion(); !errors.Is(err, ErrInvalidProof) {
					t.Fatalf("size %d: proof of %d with hash %d flipped: %v", n, i, j, err)
				}
				p.Hashes[j][j%tlog.HashSize] ^= 1
			}
			if (n == 33 || n == proofTreeSize) && (i == 0 || i == int64(n)/2 || i == int64(n)-1) {
				// The other parts of the proof, on a sample.
				checkFlipsFail(t, p, vs)
			}
		}
	}
}

// auditPathLen is the length of the RFC 6962 audit path of leaf m in a
// tree of n leaves (section 2.1.1), from the RFC's recursive definition.
func auditPathLen(m, n int64) int {
	if n <= 1 {
		return 0
	}
	k := int64(1)
	for k*2 < n {
		k *= 2
	}
	if m < k {
		return 1 + auditPathLen(m, k)
	}
	return 1 + auditPathLen(m-k, n-k)
}

// checkFlipsFail flips one bit at a time in the leaf, the leaf index, the
// tree size, the root hash, a proof hash and the checkpoint note, and
// requires each altered proof to fail: its inclusion, or for the
// checkpoint's signature lines its signature.
func checkFlipsFail(t *testing.T, p *Proof, vs note.Verifiers) {
	t.Helper()
	try := func(what string, edit func(q *Proof)) {
		t.Helper()
		q := *p
		q.Leaf = bytes.Clone(p.Leaf)
		q.Hashes = append(tlog.RecordProof(nil), p.Hashes...)
		edit(&q)
		if _, err := q.CheckInclusion(); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("proof of %d in %d with %s: CheckInclusion = %v, want ErrInvalidProof", p.LeafIndex, p.TreeSize, what, err)
		}
	}
	for i := range p.Leaf {
		try(fmt.Sprintf("leaf byte %d flipped", i), func(q *Proof) { q.Leaf[i] ^= 1 })
	}
	try("leaf index + 1", func(q *Proof) { q.LeafIndex++ })
	try("leaf index ^ 1", func(q *Proof) { q.LeafIndex ^= 1 })
	try("tree size + 1", func(q *Proof) { q.TreeSize++ })
	try("root hash flipped", func(q *Proof) { q.RootHash[0] ^= 1 })
	try("a proof hash dropped", func(q *Proof) { q.Hashes = append(q.Hashes, tlog.Hash{}) })
	for i := range len(p.Checkpoint) {
		q := *p
		b := []byte(q.Checkpoint)
		b[i] ^= 1
		q.Checkpoint = string(b)
		if _, _, err := q.Check(vs); !errors.Is(err, ErrInvalidProof) && !errors.Is(err, ErrCheckpointSignature) {
			t.Errorf("proof of %d in %d with checkpoint byte %d flipped: Check = %v", p.LeafIndex, p.TreeSize, i, err)
		}
	}
}

// proofLedger returns a ledger of 23 events, a signed checkpoint of them
// and its verifiers.
func proofLedger(t *testing.T) (*Ledger, *StoredCheckpoint, note.Verifiers) {
	t.Helper()
	l := openTest(t, WithNow(newClock().Now))
	s, vs := testKey(t, "ops")
	appendN(t, l, 20)
	req := int64(20)
	mustAppend(t, l, Event{Kind: KindIssueRequested, CData: "acme <ops> & co"})
	mustAppend(t, l, Event{Kind: KindIssue, Fingerprint: fp(99), CData: "acme <ops> & co", RequestSeq: &req, HTTPStatus: 200,
		Detail: []byte(`{"claims":{"cdata":"acme <ops> & co","iat":1700000000,"big":12345678901234567890,"u":"\u00e9"}}`)})
	mustAppend(t, l, Event{Kind: KindRevokeFailed, Fingerprint: fp(99), HTTPStatus: 503, Error: "woleet: 503"})
	return l, mustCheckpoint(t, l, s), vs
}

func TestProofJSON(t *testing.T) {
	l, sc, vs := proofLedger(t)
	ctx := context.Background()
	p, err := l.ProveEvent(ctx, 21, sc.Note)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p) // escapes <, > and & in the detail
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"format":"tokenaudit.proof.v1"`, `"leaf_index":21`, `"tree_size":23`, `"root_hash":"` + sc.Hash.String() + `"`,
		`"proof":["`, `"checkpoint":"tokenaudit/`, `"event":{"seq":21,`} {
		if !bytes.Contains(b, []byte(field)) {
			t.Errorf("proof JSON lacks %s:\n%s", field, b)
		}
	}
	// Re-encoded by another tool (decoded and re-indented, escapes
	// resolved), the proof still checks: the leaf is what is hashed.
	var generic any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	if err := enc.Encode(generic); err != nil {
		t.Fatal(err)
	}
	for _, text := range [][]byte{b, buf.Bytes()} {
		q, err := ParseProof(text)
		if err != nil {
			t.Fatal(err)
		}
		e, got, err := q.Check(vs)
		if err != nil {
			t.Fatalf("Check(%s): %v", text, err)
		}
		if e.Seq != 21 || e.Kind != KindIssue || e.CData != "acme <ops> & co" || got.Origin != sc.Origin || got.Signers[0] != sc.Signer {
			t.Errorf("Check = %+v, %+v", e, got)
		}
	}
	for _, tc := range []struct{ text, substr string }{
		{"", "not a JSON proof"},
		{"[]", "not a JSON proof"},
		{strings.Replace(string(b), `"format":"tokenaudit.proof.v1"`, `"format":"tokenaudit.proof.v2"`, 1), `format "tokenaudit.proof.v2"`},
		{strings.Replace(string(b), `"leaf_index"`, `"extra":1,"leaf_index"`, 1), `unknown field "extra"`},
		{string(b) + "{}", "text after the JSON object"},
		{strings.Replace(string(b), `"root_hash":"`, `"root_hash":"AA`, 1), "not a JSON proof"},
	} {
		if _, err := ParseProof([]byte(tc.text)); err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("ParseProof(%.40q…) = %v, want %q", tc.text, err, tc.substr)
		}
	}
}

func TestProofRefusesChangedEvent(t *testing.T) {
	l, sc, vs := proofLedger(t)
	ctx := context.Background()
	p, err := l.ProveEvent(ctx, 21, sc.Note)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(edit func(e *Event)) *Proof {
		q := *p
		e, err := ParseLeaf(p.Leaf)
		if err != nil {
			t.Fatal(err)
		}
		edit(&e)
		q.Leaf = e.LeafBytes()
		e.LeafHash = leafHashHex(q.Leaf)
		q.Event = e
		return &q
	}
	other, _ := testKey(t, "ops")
	otherCP, err := SignCheckpoint(sc.Checkpoint, other)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		proof  *Proof
		want   error
		substr string
	}{
		{"changed cdata, leaf and event agreeing", forge(func(e *Event) { e.CData = "globex" }), ErrInvalidProof, "audit path does not lead"},
		{"changed ts", forge(func(e *Event) { e.TS = e.TS.Add(time.Microsecond) }), ErrInvalidProof, "audit path does not lead"},
		{"event moved to another seq", forge(func(e *Event) { e.Seq = 20; e.RequestSeq = nil }), ErrInvalidProof, "leaf is event 20"},
		{"event says another cdata than the leaf", func() *Proof { q := *p; q.Event.CData = "globex"; return &q }(), ErrInvalidProof, "event's cdata"},
		{"event says another detail than the leaf", func() *Proof { q := *p; q.Event.Detail = []byte(`{"claims":{}}`); return &q }(), ErrInvalidProof, "event's detail"},
		{"event says another leaf hash", func() *Proof { q := *p; q.Event.LeafHash = strings.Repeat("0", 64); return &q }(), ErrInvalidProof, "event's leaf_hash"},
		{"no event", func() *Proof { q := *p; q.Event = Event{}; return &q }(), ErrInvalidProof, "event's seq"},
		{"leaf not canonical", func() *Proof { q := *p; q.Leaf = append(bytes.Clone(p.Leaf), ' '); return &q }(), ErrInvalidProof, "the leaf is not an event"},
		{"checkpoint signed by another key", func() *Proof { q := *p; q.Checkpoint = string(otherCP); return &q }(), ErrCheckpointSignature, "none of them a trusted key"},
		{"checkpoint of another origin", func() *Proof {
			q := *p
			c := sc.Checkpoint
			c.Origin = "example.com/log"
			msg, _ := SignCheckpoint(c, other)
			q.Checkpoint = string(msg)
			return &q
		}(), ErrInvalidProof, "not a tokenaudit ledger's"},
	} {
		if _, _, err := tc.proof.Check(vs); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("%s: Check = %v, want %v with %q", tc.name, err, tc.want, tc.substr)
		}
	}
	if _, _, err := p.Check(nil); !errors.Is(err, ErrCheckpointSignature) {
		t.Errorf("Check(nil verifiers) = %v, want ErrCheckpointSignature", err)
	}
}

func TestProveEventErrors(t *testing.T) {
	l, sc, _ := proofLedger(t)
	ctx := context.Background()
	s, _ := testKey(t, "ops")
	if _, err := l.ProveEvent(ctx, 23, sc.Note); !errors.Is(err, ErrNotFound) {
		t.Errorf("ProveEvent(23) = %v, want ErrNotFound", err)
	}
	if _, err := l.ProveEvent(ctx, -1, sc.Note); !errors.Is(err, ErrNotFound) {
		t.Errorf("ProveEvent(-1) = %v, want ErrNotFound", err)
	}
	appendN(t, l, 2)
	if _, err := l.ProveEvent(ctx, 24, sc.Note); err == nil || !strings.Contains(err.Error(), "came after the checkpoint, which signs events 0 to 22") {
		t.Errorf("ProveEvent(24) with a checkpoint of 23 = %v", err)
	}
	if _, err := l.ProveEvent(ctx, 0, []byte("not a note")); !errors.Is(err, ErrMalformedCheckpoint) {
		t.Errorf("ProveEvent with garbage = %v", err)
	}
	newer := mustCheckpoint(t, l, s)
	rewriteLedger(t, l, func(e *Event) {
		if e.Seq == 3 {
			e.Actor = "nobody@nowhere"
		}
	}, true)
	for _, msg := range [][]byte{sc.Note, newer.Note} {
		if _, err := l.ProveEvent(ctx, 0, msg); !errors.As(err, new(*ConsistencyError)) {
			t.Errorf("ProveEvent after a rewrite = %v, want a *ConsistencyError", err)
		}
	}
}
