package audit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// CheckpointOriginPrefix starts the origin line of every checkpoint of a
// tokenaudit ledger; the ledger's id (see [Info]) follows it, so that the
// origin names one ledger and stays the same for its whole life.
const CheckpointOriginPrefix = "tokenaudit/"

// MaxCheckpointSize bounds the signed checkpoint notes this package reads.
const MaxCheckpointSize = 64 << 10

// Errors of checkpoints and proofs, for [errors.Is].
var (
	// ErrMalformedCheckpoint: the text is not a signed note holding a
	// checkpoint in the format FormatCheckpoint documents.
	ErrMalformedCheckpoint = errors.New("audit: malformed checkpoint")
	// ErrCheckpointSignature: no trusted key signed the checkpoint, or a
	// trusted key's signature does not match its text (forged, or the text
	// was altered after signing).
	ErrCheckpointSignature = errors.New("audit: checkpoint signature not valid")
	// ErrWrongLedger: the checkpoint's origin names another ledger.
	ErrWrongLedger = errors.New("audit: the checkpoint is of another ledger")
	// ErrInvalidProof: an inclusion proof does not check.
	ErrInvalidProof = errors.New("audit: invalid proof")
)

// ConsistencyError reports that the ledger is not an extension of a
// checkpoint: its first Checkpoint.Size events are not the ones the
// checkpoint signs (history was rewritten), or it holds fewer events than
// that (events were removed from the end).
type ConsistencyError struct {
	// Checkpoint is the tree head the checkpoint signs.
	Checkpoint TreeHead
	// Ledger is the ledger's tree head when it was checked.
	Ledger TreeHead
}

// Truncated reports whether the ledger holds fewer events than the
// checkpoint signs.
func (e *ConsistencyError) Truncated() bool { return e.Ledger.Size < e.Checkpoint.Size }

// Error implements error.
func (e *ConsistencyError) Error() string {
	if e.Truncated() {
		return fmt.Sprintf("audit: the ledger holds %d events, fewer than the %d its checkpoint signs: events were removed from the end",
			e.Ledger.Size, e.Checkpoint.Size)
	}
	return fmt.Sprintf("audit: the ledger's first %d events are not those its checkpoint signs: history was rewritten (the ledger holds %d events)",
		e.Checkpoint.Size, e.Ledger.Size)
}

// Checkpoint is the text of a transparency-log checkpoint
// (https://c2sp.org/tlog-checkpoint): a tree head and the origin of the
// log it belongs to. Sign it with [SignCheckpoint] or [Ledger.Checkpoint];
// read a signed one with [OpenCheckpoint].
type Checkpoint struct {
	// Origin names the log: for a tokenaudit ledger,
	// [CheckpointOriginPrefix] followed by the ledger's id.
	Origin string
	// Size is the tree size, the number of events signed.
	Size int64
	// Hash is the RFC 6962 root hash of the first Size events.
	Hash tlog.Hash
	// Extensions are the optional extension lines, without their newline.
	// tokenaudit writes none and ignores those it reads.
	Extensions []string
}

// Head returns the tree head the checkpoint describes.
func (c Checkpoint) Head() TreeHead { return TreeHead{Size: c.Size, Hash: c.Hash} }

// FormatCheckpoint returns the checkpoint's text, in the C2SP
// tlog-checkpoint format (https://c2sp.org/tlog-checkpoint), which is also
// the format of tlog.FormatTree with the origin in place of tlog's fixed
// "go.sum database tree" line:
//
//	<origin>
//	<tree size, decimal, no leading zeros>
//	<root hash, standard base64 with padding>
//	[<extension line>…]
//
// each line ending in a newline. The origin and the extension lines must be
// non-empty UTF-8 without control characters; the size must not be
// negative.
//
// C2SP recommends that the signing key be named like the origin; a
// tokenaudit key has a name of its operator's choosing instead (see
// [GenerateCheckpointKey]), so that one key can sign the checkpoints of
// several ledgers, while the origin still binds each checkpoint to its
// ledger.
func FormatCheckpoint(c Checkpoint) ([]byte, error) {
	if err := checkLine("origin", c.Origin); err != nil {
		return nil, err
	}
	if c.Size < 0 {
		return nil, fmt.Errorf("%w: negative tree size %d", ErrMalformedCheckpoint, c.Size)
	}
	for i, x := range c.Extensions {
		if err := checkLine(fmt.Sprintf("extension line %d", i+1), x); err != nil {
			return nil, err
		}
	}
	return appendCheckpoint(nil, c), nil
}

// appendCheckpoint appends the text of a valid checkpoint to dst.
func appendCheckpoint(dst []byte, c Checkpoint) []byte {
	dst = append(dst, c.Origin...)
	dst = append(dst, '\n')
	dst = strconv.AppendInt(dst, c.Size, 10)
	dst = append(dst, '\n')
	dst = base64.StdEncoding.AppendEncode(dst, c.Hash[:])
	dst = append(dst, '\n')
	for _, x := range c.Extensions {
		dst = append(dst, x...)
		dst = append(dst, '\n')
	}
	return dst
}

// checkLine checks one origin or extension line.
func checkLine(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", ErrMalformedCheckpoint, what)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrMalformedCheckpoint, what)
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%w: %s %q holds a control character", ErrMalformedCheckpoint, what, truncate(s, 80))
	}
	return nil
}

// ParseCheckpoint parses a checkpoint's text (the part of a signed note
// before its signatures), accepting exactly what [FormatCheckpoint]
// writes: ParseCheckpoint(text) succeeds only when FormatCheckpoint of the
// result gives text back. It does not check any signature: use
// [OpenCheckpoint] for a signed note.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	if len(text) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedCheckpoint, len(text), MaxCheckpointSize)
	}
	body, ok := bytes.CutSuffix(text, []byte("\n"))
	if !ok {
		return Checkpoint{}, fmt.Errorf("%w: the text does not end with a newline", ErrMalformedCheckpoint)
	}
	lines := strings.Split(string(body), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("%w: %d lines, want an origin, a tree size and a root hash", ErrMalformedCheckpoint, len(lines))
	}
	c := Checkpoint{Origin: lines[0]}
	if err := checkLine("origin", c.Origin); err != nil {
		return Checkpoint{}, err
	}
	n, err := parseCanonicalInt(lines[1])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: line 2: tree size %w", ErrMalformedCheckpoint, err)
	}
	c.Size = n
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("%w: line 3: root hash %q is not %d bytes in base64", ErrMalformedCheckpoint, truncate(lines[2], 60), tlog.HashSize)
	}
	copy(c.Hash[:], h)
	if len(lines) > 3 {
		c.Extensions = lines[3:]
	}
	for i, x := range c.Extensions {
		if err := checkLine(fmt.Sprintf("extension line %d", i+1), x); err != nil {
			return Checkpoint{}, err
		}
	}
	if !bytes.Equal(appendCheckpoint(nil, c), text) {
		return Checkpoint{}, fmt.Errorf("%w: not in canonical form", ErrMalformedCheckpoint)
	}
	return c, nil
}

// GenerateCheckpointKey generates an Ed25519 key for signing checkpoints,
// in the signed-note format of golang.org/x/mod/sumdb/note: skey
// ("PRIVATE+KEY+name+hash+key") signs, through note.NewSigner, and must be
// kept secret; vkey ("name+hash+key") verifies, through note.NewVerifier,
// and is handed to whoever checks checkpoints. The name names the signer,
// such as "ops.example.com/tokenaudit": non-empty UTF-8, at most 200
// bytes, without spaces, control characters or '+'. rand is the source of
// randomness, normally crypto/rand.Reader.
func GenerateCheckpointKey(rand io.Reader, name string) (skey, vkey string, err error) {
	if err := checkKeyName(name); err != nil {
		return "", "", err
	}
	if rand == nil {
		return "", "", errors.New("audit: generate checkpoint key: nil source of randomness")
	}
	skey, vkey, err = note.GenerateKey(rand, name)
	if err != nil {
		return "", "", fmt.Errorf("audit: generate checkpoint key: %w", err)
	}
	return skey, vkey, nil
}

// checkKeyName checks a signer's name: what note accepts, without control
// characters, so that it prints safely.
func checkKeyName(name string) error {
	switch {
	case name == "":
		return errors.New("audit: empty key name")
	case len(name) > 200:
		return fmt.Errorf("audit: key name is %d bytes, more than 200", len(name))
	case !utf8.ValidString(name):
		return errors.New("audit: key name is not valid UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '+' }):
		return fmt.Errorf("audit: key name %q holds a space, a control character or '+'", name)
	}
	return nil
}

// SignCheckpoint returns c as a signed note: its text (see
// [FormatCheckpoint]), a blank line, and one signature line per signer.
func SignCheckpoint(c Checkpoint, signers ...note.Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("audit: sign checkpoint: no signer")
	}
	for _, s := range signers {
		if s == nil {
			return nil, errors.New("audit: sign checkpoint: nil signer")
		}
		if err := checkKeyName(s.Name()); err != nil {
			return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
		}
	}
	text, err := FormatCheckpoint(c)
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return msg, nil
}

// SignedCheckpoint is a checkpoint whose signature was checked.
type SignedCheckpoint struct {
	Checkpoint
	// Note is the signed note: the checkpoint's text, a blank line and the
	// signature lines.
	Note []byte
	// Signers lists the trusted keys whose signatures were verified, as
	// "name+hash" (the hash in 8 hex digits, as in a verifier key).
	Signers []string
}

// OpenCheckpoint checks a signed checkpoint note against the trusted
// verifier keys and returns it. It fails with [ErrMalformedCheckpoint] when
// msg is not a signed note holding a checkpoint, and with
// [ErrCheckpointSignature] when no trusted key signed it or when a trusted
// key's signature does not match the text (a forgery, or a text altered
// after signing). Signatures by other keys are ignored, as the note format
// requires. It does not look at the origin: compare it with the one
// expected, or let [Ledger.VerifyCheckpoint] do so.
//
// Build verifiers with note.VerifierList(v...) from note.NewVerifier(vkey).
func OpenCheckpoint(msg []byte, verifiers note.Verifiers) (*SignedCheckpoint, error) {
	text, err := checkpointText(msg)
	if err != nil {
		return nil, err
	}
	c, err := ParseCheckpoint(text)
	if err != nil {
		return nil, err
	}
	if verifiers == nil {
		return nil, fmt.Errorf("%w: no trusted verifier key given", ErrCheckpointSignature)
	}
	n, err := note.Open(msg, verifiers)
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		return nil, fmt.Errorf("%w: signed by %s, none of them a trusted key", ErrCheckpointSignature, signerList(unverified.Note.UnverifiedSigs))
	case errors.As(err, &invalid):
		return nil, fmt.Errorf("%w: the signature of %s+%08x does not match the checkpoint: it is forged, or the checkpoint was altered after signing",
			ErrCheckpointSignature, invalid.Name, invalid.Hash)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrCheckpointSignature, err)
	}
	sc := &SignedCheckpoint{Checkpoint: c, Note: bytes.Clone(msg)}
	for _, s := range n.Sigs {
		sc.Signers = append(sc.Signers, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	return sc, nil
}

// openUnverified parses a signed note without checking any signature:
// every signature is in the result's UnverifiedSigs. It fails with
// ErrMalformedCheckpoint.
func openUnverified(msg []byte) (*note.Note, error) {
	if len(msg) > MaxCheckpointSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedCheckpoint, len(msg), MaxCheckpointSize)
	}
	// With no known key, Open parses the note and reports every signature
	// as unverified; any other error means the note is malformed.
	_, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return nil, fmt.Errorf("%w: not a signed note (text, a blank line, then lines \"— name signature\")", ErrMalformedCheckpoint)
	}
	// note accepts base64 with stray bits in its padding; refuse it, so
	// that one signature has one spelling.
	for _, sig := range unverified.Note.UnverifiedSigs {
		if _, err := base64.StdEncoding.Strict().DecodeString(sig.Base64); err != nil {
			return nil, fmt.Errorf("%w: the signature of %s+%08x is not in canonical base64", ErrMalformedCheckpoint, sig.Name, sig.Hash)
		}
	}
	return unverified.Note, nil
}

// checkpointText returns the text of a signed note without checking any
// signature, or ErrMalformedCheckpoint.
func checkpointText(msg []byte) ([]byte, error) {
	n, err := openUnverified(msg)
	if err != nil {
		return nil, err
	}
	return []byte(n.Text), nil
}

// parseSignedCheckpoint parses a signed checkpoint note without checking
// its signatures, and returns the checkpoint and the keys that claim to
// have signed it ("name+hash").
func parseSignedCheckpoint(msg []byte) (Checkpoint, []string, error) {
	n, err := openUnverified(msg)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	signers := make([]string, len(n.UnverifiedSigs))
	for i, s := range n.UnverifiedSigs {
		signers[i] = fmt.Sprintf("%s+%08x", s.Name, s.Hash)
	}
	return c, signers, nil
}

// signerList names the keys of signatures, for messages.
func signerList(sigs []note.Signature) string {
	names := make([]string, len(sigs))
	for i, s := range sigs {
		names[i] = fmt.Sprintf("%s+%08x", s.Name, s.Hash)
	}
	return strings.Join(names, ", ")
}

// Origin returns the origin line of the ledger's checkpoints:
// [CheckpointOriginPrefix] followed by the ledger's id.
func (l *Ledger) Origin(ctx context.Context) (string, error) {
	r, err := l.reader()
	if err != nil {
		return "", err
	}
	return ledgerOrigin(ctx, r)
}

// ledgerOrigin reads the ledger's origin inside q's snapshot.
func ledgerOrigin(ctx context.Context, q queryer) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'ledger_id'").Scan(&id)
	if err != nil {
		return "", fmt.Errorf("audit: read the ledger's id: %w", classify(err))
	}
	if id == "" || !isLowerHex(id) {
		return "", &IntegrityError{Seq: -1, Problem: fmt.Sprintf("the ledger's id %q is not lowercase hex", truncate(id, 80))}
	}
	return CheckpointOriginPrefix + id, nil
}

// StoredCheckpoint is one row of the table checkpoints: a checkpoint the
// ledger signed and kept. Its signature is not checked when it is read:
// open Note with [OpenCheckpoint] to check it.
type StoredCheckpoint struct {
	// ID numbers the checkpoints in the order they were stored, from 1.
	ID int64
	// TS is when the checkpoint was signed, by the ledger's clock.
	TS time.Time
	// Checkpoint is what the note signs.
	Checkpoint
	// Signer names the key that signed it, "name+hash".
	Signer string
	// Note is the signed note.
	Note []byte
}

// Checkpoint signs the ledger's current tree head with signer, stores the
// signed note in the table checkpoints, and returns it. Keep a copy of the
// note away from the ledger (a ticket, a git repository, another host):
// [Ledger.VerifyCheckpoint] then shows that the ledger still holds, unchanged,
// every event the checkpoint signs, whatever was done to the file since.
//
// The head is read and the note stored in one write transaction, so the
// checkpoint signs exactly the tree it is stored with.
func (l *Ledger) Checkpoint(ctx context.Context, signer note.Signer) (*StoredCheckpoint, error) {
	if signer == nil {
		return nil, errors.New("audit: checkpoint: nil signer")
	}
	w, err := l.writer()
	if err != nil {
		return nil, err
	}
	tx, err := l.writeTx(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: begin: %w", err)
	}
	defer tx.Rollback()
	sc, err := checkpointTx(ctx, tx, signer, l.now)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("audit: checkpoint: commit: %w", classify(err))
	}
	return sc, nil
}

// checkpointTx signs the tree head inside tx and stores the note.
func checkpointTx(ctx context.Context, tx *sql.Tx, signer note.Signer, now func() time.Time) (*StoredCheckpoint, error) {
	origin, err := ledgerOrigin(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", err)
	}
	head, err := treeHead(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", err)
	}
	c := Checkpoint{Origin: origin, Size: head.Size, Hash: head.Hash}
	msg, err := SignCheckpoint(c, signer)
	if err != nil {
		return nil, err
	}
	sc := &StoredCheckpoint{
		TS:         now().UTC().Truncate(time.Microsecond),
		Checkpoint: c,
		Signer:     fmt.Sprintf("%s+%08x", signer.Name(), signer.KeyHash()),
		Note:       msg,
	}
	if y := sc.TS.Year(); y < 1 || y > 9999 {
		return nil, fmt.Errorf("audit: checkpoint: the clock says %v, outside years 1 to 9999", sc.TS)
	}
	err = tx.QueryRowContext(ctx, "INSERT INTO checkpoints (ts, tree_size, root_hash, signer, note) VALUES (?, ?, ?, ?, ?) RETURNING id",
		formatTS(sc.TS), c.Size, c.Hash[:], sc.Signer, string(msg)).Scan(&sc.ID)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: store: %w", classify(err))
	}
	return sc, nil
}

// WithAutoCheckpoint makes every write that leaves the tree at least every
// events larger than the newest stored checkpoint sign one more with
// signer (see [Ledger.Checkpoint]), in the same transaction as the events:
// both are stored, or neither. A signer that fails makes the write fail.
// It does nothing for a ledger opened with [WithReadOnly].
func WithAutoCheckpoint(signer note.Signer, every int64) Option {
	return func(c *config) error {
		if signer == nil {
			return errors.New("audit: WithAutoCheckpoint: nil signer")
		}
		if err := checkKeyName(signer.Name()); err != nil {
			return fmt.Errorf("audit: WithAutoCheckpoint: %w", err)
		}
		if every < 1 {
			return fmt.Errorf("audit: WithAutoCheckpoint: every %d events: want at least 1", every)
		}
		c.autoSigner, c.autoEvery = signer, every
		return nil
	}
}

// autoCheckpoint signs a checkpoint inside tx when the tree, now size
// events, has grown by at least l.autoEvery since the newest one stored.
func (l *Ledger) autoCheckpoint(ctx context.Context, tx *sql.Tx, size int64) error {
	if l.autoSigner == nil {
		return nil
	}
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(tree_size), 0) FROM checkpoints").Scan(&last); err != nil {
		return fmt.Errorf("audit: automatic checkpoint: %w", classify(err))
	}
	if size-last < l.autoEvery {
		return nil
	}
	if _, err := checkpointTx(ctx, tx, l.autoSigner, l.now); err != nil {
		return fmt.Errorf("automatic checkpoint: %w", err)
	}
	return nil
}

// checkpointColumns are the columns scanCheckpoint reads, in order.
const checkpointColumns = "id, ts, tree_size, root_hash, signer, note"

// scanCheckpoint reads one row of checkpointColumns and checks that the
// note parses and agrees with the row's tree_size and root_hash.
func scanCheckpoint(rows *sql.Rows) (StoredCheckpoint, error) {
	var (
		sc   StoredCheckpoint
		ts   string
		size int64
		root []byte
		msg  string
	)
	if err := rows.Scan(&sc.ID, &ts, &size, &root, &sc.Signer, &msg); err != nil {
		return StoredCheckpoint{}, err
	}
	bad := func(format string, args ...any) error {
		return &IntegrityError{Seq: -1, Problem: fmt.Sprintf("checkpoint %d: ", sc.ID) + fmt.Sprintf(format, args...)}
	}
	var err error
	if sc.TS, err = parseTS(ts); err != nil {
		return StoredCheckpoint{}, bad("%v", err)
	}
	sc.Note = []byte(msg)
	if sc.Checkpoint, _, err = parseSignedCheckpoint(sc.Note); err != nil {
		return StoredCheckpoint{}, bad("%s", tidyAudit(err))
	}
	if sc.Size != size || !bytes.Equal(sc.Hash[:], root) {
		return StoredCheckpoint{}, bad("its tree_size and root_hash columns differ from its note")
	}
	return sc, nil
}

// Checkpoints streams the stored checkpoints, oldest first, from one read
// snapshot. A stored note that does not parse, or disagrees with its row,
// stops the iteration with an *[IntegrityError].
func (l *Ledger) Checkpoints(ctx context.Context) iter.Seq2[StoredCheckpoint, error] {
	return stream(ctx, l, "list checkpoints", "SELECT "+checkpointColumns+" FROM checkpoints ORDER BY id", nil, scanCheckpoint)
}

// latestCheckpointQuery selects the checkpoint LatestCheckpoint returns.
const latestCheckpointQuery = "SELECT " + checkpointColumns + " FROM checkpoints ORDER BY tree_size DESC, id DESC LIMIT 1"

// LatestCheckpoint returns the stored checkpoint of the largest tree (the
// newest among those), or [ErrNotFound] when there is none.
func (l *Ledger) LatestCheckpoint(ctx context.Context) (*StoredCheckpoint, error) {
	for sc, err := range stream(ctx, l, "read the latest checkpoint", latestCheckpointQuery, nil, scanCheckpoint) {
		if err != nil {
			return nil, err
		}
		return &sc, nil
	}
	return nil, fmt.Errorf("%w: the ledger holds no checkpoint", ErrNotFound)
}

// VerifyCheckpoint checks that the ledger extends the checkpoint c: that c
// is of this ledger (else [ErrWrongLedger]), and that the ledger's tree
// holds c's tree as a prefix, by an RFC 6962 consistency proof (section
// 2.1.2) from c's tree to the current one, built with tlog.ProveTree and
// checked with tlog.CheckTree (else a *[ConsistencyError]). A ledger whose
// history was rewritten, even with every hash recomputed, or whose last
// events were removed, fails. It returns the tree head it checked.
//
// It does not check c's signature: take c from [OpenCheckpoint], since a
// checkpoint nobody trusted signed proves nothing. It reads the stored
// hashes, which [Ledger.Verify] checks against the events: run both, as
// `tokenaudit ledger verify --checkpoint` does.
func (l *Ledger) VerifyCheckpoint(ctx context.Context, c Checkpoint) (TreeHead, error) {
	tx, err := l.readTx(ctx)
	if err != nil {
		return TreeHead{}, fmt.Errorf("audit: verify checkpoint: %w", err)
	}
	defer tx.Rollback()
	origin, err := ledgerOrigin(ctx, tx)
	if err != nil {
		return TreeHead{}, fmt.Errorf("audit: verify checkpoint: %w", err)
	}
	if c.Origin != origin {
		return TreeHead{}, fmt.Errorf("%w: its origin is %q, this ledger's is %q", ErrWrongLedger, truncate(c.Origin, 80), origin)
	}
	head, err := treeHead(ctx, tx)
	if err != nil {
		return TreeHead{}, err
	}
	if err := checkConsistency(c.Head(), head, dbHashReader{ctx, tx}); err != nil {
		return head, err
	}
	return head, nil
}

// checkConsistency proves with the stored hashes of r that the tree head
// has old as a prefix, and checks the proof.
func checkConsistency(old, head TreeHead, r tlog.HashReader) error {
	inconsistent := &ConsistencyError{Checkpoint: old, Ledger: head}
	switch {
	case old.Size > head.Size:
		return inconsistent
	case old.Size == 0:
		// The empty tree is a prefix of every tree; its hash is fixed.
		empty, err := tlog.TreeHash(0, r)
		if err != nil {
			return err
		}
		if old.Hash != empty {
			return inconsistent
		}
		return nil
	}
	p, err := tlog.ProveTree(head.Size, old.Size, r)
	if err != nil {
		return fmt.Errorf("audit: prove consistency of %d with %d events: %w", old.Size, head.Size, err)
	}
	if err := tlog.CheckTree(p, head.Size, head.Hash, old.Size, old.Hash); err != nil {
		return inconsistent
	}
	return nil
}

// tidyAudit drops the "audit: " prefix of an error of this package, for
// an error's text inside another.
func tidyAudit(err error) string { return strings.TrimPrefix(err.Error(), "audit: ") }

// checkpointsTableIntact reports whether the table checkpoints is the one
// this package creates, so that Verify can read it.
func checkpointsTableIntact(got, want map[string]schemaObject) bool {
	g, ok := got["table checkpoints"]
	return ok && normalizeSQL(g.sql) == normalizeSQL(want["table checkpoints"].sql)
}

// verifyStoredCheckpoints checks, inside Verify's snapshot, every stored
// checkpoint against the tree whose first verified events Verify
// recomputed: each note must parse, be of this ledger, agree with its row,
// and sign a prefix of the events (a smaller tree than the ledger's, with
// the same root). It returns the first problem, counting the others.
// intact says that every event verified, so that a checkpoint of more
// events than that means events were removed.
func verifyStoredCheckpoints(ctx context.Context, tx *sql.Tx, verified int64, intact bool) (*IntegrityError, error) {
	var n int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM checkpoints").Scan(&n); err != nil || n == 0 {
		return nil, classify(err)
	}
	origin, err := ledgerOrigin(ctx, tx)
	if err != nil {
		if ie := (*IntegrityError)(nil); errors.As(err, &ie) {
			return ie, nil
		}
		return &IntegrityError{Seq: -1, Problem: fmt.Sprintf("cannot check the checkpoints: %v", tidyAudit(err))}, nil
	}
	// The rows are read first: the checks read stored hashes in the same
	// transaction, and a PostgreSQL connection reads one result at a time.
	type scanned struct {
		sc  StoredCheckpoint
		err error
	}
	var all []scanned
	if err := eachRow(ctx, tx, "SELECT "+checkpointColumns+" FROM checkpoints ORDER BY id", nil, func(rows *sql.Rows) error {
		sc, err := scanCheckpoint(rows)
		if ie := (*IntegrityError)(nil); err != nil && !errors.As(err, &ie) {
			return err
		}
		all = append(all, scanned{sc, err})
		return nil
	}); err != nil {
		return nil, err
	}
	hr := dbHashReader{ctx, tx}
	var first *IntegrityError
	more := 0
	for _, row := range all {
		var problem *IntegrityError
		sc, err := row.sc, row.err
		switch {
		case errors.As(err, &problem):
		case err != nil:
			return nil, err
		case sc.Origin != origin:
			problem = &IntegrityError{Seq: -1, Problem: fmt.Sprintf("checkpoint %d is of another ledger (origin %q)", sc.ID, truncate(sc.Origin, 80))}
		case sc.Size > verified && intact:
			problem = &IntegrityError{Seq: -1, Problem: fmt.Sprintf("checkpoint %d signs %d events, but the ledger holds %d: events were removed from the end", sc.ID, sc.Size, verified)}
		case sc.Size > verified:
			// Beyond the first bad event: nothing to compare with.
		default:
			root, err := tlog.TreeHash(sc.Size, hr)
			if err != nil {
				return nil, err
			}
			if root != sc.Hash {
				problem = &IntegrityError{Seq: -1, Problem: fmt.Sprintf("checkpoint %d does not match the ledger's first %d events: history was rewritten", sc.ID, sc.Size)}
			}
		}
		switch {
		case problem == nil:
		case first == nil:
			first = problem
		default:
			more++
		}
	}
	if more > 0 {
		first.Problem += fmt.Sprintf(" (and %d more checkpoint(s) fail)", more)
	}
	return first, nil
}
