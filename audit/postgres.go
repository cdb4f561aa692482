package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// DefaultPostgresSchema is the PostgreSQL schema that holds a ledger when
// its URL names none (see [Open]).
const DefaultPostgresSchema = "tokenaudit"

// postgresConns is the most connections one open ledger holds.
const postgresConns = 4

// IsPostgresURL reports whether s names a ledger on PostgreSQL: a URL
// starting with postgres:// or postgresql://.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// RedactURL returns s with the password of a PostgreSQL URL removed (in
// its user part or as a password parameter), for messages; any other s is
// returned as it is.
func RedactURL(s string) string {
	if !IsPostgresURL(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://(a URL that does not parse)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// URLHasPassword reports whether a PostgreSQL URL holds a password.
func URLHasPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil || !IsPostgresURL(s) {
		return false
	}
	_, set := u.User.Password()
	return set || u.Query().Has("password")
}

// ErrNotDurable: the PostgreSQL server would acknowledge a commit before it
// is safely on disk (synchronous_commit or fsync is off for the session),
// so an event the ledger reports recorded could be lost in a crash. A
// writable [Open] refuses such a server.
var ErrNotDurable = errors.New("audit: the database server does not make commits durable")

// ErrLedgerUnavailable: the ledger's database server cannot be reached,
// or the connection to it was lost (PostgreSQL only).
var ErrLedgerUnavailable = errors.New("audit: the ledger's database server is unavailable")

// schemaName is what a ledger's PostgreSQL schema may be called.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// postgresBackend is the ledger in a schema of a PostgreSQL database,
// shared by processes on many hosts. Connections come from a pgxpool, and
// the ledger's *sql.DB uses them through pgx's database/sql adapter (see
// pgConnector). Writers serialize on a transaction-level advisory lock.
type postgresBackend struct {
	pool    *pgxpool.Pool
	schema  string // the schema's name, a plain lowercase identifier
	lockKey int64  // the advisory lock of the ledger's writers
	cursors atomic.Int64
}

// openPostgres opens the ledger at a postgres:// URL (see Open).
func openPostgres(raw string, cfg config) (*Ledger, error) {
	redacted := RedactURL(raw)
	ctx := context.Background()
	b, db, err := connectPostgres(ctx, raw, cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: open ledger %s: %w", redacted, err)
	}
	version, err := b.prepare(ctx, db, cfg.readOnly)
	if err != nil {
		db.Close()
		b.close()
		return nil, fmt.Errorf("audit: open ledger %s: %w", redacted, err)
	}
	l := &Ledger{path: redacted, r: db, db: b, now: cfg.now, actor: cfg.actor, schemaVersion: version,
		autoSigner: cfg.autoSigner, autoEvery: cfg.autoEvery, verifying: make(chan struct{}, postgresConns/2)}
	if !cfg.readOnly {
		l.w = db
	}
	return l, nil
}

// connectPostgres builds the pool and the *sql.DB over it, and checks with
// one connection that the server can be used.
func connectPostgres(ctx context.Context, raw string, cfg config) (*postgresBackend, *sql.DB, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, errors.New("the URL does not parse")
	}
	q := u.Query()
	schema := DefaultPostgresSchema
	if q.Has("schema") {
		schema = q.Get("schema")
		q.Del("schema")
		u.RawQuery = q.Encode()
	}
	if !schemaName.MatchString(schema) {
		return nil, nil, fmt.Errorf("schema %q: want lowercase letters, digits and _, at most 63", truncate(schema, 80))
	}
	pcfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		// pgconn's message may quote the URL: say only what is wrong.
		return nil, nil, errors.New("the URL is not a PostgreSQL connection URL")
	}
	pcfg.MaxConns = postgresConns
	pcfg.MinConns = 0
	params := pcfg.ConnConfig.RuntimeParams
	params["search_path"] = schema
	params["lock_timeout"] = strconv.FormatInt(cfg.busy.Milliseconds(), 10)
	if params["application_name"] == "" {
		params["application_name"] = "tokenaudit"
	}
	if cfg.readOnly {
		params["default_transaction_read_only"] = "on"
	}
	write := !cfg.readOnly
	pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error { return checkSession(ctx, c, write) }
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, nil, classify(err)
	}
	h := fnv.New64a()
	io.WriteString(h, "tokenaudit ledger "+schema)
	b := &postgresBackend{pool: pool, schema: schema, lockKey: int64(h.Sum64())}
	db := sql.OpenDB(pgConnector{stdlib.GetPoolConnector(pool)})
	db.SetMaxIdleConns(0) // the pool keeps the idle connections
	c, err := pool.Acquire(ctx)
	if err != nil {
		db.Close()
		pool.Close()
		return nil, nil, classify(err)
	}
	c.Release()
	return b, db, nil
}

// checkSession checks each new connection: a UTF-8 database, and, for a
// writer, commits that are durable when acknowledged.
func checkSession(ctx context.Context, c *pgx.Conn, write bool) error {
	var syncCommit, fsync, enc string
	err := c.QueryRow(ctx, "SELECT current_setting('synchronous_commit'), current_setting('fsync'), current_setting('server_encoding')").
		Scan(&syncCommit, &fsync, &enc)
	if err != nil {
		return err
	}
	switch {
	case enc != "UTF8":
		return fmt.Errorf("the database's encoding is %s: a ledger needs a UTF8 database (CREATE DATABASE … ENCODING 'UTF8')", enc)
	case write && syncCommit == "off":
		return fmt.Errorf("%w: synchronous_commit is off for this session, so an acknowledged event could be lost in a crash; "+
			"set it on (postgresql.conf, ALTER DATABASE or ALTER ROLE … SET synchronous_commit = on)", ErrNotDurable)
	case write && fsync != "on":
		return fmt.Errorf("%w: the server runs with fsync off, so an acknowledged event could be lost in a crash", ErrNotDurable)
	}
	return nil
}

// ident is the schema's name as an SQL identifier.
func (b *postgresBackend) ident() string { return pgx.Identifier{b.schema}.Sanitize() }

// schemaComment marks the table events of a ledger, with its schema version.
const schemaComment = "tokenaudit ledger, schema version "

// probe returns the ledger's schema version, 0 for a schema that holds
// nothing (or does not exist), inside q.
func (b *postgresBackend) probe(ctx context.Context, q queryer) (int, error) {
	var objects int64
	var comment sql.NullString
	err := q.QueryRowContext(ctx, `SELECT
    (SELECT count(*) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = ?1),
    (SELECT obj_description(c.oid, 'pg_class') FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE n.nspname = ?1 AND c.relname = 'events' AND c.relkind = 'r')`, b.schema).Scan(&objects, &comment)
	if err != nil {
		return 0, fmt.Errorf("read the schema: %w", classify(err))
	}
	if objects == 0 {
		return 0, nil
	}
	v, err := strconv.Atoi(strings.TrimPrefix(comment.String, schemaComment))
	if !strings.HasPrefix(comment.String, schemaComment) || err != nil || v < 1 {
		return 0, fmt.Errorf("%w: schema %s holds tables of another application", ErrNotALedger, b.schema)
	}
	if v > SchemaVersion {
		return 0, fmt.Errorf("%w: schema version %d, this tokenaudit knows up to %d", ErrNewerSchema, v, SchemaVersion)
	}
	return v, nil
}

// prepare checks that the schema holds a ledger, creating it when the
// schema holds nothing and the ledger is writable, and returns its schema
// version. A missing ledger opened read-only wraps fs.ErrNotExist.
func (b *postgresBackend) prepare(ctx context.Context, db *sql.DB, readOnly bool) (int, error) {
	v, err := b.probe(ctx, db)
	switch {
	case err != nil:
		return 0, err
	case v == SchemaVersion && !readOnly:
		return v, b.upgradeFunctions(ctx, db)
	case v == SchemaVersion:
		return v, nil
	case v != 0:
		// Schema version 3 is the first on PostgreSQL.
		return 0, fmt.Errorf("%w: schema version %d", ErrNotALedger, v)
	case readOnly:
		return 0, fmt.Errorf("no ledger in schema %s: %w", b.schema, fs.ErrNotExist)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, classify(err)
	}
	defer tx.Rollback()
	if err := b.lockWrite(ctx, tx); err != nil {
		return 0, classify(err)
	}
	if v, err := b.probe(ctx, tx); err != nil || v != 0 {
		return v, err // created meanwhile
	}
	if err := b.create(ctx, tx); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("create the ledger: commit: %w", classify(err))
	}
	return SchemaVersion, nil
}

// create makes the ledger's tables, triggers, indexes, view and identity
// inside tx.
func (b *postgresBackend) create(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, b.ddl()); err != nil {
		return fmt.Errorf("create the ledger's schema %s: %w", b.schema, classify(err))
	}
	id := make([]byte, 16)
	rand.Read(id)
	created := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('ledger_id', ?), ('created_at', ?)", hex.EncodeToString(id), created); err != nil {
		return fmt.Errorf("create the ledger: %w", classify(err))
	}
	return nil
}

// pgTrigger is one trigger of the ledger's schema.
type pgTrigger struct{ table, name, when, level, function string }

// def is the trigger's definition as pg_get_triggerdef shows it, with the
// schema s (an SQL identifier) before the table and function names.
func (t pgTrigger) def(s string) string {
	return fmt.Sprintf("CREATE TRIGGER %s %s ON %s%s %s EXECUTE FUNCTION %s%s()", t.name, t.when, s, t.table, t.level, s, t.function)
}

// pgTriggers lists the ledger's triggers: UPDATE, DELETE and TRUNCATE are
// refused on every table, seq must be dense, checkpoints sign no more
// events than the ledger holds.
func pgTriggers() []pgTrigger {
	ts := []pgTrigger{
		{"events", "events_dense", "AFTER INSERT", "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT", "events_dense"},
		{"checkpoints", "checkpoints_within_tree", "BEFORE INSERT", "FOR EACH ROW", "checkpoints_within_tree"},
	}
	for _, table := range []string{"meta", "events", "hashes", "checkpoints"} {
		for _, op := range []string{"update", "delete", "truncate"} {
			ts = append(ts, pgTrigger{table, table + "_no_" + op, "BEFORE " + strings.ToUpper(op), "FOR EACH STATEMENT", "refuse_change"})
		}
	}
	return ts
}

// pgFunctions returns the bodies of the ledger's functions, by name, for
// the schema s (an SQL identifier).
func pgFunctions(s string) map[string]string {
	return map[string]string{
		"refuse_change": `
BEGIN
    RAISE EXCEPTION 'tokenaudit: the ledger is append-only: % rows cannot be %', TG_TABLE_NAME,
        CASE TG_OP WHEN 'UPDATE' THEN 'updated' WHEN 'DELETE' THEN 'deleted' ELSE 'truncated' END;
END`,
		// Once per statement, over the rows it inserted: they must be
		// seq lo to hi, each once, right after the ledger's last event.
		"events_dense": eventsDense(s, "(SELECT max(seq) FROM "+s+".events) > hi"),
		"checkpoints_within_tree": `
BEGIN
    IF NEW.id IS NULL THEN
        NEW.id := coalesce((SELECT max(id) FROM ` + s + `.checkpoints), 0) + 1;
    END IF;
    IF NEW.tree_size > (SELECT coalesce(max(seq) + 1, 0) FROM ` + s + `.events) THEN
        RAISE EXCEPTION 'tokenaudit: a checkpoint cannot sign more events than the ledger holds';
    END IF;
    RETURN NEW;
END`,
		// SQLite's scalar functions that the queries shared with SQLite
		// call: json_extract of a path '$.key…', min of two texts, ifnull.
		"json_extract": `SELECT $1::json #>> string_to_array(substr($2, 3), '.')`,
		"min":          `SELECT least($1, $2)`,
		"ifnull":       `SELECT coalesce($1, $2)`,
		// SQLite's unary + on text (a planner hint there), as an operator.
		"text_plus": `SELECT $1`,
	}
}

// eventsDense is the body of the trigger function events_dense, whose
// last test, that no event comes after the inserted ones, is beyond.
func eventsDense(s, beyond string) string {
	return `
DECLARE
    lo bigint;
    hi bigint;
    n  bigint;
BEGIN
    SELECT min(seq), max(seq), count(*) INTO lo, hi, n FROM new_rows;
    IF n > 0 AND (hi - lo + 1 <> n
        OR (lo > 0 AND NOT EXISTS (SELECT 1 FROM ` + s + `.events WHERE seq = lo - 1))
        OR ` + beyond + `) THEN
        RAISE EXCEPTION 'tokenaudit: events.seq must be the next sequence number';
    END IF;
    RETURN NULL;
END`
}

// earlierEventsDense is the body events_dense had in the ledgers the first
// PostgreSQL backend created: EXISTS (… WHERE seq > hi), which PL/pgSQL's
// cached generic plan ran as a scan of the whole table (no row matches),
// 15 ms an append on a 100,000-event ledger. max(seq) is read from the
// index whatever the plan. A writable Open replaces it (see
// upgradeFunctions); Verify accepts it, as it decides nothing else.
func earlierEventsDense(s string) string {
	return eventsDense(s, "EXISTS (SELECT 1 FROM "+s+".events WHERE seq > hi)")
}

// upgradeFunctions replaces an earlier body of events_dense by today's,
// when the session may (the ledger's owner); a writer role that may not
// keeps the earlier one, which is as strict, only slower.
func (b *postgresBackend) upgradeFunctions(ctx context.Context, db *sql.DB) error {
	s := b.ident()
	// Under the writers' lock, so that writers opening at once do not
	// replace it at once (PostgreSQL refuses concurrent updates of one
	// function).
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("upgrade the trigger function events_dense: %w", classify(err))
	}
	defer tx.Rollback()
	if err := b.lockWrite(ctx, tx); err != nil {
		return fmt.Errorf("upgrade the trigger function events_dense: %w", classify(err))
	}
	var src string
	err = tx.QueryRowContext(ctx, `SELECT p.prosrc FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = ? AND p.proname = 'events_dense'`, b.schema).Scan(&src)
	if err != nil || src != earlierEventsDense(s) {
		return nil // nothing to upgrade, or Verify says what is wrong
	}
	_, err = tx.ExecContext(ctx, "CREATE OR REPLACE "+functionDef(s, "events_dense", pgFunctions(s)["events_dense"]))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege
		return nil
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("upgrade the trigger function events_dense: %w", classify(err))
	}
	return nil
}

// functionDef is the definition, after CREATE, of the ledger's function
// name (one of pgFunctions) in the schema s, with body.
func functionDef(s, name, body string) string {
	if sig, ok := pgScalars[name]; ok {
		return fmt.Sprintf("FUNCTION %s.%s %s AS $body$%s$body$", s, name, sig, body)
	}
	return fmt.Sprintf("FUNCTION %s.%s() RETURNS trigger LANGUAGE plpgsql AS $body$%s$body$", s, name, body)
}

// pgScalars are the signatures of the SQL functions among pgFunctions (the
// others are trigger functions).
var pgScalars = map[string]string{
	"json_extract": "(doc text, path text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE",
	"min":          "(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE",
	"ifnull":       "(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE",
	"text_plus":    "(a text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE",
}

// pgIndexes lists the ledger's indexes as pg_get_indexdef shows them, with
// %[1]s for the schema.
var pgIndexes = map[string]string{
	"meta_pkey":             "CREATE UNIQUE INDEX meta_pkey ON %[1]s.meta USING btree (key)",
	"events_pkey":           "CREATE UNIQUE INDEX events_pkey ON %[1]s.events USING btree (seq)",
	"hashes_pkey":           "CREATE UNIQUE INDEX hashes_pkey ON %[1]s.hashes USING btree (seq)",
	"checkpoints_pkey":      "CREATE UNIQUE INDEX checkpoints_pkey ON %[1]s.checkpoints USING btree (id)",
	"events_fp":             "CREATE INDEX events_fp ON %[1]s.events USING btree (fingerprint_key, kind, cdata) WHERE (fingerprint_key IS NOT NULL)",
	"events_cdata":          "CREATE INDEX events_cdata ON %[1]s.events USING btree (cdata)",
	"events_kind":           "CREATE INDEX events_kind ON %[1]s.events USING btree (kind)",
	"events_ts":             "CREATE INDEX events_ts ON %[1]s.events USING btree (ts)",
	"events_request_seq":    "CREATE INDEX events_request_seq ON %[1]s.events USING btree (request_seq) WHERE (request_seq IS NOT NULL)",
	"events_import_iat":     "CREATE INDEX events_import_iat ON %[1]s.events USING btree (%[1]s.json_extract(detail, '$.token_iat'::text)) WHERE (kind = 'import'::text)",
	"checkpoints_tree_size": "CREATE INDEX checkpoints_tree_size ON %[1]s.checkpoints USING btree (tree_size)",
}

// pgRelations lists the ledger's tables (r) and view (v).
var pgRelations = map[string]string{"meta": "r", "events": "r", "hashes": "r", "checkpoints": "r", "tokens": "v"}

// ddl returns the statements that create the ledger in its schema: the
// tables, columns and view of SQLite's schema version 3, in PostgreSQL's
// types. Text is COLLATE "C" (byte order, as SQLite compares), detail is
// text checked to be a JSON object (json would do, jsonb would reorder its
// keys), ts is text in the leaf's form.
func (b *postgresBackend) ddl() string {
	s := b.ident()
	const tsCheck = `CHECK (ts ~ '^[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9][.][0-9]{6}Z$')`
	var d strings.Builder
	fmt.Fprintf(&d, `
CREATE SCHEMA IF NOT EXISTS %[1]s;

CREATE TABLE %[1]s.meta (
    key   text COLLATE "C" PRIMARY KEY,
    value text COLLATE "C" NOT NULL
);

CREATE TABLE %[1]s.events (
    seq         bigint  PRIMARY KEY CHECK (seq >= 0),
    ts          text    COLLATE "C" NOT NULL %[2]s,
    kind        text    COLLATE "C" NOT NULL CHECK (kind ~ '^[a-z_]+$'),
    fingerprint text    COLLATE "C" NOT NULL DEFAULT '' CHECK (fingerprint = '' OR fingerprint ~ '^sha256:[0-9a-f]{64}$'),
    cdata       text    COLLATE "C" NOT NULL DEFAULT '',
    subject     text    COLLATE "C" NOT NULL DEFAULT '',
    actor       text    COLLATE "C" NOT NULL DEFAULT '',
    api_url     text    COLLATE "C" NOT NULL DEFAULT '',
    http_status integer CHECK (http_status BETWEEN 100 AND 599),
    request_seq bigint  CHECK (request_seq >= 0 AND request_seq < seq),
    error       text    COLLATE "C" NOT NULL DEFAULT '',
    detail      text    COLLATE "C" NOT NULL DEFAULT '{}' CHECK (json_typeof(detail::json) = 'object'),
    leaf_hash   bytea   NOT NULL CHECK (length(leaf_hash) = 32),
    fingerprint_key bigint
);
COMMENT ON TABLE %[1]s.events IS '%[3]s%[4]d';

CREATE TABLE %[1]s.hashes (
    seq    bigint PRIMARY KEY CHECK (seq >= 0),
    hashes bytea  NOT NULL CHECK (length(hashes) >= 32 AND length(hashes) %% 32 = 0)
);

CREATE TABLE %[1]s.checkpoints (
    id        bigint PRIMARY KEY CHECK (id >= 1),
    ts        text   COLLATE "C" NOT NULL %[2]s,
    tree_size bigint NOT NULL CHECK (tree_size >= 0),
    root_hash bytea  NOT NULL CHECK (length(root_hash) = 32),
    signer    text   COLLATE "C" NOT NULL CHECK (signer <> ''),
    note      text   COLLATE "C" NOT NULL CHECK (note <> '')
);
`, s, tsCheck, schemaComment, SchemaVersion)
	fns := pgFunctions(s)
	for _, name := range slices.Sorted(maps.Keys(fns)) {
		fmt.Fprintf(&d, "\nCREATE %s;\n", functionDef(s, name, fns[name]))
	}
	fmt.Fprintf(&d, "CREATE OPERATOR %[1]s.+ (RIGHTARG = text, FUNCTION = %[1]s.text_plus);\n", s)
	for _, t := range pgTriggers() {
		d.WriteString(t.def(s+".") + ";\n")
	}
	for _, name := range slices.Sorted(maps.Keys(pgIndexes)) {
		if !strings.HasSuffix(name, "_pkey") {
			d.WriteString(fmt.Sprintf(pgIndexes[name], s) + ";\n")
		}
	}
	fmt.Fprintf(&d, "\nCREATE VIEW %s.tokens AS\n%s;\n", s, pgTokensView())
	return d.String()
}

// pgTokensView returns the query of the view tokens: tokensViewV3's
// columns, whose expressions call SQLite's scalar functions (json_extract,
// min of two values: the schema's functions, see pgFunctions), over the
// same rows found another way. Each token's latest state-changing event is
// a LATERAL subquery rather than a join on a correlated max(seq), which
// PostgreSQL's planner would compute for every token before a LIMIT (2 s
// rather than 2 ms for 100 tokens of a 100,000-event ledger).
func pgTokensView() string {
	_, query, _ := strings.Cut(tokensViewV3, " AS\n")
	columns, _, _ := strings.Cut(query, "\nFROM events AS b\n")
	return strings.TrimSpace(columns) + `
FROM events AS b
CROSS JOIN LATERAL (
    SELECT x.seq, x.kind, x.ts, x.actor FROM events AS x
    WHERE x.fingerprint_key = b.fingerprint_key
      AND x.kind IN ('issue', 'import', 'seen_live', 'revoke', 'revoked_elsewhere')
      AND x.fingerprint = b.fingerprint
    ORDER BY x.seq DESC LIMIT 1) AS s
WHERE b.kind IN ('issue', 'import')
  AND NOT EXISTS (
    SELECT 1 FROM events AS p
    WHERE p.fingerprint_key = b.fingerprint_key AND p.kind IN ('issue', 'import') AND p.seq < b.seq
      AND p.fingerprint = b.fingerprint)`
}

// lockWrite takes the ledger's advisory lock until the transaction ends,
// waiting at most the busy timeout (lock_timeout).
func (b *postgresBackend) lockWrite(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", b.lockKey)
	return err
}

// readTx begins a REPEATABLE READ transaction: all its statements read the
// snapshot of its first.
func (b *postgresBackend) readTx(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	return db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
}

// insertPostgres computes every row first (rw reuses its buffers a chunk
// at a time, so the values are copied), then sends them through the pgx
// connection, inside the transaction open on it: one round trip of two
// INSERTs for a few events, COPY for more.
func insertPostgres(ctx context.Context, c pgConn, rw *rowWriter) error {
	n := len(rw.events)
	evRows := make([][]any, 0, n)
	hRows := make([][]any, 0, n)
	for i := 0; i < n; i += insertChunk {
		j := min(i+insertChunk, n)
		if err := rw.chunk(i, j); err != nil {
			return err
		}
		for k := range j - i {
			row := make([]any, insertArgs)
			for c := range row {
				row[c] = copyValue(rw.ev[insertArgs*k+c].Value)
			}
			evRows = append(evRows, row)
			hRows = append(hRows, []any{rw.h[2*k].Value, copyValue(rw.h[2*k+1].Value)})
		}
	}
	pc := c.Conn.Conn()
	first, last := rw.events[0].Seq, rw.events[n-1].Seq
	if n <= insertChunk {
		var batch pgx.Batch
		batch.Queue(rebind(insertSQL("events", insertColumns, insertArgs, n)), slices.Concat(evRows...)...)
		batch.Queue(rebind(insertSQL("hashes", "seq, hashes", 2, n)), slices.Concat(hRows...)...)
		if err := pc.SendBatch(ctx, &batch).Close(); err != nil {
			return fmt.Errorf("insert events %d to %d: %w", first, last, classify(err))
		}
		return nil
	}
	if _, err := pc.CopyFrom(ctx, pgx.Identifier{"events"}, strings.Split(insertColumns, ", "), pgx.CopyFromRows(evRows)); err != nil {
		return fmt.Errorf("insert events %d to %d: %w", first, last, classify(err))
	}
	if _, err := pc.CopyFrom(ctx, pgx.Identifier{"hashes"}, []string{"seq", "hashes"}, pgx.CopyFromRows(hRows)); err != nil {
		return fmt.Errorf("insert the stored hashes of seq %d to %d: %w", first, last, classify(err))
	}
	return nil
}

// copyValue copies a []byte value, which a rowWriter reuses.
func copyValue(v driver.Value) any {
	if b, ok := v.([]byte); ok {
		return bytes.Clone(b)
	}
	return v
}

// pgCursorPage is how many rows a cursor fetches at a time.
const pgCursorPage = 1024

// cursor declares a cursor for the query inside tx and fetches its rows a
// page at a time: a PostgreSQL connection reads one result at a time.
func (b *postgresBackend) cursor(ctx context.Context, tx *sql.Tx, query string) (rowCursor, error) {
	name := "tokenaudit_cursor_" + strconv.FormatInt(b.cursors.Add(1), 10)
	if _, err := tx.ExecContext(ctx, "DECLARE "+name+" NO SCROLL CURSOR FOR "+query); err != nil {
		return nil, err
	}
	return &pgCursor{ctx: ctx, tx: tx, name: name, i: -1}, nil
}

// pgCursor reads a cursor's rows a page at a time.
type pgCursor struct {
	ctx  context.Context
	tx   *sql.Tx
	name string
	page [][]any
	i    int
	done bool
	err  error
}

// Next implements rowCursor.
func (c *pgCursor) Next() bool {
	if c.i+1 < len(c.page) {
		c.i++
		return true
	}
	if c.done || c.err != nil {
		return false
	}
	c.page, c.i = c.page[:0], 0
	rows, err := c.tx.QueryContext(c.ctx, "FETCH "+strconv.Itoa(pgCursorPage)+" FROM "+c.name)
	if err != nil {
		c.err = err
		return false
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		c.err = err
		return false
	}
	for rows.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for k := range row {
			ptrs[k] = &row[k]
		}
		if err := rows.Scan(ptrs...); err != nil {
			c.err = err
			return false
		}
		c.page = append(c.page, row)
	}
	if c.err = rows.Err(); c.err != nil {
		return false
	}
	c.done = len(c.page) < pgCursorPage
	return len(c.page) > 0
}

// Scan implements rowCursor, into *int64 and *sql.RawBytes.
func (c *pgCursor) Scan(dest ...any) error {
	row := c.page[c.i]
	if len(dest) != len(row) {
		return fmt.Errorf("scan %d values into %d", len(row), len(dest))
	}
	for k, d := range dest {
		switch d := d.(type) {
		case *int64:
			v, ok := row[k].(int64)
			if !ok {
				return fmt.Errorf("column %d is %T, not an integer", k, row[k])
			}
			*d = v
		case *sql.NullInt64:
			switch v := row[k].(type) {
			case int64:
				*d = sql.NullInt64{Int64: v, Valid: true}
			case nil:
				*d = sql.NullInt64{}
			default:
				return fmt.Errorf("column %d is %T, not an integer", k, row[k])
			}
		case *sql.RawBytes:
			switch v := row[k].(type) {
			case []byte:
				*d = v
			case string:
				*d = []byte(v)
			case nil:
				*d = nil
			default:
				return fmt.Errorf("column %d is %T, not text", k, row[k])
			}
		default:
			return fmt.Errorf("cannot scan into %T", d)
		}
	}
	return nil
}

// Err implements rowCursor.
func (c *pgCursor) Err() error { return c.err }

// Close implements rowCursor. The cursor ends with its transaction.
func (c *pgCursor) Close() error { return nil }

// schemaProblems checks the catalog: the schema version, the tables and
// view, each trigger (present, enabled, as created), each function's
// source and each index. The view's query and the columns' constraints
// are not compared.
func (b *postgresBackend) schemaProblems(ctx context.Context, tx *sql.Tx) ([]string, bool, error) {
	var problems []string
	s := b.ident()
	strip := func(def string) string {
		return normalizeSQL(strings.ReplaceAll(strings.ReplaceAll(def, s+".", ""), b.schema+".", ""))
	}
	v, err := b.probe(ctx, tx)
	if err != nil || v != SchemaVersion {
		problems = append(problems, fmt.Sprintf("the comment on the table events, which gives the schema version, was changed (%v)", err))
	}
	rels := map[string]string{}
	if err := eachRow(ctx, tx, `SELECT c.relname, c.relkind FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ? AND c.relkind IN ('r', 'v', 'm', 'p', 'f')`, []any{b.schema}, func(rows *sql.Rows) error {
		var name, kind string
		err := rows.Scan(&name, &kind)
		rels[name] = kind
		return err
	}); err != nil {
		return nil, false, err
	}
	kindName := map[string]string{"r": "table", "v": "view"}
	for _, name := range slices.Sorted(maps.Keys(pgRelations)) {
		if k, ok := rels[name]; !ok || k != pgRelations[name] {
			problems = append(problems, fmt.Sprintf("%s %s is missing", kindName[pgRelations[name]], name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rels)) {
		if _, ok := pgRelations[name]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected table or view %s", name))
		}
	}

	type trig struct{ enabled, def string }
	got := map[string]trig{}
	if err := eachRow(ctx, tx, `SELECT t.tgname, t.tgenabled::text, pg_get_triggerdef(t.oid)
FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ? AND NOT t.tgisinternal`, []any{b.schema}, func(rows *sql.Rows) error {
		var name string
		var t trig
		err := rows.Scan(&name, &t.enabled, &t.def)
		got[name] = t
		return err
	}); err != nil {
		return nil, false, err
	}
	want := map[string]pgTrigger{}
	for _, t := range pgTriggers() {
		want[t.name] = t
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("trigger %s is missing", name))
		case strip(g.def) != strip(want[name].def("")):
			problems = append(problems, fmt.Sprintf("trigger %s was altered", name))
		case g.enabled != "O":
			problems = append(problems, fmt.Sprintf("trigger %s is disabled", name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[name]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected trigger %s", name))
		}
	}

	fns := map[string]string{}
	if err := eachRow(ctx, tx, `SELECT p.proname, p.prosrc FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = ?`, []any{b.schema}, func(rows *sql.Rows) error {
		var name, src string
		err := rows.Scan(&name, &src)
		fns[name] = src
		return err
	}); err != nil {
		return nil, false, err
	}
	wantFns := pgFunctions(s)
	for _, name := range slices.Sorted(maps.Keys(wantFns)) {
		src, ok := fns[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("function %s is missing", name))
		case src != wantFns[name] && !(name == "events_dense" && src == earlierEventsDense(s)):
			problems = append(problems, fmt.Sprintf("function %s was altered", name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(fns)) {
		if _, ok := wantFns[name]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected function %s", name))
		}
	}

	idx := map[string]string{}
	if err := eachRow(ctx, tx, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = ?", []any{b.schema}, func(rows *sql.Rows) error {
		var name, def string
		err := rows.Scan(&name, &def)
		idx[name] = def
		return err
	}); err != nil {
		return nil, false, err
	}
	for _, name := range slices.Sorted(maps.Keys(pgIndexes)) {
		def, ok := idx[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("index %s is missing", name))
		case strip(def) != strip(fmt.Sprintf(pgIndexes[name], s)):
			problems = append(problems, fmt.Sprintf("index %s was altered", name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(idx)) {
		if _, ok := pgIndexes[name]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected index %s", name))
		}
	}
	if rels["tokens"] == "v" {
		if p := b.viewProblem(ctx, tx); p != "" {
			problems = append(problems, p)
		}
	}
	return problems, rels["checkpoints"] == "r", nil
}

// viewProblem compares the view tokens, as PostgreSQL shows it, with the
// view this package creates, built as a temporary view in a transaction of
// its own that is rolled back. It returns "" when they agree, or when no
// temporary view can be made (no TEMP privilege): then it is not compared.
func (b *postgresBackend) viewProblem(ctx context.Context, tx *sql.Tx) string {
	var got string
	if err := tx.QueryRowContext(ctx, "SELECT pg_get_viewdef(c.oid) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = 'tokens'", b.schema).Scan(&got); err != nil {
		return ""
	}
	c, err := b.pool.Acquire(ctx)
	if err != nil {
		return ""
	}
	defer c.Release()
	etx, err := c.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		return ""
	}
	defer etx.Rollback(ctx)
	var want string
	if _, err := etx.Exec(ctx, "CREATE TEMPORARY VIEW tokenaudit_expected_tokens AS "+pgTokensView()); err != nil {
		return ""
	}
	if err := etx.QueryRow(ctx, "SELECT pg_get_viewdef('pg_temp.tokenaudit_expected_tokens'::regclass)").Scan(&want); err != nil {
		return ""
	}
	if normalizeSQL(got) != normalizeSQL(want) {
		return "view tokens was altered"
	}
	return ""
}

// planStorage plans nothing: PostgreSQL checks its own pages (with data
// checksums, when the cluster has them), and amcheck, not this package,
// compares its indexes with their tables.
func (b *postgresBackend) planStorage(_ context.Context, _ *sql.Tx, size int64) (*storagePlan, error) {
	return &storagePlan{size: size}, nil
}

// checkStorage finds nothing (see planStorage).
func (b *postgresBackend) checkStorage(context.Context, *storagePlan, *sql.DB) storageResult {
	return storageResult{}
}

// prefixEnd appends U+10FFFF, the last code point: PostgreSQL holds only
// valid UTF-8, which sorts (COLLATE "C") in code point order.
func (b *postgresBackend) prefixEnd(v string) string { return v + "\U0010FFFF" }

// storageBytes is the size of the ledger's tables and their indexes.
func (b *postgresBackend) storageBytes(ctx context.Context, _ string, db *sql.DB) int64 {
	var n sql.NullInt64
	db.QueryRowContext(ctx, `SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind = 'r'`, b.schema).Scan(&n)
	return n.Int64
}

// setIdentity rewrites the rows of meta with its triggers disabled for
// the moment (the owner of the ledger's tables may).
func (b *postgresBackend) setIdentity(ctx context.Context, tx *sql.Tx, id, created string) error {
	for _, q := range []string{
		"ALTER TABLE meta DISABLE TRIGGER USER",
		"DELETE FROM meta",
		"INSERT INTO meta (key, value) VALUES ('ledger_id', ?), ('created_at', ?)",
		"ALTER TABLE meta ENABLE TRIGGER USER",
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{id, created}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return classify(err)
		}
	}
	return nil
}

// close closes the pool.
func (b *postgresBackend) close() error {
	b.pool.Close()
	return nil
}

// classifyPostgres narrows an error of pgx (see classify); it returns nil
// for an error it does not know.
func classifyPostgres(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "55P03", pe.Code == "40P01": // lock_not_available, deadlock_detected
			return fmt.Errorf("%w: %w", ErrLedgerLocked, err)
		case pe.Code == "25006", pe.Code == "42501": // read_only_sql_transaction, insufficient_privilege
			return fmt.Errorf("%w: %w", ErrLedgerReadOnly, err)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), pe.Code == "53300":
			// Connection exceptions, the server shutting down or
			// starting, too many connections.
			return fmt.Errorf("%w: %w", ErrLedgerUnavailable, err)
		}
		return nil
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, driver.ErrBadConn),
		pgconn.SafeToRetry(err), errors.Is(err, pgconn.ErrConnClosed):
		return fmt.Errorf("%w: %w", ErrLedgerUnavailable, err)
	}
	return nil
}

// indexedBy matches SQLite's INDEXED BY clause, which names the index a
// query must use: a hint for SQLite's planner, which PostgreSQL's ignores.
var indexedBy = regexp.MustCompile(`(?i)\s+INDEXED\s+BY\s+[a-z_0-9]+`)

// rebind rewrites a query of the SQLite dialect for PostgreSQL: SQLite's
// placeholders, "?" and "?N" outside string literals, become "$N", and an
// INDEXED BY clause is dropped. (SQLite's scalar functions and its unary +
// on text are the ledger schema's functions and operator.)
func rebind(q string) string {
	if strings.Contains(q, "INDEXED BY") {
		q = indexedBy.ReplaceAllString(q, "")
	}
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(q[i+1 : j])
				i = j - 1
			} else {
				n++
				b.WriteString(strconv.Itoa(n))
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// pgConnector hands database/sql pgx connections whose queries are
// rebound (see rebind).
type pgConnector struct{ driver.Connector }

// Connect implements driver.Connector.
func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return pgConn{dc.(*stdlib.Conn)}, nil
}

// pgConn is a pgx database/sql connection that rebinds each query.
type pgConn struct{ *stdlib.Conn }

// Prepare implements driver.Conn.
func (c pgConn) Prepare(q string) (driver.Stmt, error) { return c.Conn.Prepare(rebind(q)) }

// PrepareContext implements driver.ConnPrepareContext.
func (c pgConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(q))
}

// ExecContext implements driver.ExecerContext.
func (c pgConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(q), args)
}

// QueryContext implements driver.QueryerContext.
func (c pgConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(q), args)
}

// roleName is what GrantRole accepts as a role's name.
var roleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ErrNoRoles: roles were asked of a ledger in a SQLite file, whose access
// the file's permissions decide.
var ErrNoRoles = errors.New("audit: roles are PostgreSQL's; a SQLite ledger's file permissions decide who may read and write it")

// GrantRole lets a PostgreSQL role use the ledger: read it (SELECT), and,
// with write, append to it (INSERT on events, hashes and checkpoints).
// Nothing more: the role cannot update, delete, truncate or drop anything,
// nor change the ledger's identity. The role must exist.
func (l *Ledger) GrantRole(ctx context.Context, role string, write bool) error {
	b, ok := l.db.(*postgresBackend)
	if !ok {
		return ErrNoRoles
	}
	w, err := l.writer()
	if err != nil {
		return err
	}
	if !roleName.MatchString(role) {
		return fmt.Errorf("audit: grant: role %q: want letters, digits and _, at most 63", truncate(role, 80))
	}
	r, s := pgx.Identifier{role}.Sanitize(), b.ident()
	stmts := []string{
		"GRANT USAGE ON SCHEMA " + s + " TO " + r,
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + s + " TO " + r,
	}
	if write {
		stmts = append(stmts, "GRANT INSERT ON "+s+".events, "+s+".hashes, "+s+".checkpoints TO "+r)
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: grant: %w", classify(err))
	}
	defer tx.Rollback()
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("audit: grant %s to %s: %w", map[bool]string{true: "writing", false: "reading"}[write], role, classify(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit: grant: %w", classify(err))
	}
	return nil
}
