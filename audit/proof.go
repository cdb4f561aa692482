package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ProofFormat names the JSON format of a [Proof] and its version.
const ProofFormat = "tokenaudit.proof.v1"

// MaxProofSize bounds the JSON proofs [ParseProof] reads.
const MaxProofSize = 32 << 20

// Proof is an inclusion proof of one event in a signed checkpoint: what
// someone without the ledger needs to check that the ledger the checkpoint
// signs holds the event. It carries the same parts as a C2SP tlog-proof
// (https://c2sp.org/tlog-proof: an index, the RFC 6962 audit path and the
// checkpoint), plus the event, in JSON:
//
//	{
//	  "format": "tokenaudit.proof.v1",
//	  "event": {…the event's columns, as Event marshals them…},
//	  "leaf": "<base64 of the event's leaf encoding, Event.LeafBytes>",
//	  "leaf_index": 12,
//	  "tree_size": 40,
//	  "root_hash": "<base64>",
//	  "proof": ["<base64>", …],
//	  "checkpoint": "<the signed checkpoint note>"
//	}
//
// The leaf is what is hashed; the event must say the same, so that what
// people read is what was proved. Check a proof with [Proof.Check]; make
// one with [Ledger.ProveEvent].
type Proof struct {
	// Format is ProofFormat.
	Format string `json:"format"`
	// Event is the event, for people; it must agree with Leaf.
	Event Event `json:"event"`
	// Leaf is the event's leaf encoding (see [Event.LeafBytes]).
	Leaf []byte `json:"leaf"`
	// LeafIndex is the event's seq, its leaf index in the tree.
	LeafIndex int64 `json:"leaf_index"`
	// TreeSize and RootHash are the tree the checkpoint signs.
	TreeSize int64     `json:"tree_size"`
	RootHash tlog.Hash `json:"root_hash"`
	// Hashes is the RFC 6962 audit path (section 2.1.1) from the leaf to
	// the root, leaf's sibling first, as tlog.ProveRecord returns it.
	Hashes tlog.RecordProof `json:"proof"`
	// Checkpoint is the signed checkpoint note.
	Checkpoint string `json:"checkpoint"`
}

// ParseProof decodes a JSON proof: one object with exactly the fields of
// [Proof], of the format [ProofFormat], at most [MaxProofSize] bytes. It
// checks nothing else: call [Proof.Check].
func ParseProof(b []byte) (*Proof, error) {
	if len(b) > MaxProofSize {
		return nil, fmt.Errorf("audit: proof: %d bytes, more than %d", len(b), MaxProofSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Proof
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("audit: proof: not a JSON proof: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("audit: proof: text after the JSON object")
	}
	if p.Format != ProofFormat {
		return nil, fmt.Errorf("audit: proof: format %q, want %q", truncate(p.Format, 40), ProofFormat)
	}
	return &p, nil
}

// ProveEvent returns a proof that the event seq is in the tree the signed
// checkpoint note msg describes (from a file, or a [StoredCheckpoint]'s
// Note). It checks that the checkpoint is of this ledger (else
// [ErrWrongLedger]) and that the ledger still holds the tree it signs
// (else a *[ConsistencyError]), and checks the proof before returning it.
// It does not check the checkpoint's signature, which the proof's reader
// does with [Proof.Check]. seq must be below the checkpoint's tree size.
func (l *Ledger) ProveEvent(ctx context.Context, seq int64, msg []byte) (*Proof, error) {
	c, _, err := parseSignedCheckpoint(msg)
	if err != nil {
		return nil, err
	}
	tx, err := l.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: prove: %w", err)
	}
	defer tx.Rollback()
	origin, err := ledgerOrigin(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("audit: prove: %w", err)
	}
	if c.Origin != origin {
		return nil, fmt.Errorf("%w: its origin is %q, this ledger's is %q", ErrWrongLedger, truncate(c.Origin, 80), origin)
	}
	head, err := treeHead(ctx, tx)
	if err != nil {
		return nil, err
	}
	hr := dbHashReader{ctx, tx}
	if err := checkConsistency(c.Head(), head, hr); err != nil {
		return nil, err
	}
	if seq < 0 || seq >= head.Size {
		return nil, fmt.Errorf("%w: no event with seq %d (the ledger holds %d)", ErrNotFound, seq, head.Size)
	}
	if seq >= c.Size {
		return nil, fmt.Errorf("audit: prove: event %d came after the checkpoint, which signs events 0 to %d: sign a newer one", seq, c.Size-1)
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+eventColumns+" FROM events WHERE seq = ?", seq)
	if err != nil {
		return nil, fmt.Errorf("audit: prove: %w", classify(err))
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("audit: prove: %w", classify(err))
		}
		return nil, &IntegrityError{Seq: seq, Problem: "event is missing"}
	}
	e, err := scanEvent(rows)
	if err != nil {
		return nil, fmt.Errorf("audit: prove: %w", err)
	}
	rows.Close()
	rp, err := tlog.ProveRecord(c.Size, seq, hr)
	if err != nil {
		return nil, fmt.Errorf("audit: prove event %d in %d: %w", seq, c.Size, err)
	}
	p := &Proof{Format: ProofFormat, Event: e, Leaf: e.LeafBytes(), LeafIndex: seq, TreeSize: c.Size,
		RootHash: c.Hash, Hashes: rp, Checkpoint: string(msg)}
	if _, err := p.CheckInclusion(); err != nil {
		// The row does not hash to the stored tree: Verify says where.
		return nil, &IntegrityError{Seq: seq, Problem: fmt.Sprintf("the event does not prove against the stored hashes (%s): run Verify", tidyAudit(err))}
	}
	return p, nil
}

// CheckInclusion checks everything in the proof but the checkpoint's
// signature, and returns the event it proves: that the leaf is the
// canonical encoding of a valid event whose seq is LeafIndex, that Event
// says the same as the leaf, that the checkpoint is a tokenaudit checkpoint
// of TreeSize and RootHash, and that the audit path leads from the leaf
// hash (RFC 6962 section 2.1, SHA-256 of 0x00 and the leaf) to RootHash
// (tlog.CheckRecord). Failures wrap [ErrInvalidProof].
//
// Without the signature, a proof shows only that the event is in some tree
// with that root, which anyone can build: use [Proof.Check].
func (p *Proof) CheckInclusion() (Event, error) {
	invalid := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w: %s", ErrInvalidProof, fmt.Sprintf(format, args...))
	}
	if p.Format != ProofFormat {
		return invalid("format %q, want %q", truncate(p.Format, 40), ProofFormat)
	}
	e, err := ParseLeaf(p.Leaf)
	if err != nil {
		return invalid("the leaf is not an event: %s", tidyAudit(err))
	}
	if e.Seq != p.LeafIndex {
		return invalid("the leaf is event %d, but the proof is for leaf index %d", e.Seq, p.LeafIndex)
	}
	if field := differentField(p.Event, e); field != "" {
		return invalid("the event's %s is not the one in the leaf", field)
	}
	c, _, err := parseSignedCheckpoint([]byte(p.Checkpoint))
	if err != nil {
		return invalid("checkpoint: %s", tidyAudit(err))
	}
	if !strings.HasPrefix(c.Origin, CheckpointOriginPrefix) {
		return invalid("the checkpoint's origin %q is not a tokenaudit ledger's", truncate(c.Origin, 80))
	}
	if c.Size != p.TreeSize || c.Hash != p.RootHash {
		return invalid("the tree size or root hash is not the checkpoint's")
	}
	if p.LeafIndex < 0 || p.LeafIndex >= p.TreeSize {
		return invalid("leaf index %d is outside the tree of %d events", p.LeafIndex, p.TreeSize)
	}
	if err := tlog.CheckRecord(p.Hashes, p.TreeSize, p.RootHash, p.LeafIndex, tlog.RecordHash(p.Leaf)); err != nil {
		return invalid("the audit path does not lead from event %d to the root hash of the %d events the checkpoint signs", p.LeafIndex, p.TreeSize)
	}
	return e, nil
}

// Check checks the proof completely, offline: everything
// [Proof.CheckInclusion] checks, and that a key among verifiers signed
// the checkpoint ([OpenCheckpoint]). It returns the event and the
// checkpoint; compare the checkpoint's Origin with the ledger you expect.
// Failures wrap [ErrInvalidProof], or [ErrCheckpointSignature] for the
// signature.
func (p *Proof) Check(verifiers note.Verifiers) (Event, *SignedCheckpoint, error) {
	e, err := p.CheckInclusion()
	if err != nil {
		return Event{}, nil, err
	}
	sc, err := OpenCheckpoint([]byte(p.Checkpoint), verifiers)
	if err != nil {
		return Event{}, nil, err
	}
	return e, sc, nil
}

// differentField names the first field in which a (from a proof's JSON)
// differs from b (decoded from its leaf), or returns "". The details are
// compared as JSON values, since a JSON writer may re-indent or re-escape
// them.
func differentField(a, b Event) string {
	switch {
	case a.Seq != b.Seq:
		return "seq"
	case !a.TS.Equal(b.TS):
		return "ts"
	case a.Kind != b.Kind:
		return "kind"
	case a.Fingerprint != b.Fingerprint:
		return "fingerprint"
	case a.CData != b.CData:
		return "cdata"
	case a.Subject != b.Subject:
		return "subject"
	case a.Actor != b.Actor:
		return "actor"
	case a.APIURL != b.APIURL:
		return "api_url"
	case a.HTTPStatus != b.HTTPStatus:
		return "http_status"
	case (a.RequestSeq == nil) != (b.RequestSeq == nil) || a.RequestSeq != nil && *a.RequestSeq != *b.RequestSeq:
		return "request_seq"
	case a.Error != b.Error:
		return "error"
	case a.LeafHash != b.LeafHash:
		return "leaf_hash"
	case !sameJSON(a.Detail, b.Detail):
		return "detail"
	}
	return ""
}

// sameJSON reports whether a and b are both one JSON value, and the same
// value (numbers compared as written).
func sameJSON(a, b []byte) bool {
	decode := func(b []byte) (any, bool) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, false
		}
		return v, true
	}
	va, okA := decode(a)
	vb, okB := decode(b)
	return okA && okB && reflect.DeepEqual(va, vb)
}
