package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// fuzzKey returns a fixed checkpoint key, so that the seed corpora hold
// notes it signed.
func fuzzKey(t testing.TB) (note.Signer, note.Verifiers) {
	t.Helper()
	seed := sha256.Sum256([]byte("tokenaudit fuzz key: public, never use it"))
	return keyFrom(t, bytes.NewReader(seed[:]), "fuzz.example/ops")
}

// FuzzParseCheckpoint checks that ParseCheckpoint accepts only canonical
// checkpoint texts: whatever it accepts, FormatCheckpoint writes back
// byte for byte.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("tokenaudit/00112233445566778899aabbccddeeff\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := ParseCheckpoint(text)
		if err != nil {
			if !errors.Is(err, ErrMalformedCheckpoint) {
				t.Fatalf("ParseCheckpoint(%q) = %v, not ErrMalformedCheckpoint", text, err)
			}
			return
		}
		back, err := FormatCheckpoint(c)
		if err != nil || !bytes.Equal(back, text) {
			t.Fatalf("ParseCheckpoint(%q) = %+v, which formats as %q, %v", text, c, back, err)
		}
	})
}

// FuzzOpenCheckpoint checks that OpenCheckpoint never panics, and that
// what it accepts was signed by the trusted key and parses.
func FuzzOpenCheckpoint(f *testing.F) {
	s, vs := fuzzKey(f)
	msg, err := SignCheckpoint(Checkpoint{Origin: "tokenaudit/00ff", Size: 7, Hash: tlog.RecordHash([]byte("x"))}, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Fuzz(func(t *testing.T, msg []byte) {
		sc, err := OpenCheckpoint(msg, vs)
		if err != nil {
			if !errors.Is(err, ErrMalformedCheckpoint) && !errors.Is(err, ErrCheckpointSignature) {
				t.Fatalf("OpenCheckpoint(%q) = %v, neither malformed nor a bad signature", msg, err)
			}
			return
		}
		if len(sc.Signers) != 1 || sc.Signers[0] != fmt.Sprintf("fuzz.example/ops+%08x", s.KeyHash()) {
			t.Fatalf("OpenCheckpoint(%q) signers = %v", msg, sc.Signers)
		}
		text, err := FormatCheckpoint(sc.Checkpoint)
		if err != nil || !bytes.HasPrefix(msg, append(text, '\n')) {
			t.Fatalf("OpenCheckpoint(%q) = %+v, whose text %q is not the note's", msg, sc.Checkpoint, text)
		}
	})
}

// FuzzParseProof checks that ParseProof and CheckInclusion never panic,
// and that a proof CheckInclusion accepts does lead from its leaf to its
// root.
func FuzzParseProof(f *testing.F) {
	f.Add([]byte(`{"format":"tokenaudit.proof.v1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			return
		}
		e, err := p.CheckInclusion()
		if err != nil {
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("CheckInclusion = %v, not ErrInvalidProof", err)
			}
			return
		}
		if e.Seq != p.LeafIndex || !bytes.Equal(e.LeafBytes(), p.Leaf) {
			t.Fatalf("CheckInclusion accepted event %d for leaf index %d", e.Seq, p.LeafIndex)
		}
		if err := tlog.CheckRecord(p.Hashes, p.TreeSize, p.RootHash, p.LeafIndex, tlog.RecordHash(p.Leaf)); err != nil {
			t.Fatalf("CheckInclusion accepted a proof tlog refuses: %v", err)
		}
	})
}
