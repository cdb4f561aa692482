// Package audit is tokenaudit's ledger: an append-only, tamper-evident SQLite
// database of every token event, and the audited flows that issue, revoke,
// reconcile and import Woleet API tokens through it.
//
// Reach for [Open] first, then [NewAuditor] to issue and revoke:
//
//	ledger, err := audit.Open("tokens.db")
//	if err != nil { … }
//	defer ledger.Close()
//	auditor, err := audit.NewAuditor(ledger, woleetClient)
//	res, err := auditor.Issue(ctx, audit.IssueOptions{CData: "customer-42"})
//	// res.Token is recorded (by fingerprint) before you see it.
//
// Read it with [Ledger.Events], [Ledger.Tokens], [Ledger.Token] and
// [Ledger.Report], or follow it as it grows with [Ledger.Follow]; check it
// with [Ledger.Verify] and [Ledger.TreeHead]. [Auditor.Rotate] replaces the
// tokens of one cdata with a new one, linking the events.
//
// # Two backends
//
// A ledger is a SQLite file (sqlite.go), or a schema of a PostgreSQL
// database that processes on many hosts share (postgres.go): [Open] takes a
// postgres:// URL as well as a path. Everything but SQL dialect and
// connection handling is shared: the flows, the leaf encoding, the Merkle
// tree, Verify, reports, checkpoints and proofs run the same code and the
// same queries on both, so a ledger's root hash does not depend on its
// backend. [Copy] moves a ledger from one to the other; [Ledger.GrantRole]
// gives a PostgreSQL role read or append access, nothing more.
//
// # The ledger contract
//
// The schema is a public interface, versioned with PRAGMA user_version
// ([SchemaVersion]) and marked with PRAGMA application_id ([ApplicationID]).
// Users query it with sqlite3. All tables are STRICT, and triggers refuse
// UPDATE and DELETE on every one of them.
//
//   - Table events: one row per event. seq (dense from 0: the Merkle leaf
//     index), ts (RFC 3339 UTC with six fractional digits, so text order
//     is time order), kind (see [Kind]), fingerprint ("sha256:" + 64 hex
//     digits, or empty), cdata, subject, actor ("USER@HOST via IDENTITY"),
//     api_url, http_status (NULL when none), request_seq (the event whose
//     outcome this one records: the issue_requested an issue or
//     issue_failed answers, the pending event a reconcile settles), error,
//     detail (a JSON object: claims, outcome, source, token_iat, reason,
//     and for a rotation rotates and rotated_by), leaf_hash (32 bytes).
//   - Table hashes: the Merkle tree's stored hashes, one row per event:
//     hashes is tlog.StoredHashes for that seq (the leaf hash, then one
//     interior hash per subtree the event completes), 32 bytes each.
//   - Table meta: ledger_id and created_at.
//   - Table checkpoints (schema version 2): the signed checkpoints the
//     ledger stored (see [Ledger.Checkpoint]). id (from 1), ts (when it
//     was signed), tree_size, root_hash (32 bytes), signer ("name+hash"
//     of the key), note (the signed note). A trigger refuses a checkpoint
//     of more events than the ledger holds.
//   - View tokens (schema version 3): one row per fingerprint, born by its
//     first issue or import event, in the state of its latest
//     state-changing event (issue, import and seen_live: active; revoke
//     and revoked_elsewhere: revoked): fingerprint, cdata, subject,
//     issued_at, issued_by, issued_seq, revoked_at, revoked_by,
//     revoked_seq, state ('active' or 'revoked'), api_url, token_iat (the
//     token's own iat, when it says the token is older than its record),
//     first_seen_at (issued_at, or for an import the earlier of issued_at
//     and token_iat: ages count from it), state_seq.
//
// No raw token is ever stored: only fingerprints (jwtinspect.Fingerprint),
// cdata, sub and the claims without the signature. [Ledger.Append] refuses
// text that looks like a compact JWT, in any field.
//
// # Untrusted text
//
// Text taken from a token never stops a fact from being recorded. cdata and
// sub are kept as they are when they are valid UTF-8 with no NUL, nothing
// JWT-shaped and at most 4 KiB; otherwise JWT-shaped parts become
// "[token sha256:<12 hex>]", NUL and bytes that are not UTF-8 become the
// escape \xNN, the text is cut to 4 KiB, and the detail's
// "cdata_original" (or "subject_original") holds the SHA-256 and length of
// the original. Claims are kept in the detail up to 64 KiB of compact JSON
// (JWT-shaped text in them replaced likewise), and beyond that as
// "claims_sha256" and "claims_size".
//
// # Tamper evidence
//
// Every event is a leaf of an RFC 6962 Merkle tree, hashed as
// golang.org/x/mod/sumdb/tlog does (leaf hash = SHA-256(0x00 ‖ leaf)). The
// leaf bytes are a canonical encoding of the row, documented at
// [Event.LeafBytes], that anyone can recompute from the row alone; files in
// testdata/leaf are test vectors. The event, its leaf hash and its stored
// tree hashes are written in one transaction.
//
// [Ledger.Verify] recomputes every leaf and every stored hash and compares
// the schema with the one this package creates, so an edit that bypasses the
// triggers (drop them, then update, delete, insert or reorder rows) is
// reported at the first bad seq as an *[IntegrityError]; so is a stored
// checkpoint that does not sign a prefix of the events. [Ledger.HashReader]
// serves the stored hashes to tlog's proof functions.
//
// # Signed checkpoints and proofs
//
// Whoever holds the file can rewrite it whole, recomputing every hash, or
// cut its last events off: the tree stays self-consistent and Verify cannot
// tell. Signed checkpoints, kept away from the ledger, can. A checkpoint is
// a tree head in the C2SP tlog-checkpoint format (origin line, tree size,
// base64 root hash: see [FormatCheckpoint]), signed as a note of
// golang.org/x/mod/sumdb/note with an Ed25519 key from
// [GenerateCheckpointKey]. Its origin is [CheckpointOriginPrefix] and the
// ledger's id, so a checkpoint of one ledger is refused by another
// ([ErrWrongLedger]).
//
//   - [Ledger.Checkpoint] signs the current head and stores the note;
//     [WithAutoCheckpoint] signs one every N events as they are written.
//   - [OpenCheckpoint] checks a note's signature ([ErrCheckpointSignature]);
//     [Ledger.VerifyCheckpoint] then checks, by an RFC 6962 consistency
//     proof, that the ledger extends it (else a *[ConsistencyError]).
//   - [Ledger.ProveEvent] proves that one event is in a checkpoint's tree,
//     as a [Proof] (JSON) that [Proof.Check] verifies offline, from the
//     proof and the verifier key alone ([ErrInvalidProof]).
//
// # Durability and concurrency
//
// Each Ledger has one writer connection and a pool of read-only
// connections. The database runs in WAL mode with synchronous=FULL (an
// acknowledged event survives power loss) and takes the write lock with
// BEGIN IMMEDIATE, waiting up to a busy timeout ([WithBusyTimeout]) for
// other writers, in this process or another. Appends from many goroutines
// and processes interleave safely; readers never block writers.
//
// The ledger keeps its -wal and -shm files beside it after the last
// connection closes (the -wal emptied into the database), so that a process
// that may read the ledger but not write its folder (another user, a
// read-only mount) can read it through them: see [WithReadOnly].
//
// # Audited flows
//
// The flows talk to the ledger through [Store] and to the API through
// [TokenAPI], so another backend can stand in for SQLite. They fail closed:
// [Auditor.Issue] commits issue_requested before asking the API and records
// issue before returning the token; if it cannot, it revokes the token and
// returns an *[UnrecordedError]. [Auditor.Revoke], [Auditor.Reconcile],
// [Auditor.RevokeWhere] and [Auditor.Import] record every outcome; an
// outcome that is not known (a request that may or may not have reached
// the server) is recorded as unknown and settled by the next complete
// reconcile. Decisions such as "is this token already known?" are taken
// inside the write transaction that records their answer ([Ledger.AppendIf],
// [Cond]), so that racing processes record one event per fact. A ledger
// belongs to the API its tokens came from: [Auditor.Reconcile] compares
// only the tokens recorded for the API it talks to.
//
// # Errors
//
// Callers branch on [ErrNotALedger] (with [ErrLedgerEmpty] for an empty
// file), [ErrLedgerExists], [ErrNewerSchema], [ErrOlderSchema],
// [ErrLedgerReadOnly], [ErrLedgerUnreadable], [ErrLedgerLocked],
// [ErrLedgerClosed], [ErrNotFound], [ErrAmbiguous], *[IntegrityError],
// *[UnrecordedError], and for checkpoints and proofs [ErrMalformedCheckpoint], [ErrCheckpointSignature],
// [ErrWrongLedger], *[ConsistencyError] and [ErrInvalidProof]; API errors from
// package woleet are wrapped, so errors.Is(err, woleet.ErrOutcomeUnknown)
// works through the flows.
package audit
