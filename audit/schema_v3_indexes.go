package audit

// v3Indexes is the part of schema version 3 (migrations[2]) that chooses
// the indexes of events for what the queries need (issue 16). It must come
// first in that migration: the tokens view, created after it, looks tokens
// up by fingerprint_key.
//
// fingerprint_key is a 64-bit INTEGER made of the fingerprint's hash: its
// first 4 bytes (8 hex digits) in the high half, its last 4 in the low
// half, as a signed number (see [fingerprintKey]); NULL for an event
// without a fingerprint. A prefix lookup (at least MinFingerprintPrefix,
// 8, hex digits) is a range of keys, a full fingerprint one key; the text
// fingerprint, kept for the public interface, then tells apart the
// fingerprints sharing a key. The report counts tokens by key: two tokens
// count as one only when their hashes share those 8 bytes, which takes
// about 2^64 SHA-256 computations to bring about for a given token.
//
// AppendBatch writes it, computed from the fingerprint; Verify checks it
// against the fingerprint of every event. It is no part of the leaf
// (leaf.go), whose encoding it leaves unchanged. A stored column, not a
// generated one: SQLite does not see an index on a virtual generated
// column as covering (a query naming the column needs the columns it is
// computed from), and the expression would cost every append: in SQL,
// without unhex() (which a sqlite3 older than 3.41, Debian 12's 3.40,
// lacks, and could then not read the table), it takes 16 substr() and
// instr() calls, 3 to 8 µs per event here (raw_generated_key against
// raw_indexes in BenchmarkIndexCost).
// This migration computes it once for the events already recorded, with
// that expression: each hex digit is the position of its character in
// '123456789abcdef' (0 for '0'); << works on the 64-bit pattern, so the
// first digit's high bit becomes the sign. <<, & and | share one
// precedence in SQLite, hence the parentheses. events_no_update is
// dropped for that UPDATE and created again as it was.
//
// events_fp replaces events_token (fingerprint, kind, cdata): an entry
// holds 8 bytes of key instead of 71 of text, and there is none for events
// without a fingerprint (requests, failures). It keeps kind and cdata, so
// that the report counts tokens from the index alone. Every index that
// stays is used by some query plan (see TestQueryPlans).
var v3Indexes = `
ALTER TABLE events ADD COLUMN fingerprint_key INTEGER;
DROP TRIGGER events_no_update;
UPDATE events SET fingerprint_key =
    (instr('123456789abcdef', substr(fingerprint, 8, 1)) << 60) |
    (instr('123456789abcdef', substr(fingerprint, 9, 1)) << 56) |
    (instr('123456789abcdef', substr(fingerprint, 10, 1)) << 52) |
    (instr('123456789abcdef', substr(fingerprint, 11, 1)) << 48) |
    (instr('123456789abcdef', substr(fingerprint, 12, 1)) << 44) |
    (instr('123456789abcdef', substr(fingerprint, 13, 1)) << 40) |
    (instr('123456789abcdef', substr(fingerprint, 14, 1)) << 36) |
    (instr('123456789abcdef', substr(fingerprint, 15, 1)) << 32) |
    (instr('123456789abcdef', substr(fingerprint, 64, 1)) << 28) |
    (instr('123456789abcdef', substr(fingerprint, 65, 1)) << 24) |
    (instr('123456789abcdef', substr(fingerprint, 66, 1)) << 20) |
    (instr('123456789abcdef', substr(fingerprint, 67, 1)) << 16) |
    (instr('123456789abcdef', substr(fingerprint, 68, 1)) << 12) |
    (instr('123456789abcdef', substr(fingerprint, 69, 1)) << 8) |
    (instr('123456789abcdef', substr(fingerprint, 70, 1)) << 4) |
    instr('123456789abcdef', substr(fingerprint, 71, 1))
WHERE fingerprint <> '';
` + noUpdate("events") + `
DROP INDEX events_token;
CREATE INDEX events_fp ON events (fingerprint_key, kind, cdata) WHERE fingerprint_key IS NOT NULL;
`
