package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ApplicationID is the SQLite application_id of a tokenaudit ledger (the
// bytes "TkAu"), as `PRAGMA application_id` reports it.
const ApplicationID = 0x546b4175

// SchemaVersion is the ledger schema this package writes, as
// `PRAGMA user_version` reports it.
// Each entry of migrations moves the schema up by one version.
const SchemaVersion = 3

// appendOnly returns the triggers that make table append-only.
func appendOnly(table string) string {
	return noUpdate(table) + fmt.Sprintf(`CREATE TRIGGER %[1]s_no_delete BEFORE DELETE ON %[1]s
BEGIN SELECT RAISE(ABORT, 'tokenaudit: the ledger is append-only: %[1]s rows cannot be deleted'); END;
`, table)
}

// noUpdate returns the trigger that refuses updates of table's rows.
func noUpdate(table string) string {
	return fmt.Sprintf(`
CREATE TRIGGER %[1]s_no_update BEFORE UPDATE ON %[1]s
BEGIN SELECT RAISE(ABORT, 'tokenaudit: the ledger is append-only: %[1]s rows cannot be updated'); END;
`, table)
}

// migrations[i] takes the schema from user_version i to i+1. Each runs in
// the same BEGIN IMMEDIATE transaction as the user_version update. Never
// edit a released migration: add one.
var migrations = [SchemaVersion]string{
	// 1: events, hashes, meta, the tokens view.
	`
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY CHECK (seq >= 0),
    ts          TEXT    NOT NULL CHECK (ts GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    kind        TEXT    NOT NULL CHECK (kind <> '' AND kind NOT GLOB '*[^a-z_]*'),
    fingerprint TEXT    NOT NULL DEFAULT '' CHECK (fingerprint = '' OR (length(fingerprint) = 71 AND substr(fingerprint, 1, 7) = 'sha256:' AND length(unhex(substr(fingerprint, 8))) = 32 AND fingerprint = lower(fingerprint))),
    cdata       TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL DEFAULT '',
    actor       TEXT    NOT NULL DEFAULT '',
    api_url     TEXT    NOT NULL DEFAULT '',
    http_status INTEGER CHECK (http_status BETWEEN 100 AND 599),
    request_seq INTEGER CHECK (request_seq >= 0 AND request_seq < seq),
    error       TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail) AND json_type(detail) = 'object'),
    leaf_hash   BLOB    NOT NULL CHECK (length(leaf_hash) = 32)
) STRICT;

CREATE TABLE hashes (
    seq    INTEGER PRIMARY KEY CHECK (seq >= 0),
    hashes BLOB    NOT NULL CHECK (length(hashes) >= 32 AND length(hashes) % 32 = 0)
) STRICT;

CREATE TRIGGER events_dense BEFORE INSERT ON events
WHEN NEW.seq IS NOT coalesce((SELECT max(seq) FROM events) + 1, 0)
BEGIN SELECT RAISE(ABORT, 'tokenaudit: events.seq must be the next sequence number'); END;

` + appendOnly("events") + appendOnly("hashes") + appendOnly("meta") + `
CREATE INDEX events_token ON events (fingerprint, kind, cdata);
CREATE INDEX events_cdata ON events (cdata);
CREATE INDEX events_kind ON events (kind);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_request_seq ON events (request_seq) WHERE request_seq IS NOT NULL;

CREATE VIEW tokens AS
SELECT b.fingerprint AS fingerprint,
       b.cdata       AS cdata,
       b.subject     AS subject,
       b.ts          AS issued_at,
       b.actor       AS issued_by,
       b.seq         AS issued_seq,
       r.ts          AS revoked_at,
       r.actor       AS revoked_by,
       r.seq         AS revoked_seq,
       CASE WHEN r.seq IS NULL THEN 'active' ELSE 'revoked' END AS state
FROM events AS b
LEFT JOIN events AS r ON r.seq = (
    SELECT min(x.seq) FROM events AS x
    WHERE x.fingerprint = b.fingerprint AND +x.kind IN ('revoke', 'revoked_elsewhere'))
WHERE +b.kind IN ('issue', 'import')
  AND NOT EXISTS (
    SELECT 1 FROM events AS p
    WHERE p.fingerprint = b.fingerprint AND +p.kind IN ('issue', 'import') AND p.seq < b.seq);

INSERT INTO meta (key, value) VALUES
    ('ledger_id', lower(hex(randomblob(16)))),
    ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
`,
	// 2: checkpoints, the signed tree heads (see checkpoint.go).
	`
CREATE TABLE checkpoints (
    id        INTEGER PRIMARY KEY CHECK (id >= 1),
    ts        TEXT    NOT NULL CHECK (ts GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
    root_hash BLOB    NOT NULL CHECK (length(root_hash) = 32),
    signer    TEXT    NOT NULL CHECK (signer <> ''),
    note      TEXT    NOT NULL CHECK (note <> '')
) STRICT;

CREATE TRIGGER checkpoints_within_tree BEFORE INSERT ON checkpoints
WHEN NEW.tree_size > coalesce((SELECT max(seq) + 1 FROM events), 0)
BEGIN SELECT RAISE(ABORT, 'tokenaudit: a checkpoint cannot sign more events than the ledger holds'); END;
` + appendOnly("checkpoints") + `
CREATE INDEX checkpoints_tree_size ON checkpoints (tree_size);
`,
	// 3: a token's state follows its latest state-changing event (a token
	// seen live after a revocation is active again); the tokens view also
	// shows the API the token came from and the token's own iat. Events
	// get fingerprint_key, and the indexes are chosen for what the queries
	// need (schema_v3_indexes.go), before the view that uses them.
	v3Indexes + `
DROP VIEW tokens;
` + tokensViewV3 + `
CREATE INDEX IF NOT EXISTS events_import_iat ON events (json_extract(detail, '$.token_iat')) WHERE kind = 'import';
`,
}

// firstSeenSQL is the earliest evidence of a token whose birth event is
// the row alias b: the record's ts, or for an import (a token issued before
// the ledger saw it) the token's own iat when that is earlier.
const firstSeenSQL = `CASE WHEN b.kind = 'import' THEN min(b.ts, coalesce(json_extract(b.detail, '$.token_iat'), b.ts)) ELSE b.ts END`

// tokensViewV3 is the tokens view of schema version 3. A token is born by
// its first issue or import event; its state is that of its latest
// state-changing event: issue, import and seen_live make it active, revoke
// and revoked_elsewhere make it revoked. token_iat is the token's own iat
// claim when it says the token is older than its record (see earlierIAT), and
// first_seen_at the earliest evidence of the token's existence: issued_at,
// or for an imported token the earlier of issued_at and token_iat (see
// firstSeenSQL). The index events_import_iat finds the imported tokens by
// their iat, for the oldest live tokens. fingerprint_key is the token's key
// (see v3Indexes), by which lookups find its events; +kind keeps SQLite
// from looking them up by kind instead (TestQueryPlans).
const tokensViewV3 = `
CREATE VIEW tokens AS
SELECT b.fingerprint AS fingerprint,
       b.cdata       AS cdata,
       b.subject     AS subject,
       b.ts          AS issued_at,
       b.actor       AS issued_by,
       b.seq         AS issued_seq,
       CASE WHEN s.kind IN ('revoke', 'revoked_elsewhere') THEN s.ts END    AS revoked_at,
       CASE WHEN s.kind IN ('revoke', 'revoked_elsewhere') THEN s.actor END AS revoked_by,
       CASE WHEN s.kind IN ('revoke', 'revoked_elsewhere') THEN s.seq END   AS revoked_seq,
       CASE WHEN s.kind IN ('revoke', 'revoked_elsewhere') THEN 'revoked' ELSE 'active' END AS state,
       b.api_url     AS api_url,
       json_extract(b.detail, '$.token_iat') AS token_iat,
       ` + firstSeenSQL + ` AS first_seen_at,
       s.seq         AS state_seq,
       b.fingerprint_key AS fingerprint_key
FROM events AS b
JOIN events AS s ON s.seq = (
    SELECT max(x.seq) FROM events AS x
    WHERE x.fingerprint_key = b.fingerprint_key
      AND +x.kind IN ('issue', 'import', 'seen_live', 'revoke', 'revoked_elsewhere')
      AND x.fingerprint = b.fingerprint)
WHERE +b.kind IN ('issue', 'import')
  AND NOT EXISTS (
    SELECT 1 FROM events AS p
    WHERE p.fingerprint_key = b.fingerprint_key AND +p.kind IN ('issue', 'import') AND p.seq < b.seq
      AND p.fingerprint = b.fingerprint);
`

// migrate brings the schema to SchemaVersion inside one BEGIN IMMEDIATE
// transaction (the writer's DSN sets _txlock=immediate). It re-reads
// user_version under the lock, so concurrent openers migrate once.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", classify(err))
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", classify(err))
	}
	if version > SchemaVersion {
		return fmt.Errorf("%w: schema version %d, this tokenaudit knows up to %d", ErrNewerSchema, version, SchemaVersion)
	}
	if version == SchemaVersion {
		return nil
	}
	// Check again under the write lock that this is a ledger, or an empty
	// database (a ledger being made: see createLedger and expectedSchema).
	var appID, objects int64
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT application_id FROM pragma_application_id), (SELECT count(*) FROM sqlite_schema)").Scan(&appID, &objects); err != nil {
		return fmt.Errorf("read application id: %w", classify(err))
	}
	if _, err := classifyFile(appID, int64(version), objects, config{}); err != nil && !errors.Is(err, errEmptyDatabase) {
		return err
	}
	for v := version; v < SchemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", v+1, classify(err))
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", ApplicationID, SchemaVersion)); err != nil {
		return fmt.Errorf("set schema version: %w", classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", classify(err))
	}
	return nil
}

// schemaObject is one row of sqlite_schema.
type schemaObject struct{ typ, name, sql string }

// readSchema returns the ledger's own schema objects, keyed by type and
// name; SQLite's internal objects (sqlite_*) are left out.
func readSchema(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]schemaObject, error) {
	rows, err := q.QueryContext(ctx, "SELECT type, name, coalesce(sql, '') FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", classify(err))
	}
	defer rows.Close()
	out := map[string]schemaObject{}
	for rows.Next() {
		var o schemaObject
		if err := rows.Scan(&o.typ, &o.name, &o.sql); err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		out[o.typ+" "+o.name] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema: %w", classify(err))
	}
	return out, nil
}

// expectedSchema builds the current schema in a private in-memory database
// and returns its objects: what an untouched ledger must contain.
func expectedSchema(ctx context.Context) (map[string]schemaObject, error) {
	db, err := sql.Open("sqlite3", "file:expected?mode=memory&cache=private")
	if err != nil {
		return nil, fmt.Errorf("build expected schema: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("build expected schema: %w", err)
	}
	return readSchema(ctx, db)
}

// checkSchema refuses, with an *IntegrityError naming every object that
// differs, a ledger whose schema is not the one the migrations create: a
// writer must not trust a schema that may drop, alter or invent what it
// writes. Open runs it once per writer, after any migration.
func checkSchema(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) error {
	want, err := expectedSchema(ctx)
	if err != nil {
		return err
	}
	got, err := readSchema(ctx, q)
	if err != nil {
		return err
	}
	if problems := schemaProblems(got, want); len(problems) > 0 {
		return fmt.Errorf("refusing to write to it: %w", &IntegrityError{Seq: -1,
			Problem: "the schema is not the one tokenaudit creates: " + strings.Join(problems, "; ")})
	}
	return nil
}

// schemaProblems compares a ledger's schema with the expected one and
// describes every difference, in a stable order.
func schemaProblems(got, want map[string]schemaObject) []string {
	var problems []string
	for _, key := range slices.Sorted(maps.Keys(want)) {
		w := want[key]
		g, ok := got[key]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s %s is missing", w.typ, w.name))
		case normalizeSQL(g.sql) != normalizeSQL(w.sql):
			problems = append(problems, fmt.Sprintf("%s %s was altered", w.typ, w.name))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[key]; !ok {
			g := got[key]
			problems = append(problems, fmt.Sprintf("unexpected %s %s", g.typ, g.name))
		}
	}
	return problems
}

// normalizeSQL collapses white space, so that only a change of meaning
// counts as an alteration.
func normalizeSQL(s string) string { return strings.Join(strings.Fields(s), " ") }
