package audit

import (
	"context"
	"database/sql"
	"fmt"
	"os"
)

// sqliteBackend is the ledger in a SQLite file (see [Open]): one writer
// connection per process, whose BEGIN IMMEDIATE takes SQLite's write lock,
// and a pool of read-only connections. Opening and the schema's
// migrations are in ledger.go and schema.go, the bulk insert in append.go
// (insertRows).
type sqliteBackend struct{}

// lockWrite does nothing: the writer's transactions begin with BEGIN
// IMMEDIATE (its DSN sets _txlock=immediate), which takes the write lock.
func (sqliteBackend) lockWrite(context.Context, *sql.Tx) error { return nil }

// readTx begins a deferred read transaction: its first read takes the
// snapshot it reads to the end.
func (sqliteBackend) readTx(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	return db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// cursor runs the query: SQLite steps several statements of one
// connection at once.
func (sqliteBackend) cursor(ctx context.Context, tx *sql.Tx, query string) (rowCursor, error) {
	return tx.QueryContext(ctx, query)
}

// schemaProblems compares the schema with one built in memory (see
// expectedSchema), and checks application_id and user_version.
func (sqliteBackend) schemaProblems(ctx context.Context, tx *sql.Tx) ([]string, bool, error) {
	want, err := expectedSchema(ctx)
	if err != nil {
		return nil, false, err
	}
	got, err := readSchema(ctx, tx)
	if err != nil {
		return nil, false, err
	}
	var problems []string
	var appID, version int64
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)").Scan(&appID, &version); err != nil {
		return nil, false, classify(err)
	}
	if appID != ApplicationID || version != SchemaVersion {
		problems = append(problems, fmt.Sprintf("application_id %#x and user_version %d were changed", appID, version))
	}
	problems = append(problems, schemaProblems(got, want)...)
	return problems, checkpointsTableIntact(got, want), nil
}

// planStorage is storage.go's planStorage.
func (sqliteBackend) planStorage(ctx context.Context, tx *sql.Tx, size int64) (*storagePlan, error) {
	return planStorage(ctx, tx, size)
}

// checkStorage is the plan's checkStorage: SQLite's quick_check and the
// index scans.
func (sqliteBackend) checkStorage(ctx context.Context, plan *storagePlan, db *sql.DB) storageResult {
	return plan.checkStorage(ctx, db)
}

// prefixEnd appends 0xff, a byte UTF-8 never holds: SQLite compares text
// byte by byte.
func (sqliteBackend) prefixEnd(v string) string { return v + "\xff" }

// storageBytes is the size of the database file and its WAL.
func (sqliteBackend) storageBytes(_ context.Context, path string, _ *sql.DB) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// setIdentity rewrites the rows of meta with the table's append-only
// triggers dropped for the moment, and creates them again as the first
// migration did.
func (sqliteBackend) setIdentity(ctx context.Context, tx *sql.Tx, id, created string) error {
	for _, q := range []string{"DROP TRIGGER meta_no_update", "DROP TRIGGER meta_no_delete"} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return classify(err)
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM meta"); err != nil {
		return classify(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('ledger_id', ?), ('created_at', ?)", id, created); err != nil {
		return classify(err)
	}
	if _, err := tx.ExecContext(ctx, appendOnly("meta")); err != nil {
		return classify(err)
	}
	return nil
}

// close does nothing: the ledger's pools are all there is.
func (sqliteBackend) close() error { return nil }
