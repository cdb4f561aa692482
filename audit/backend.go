package audit

import (
	"context"
	"database/sql"
)

// backend is what differs between the ledger's two databases: SQLite
// (sqlite.go, a file) and PostgreSQL (postgres.go, a URL). Everything else,
// the flows, the Merkle tree, the leaf encoding, verification, reports,
// checkpoints and proofs, runs the same database/sql code and the same
// query text on both: the PostgreSQL connections rewrite SQLite's "?" and
// "?N" placeholders to "$N" as they go.
type backend interface {
	// lockWrite runs first in every write transaction and serializes the
	// writers of the ledger, from every process and host, until the
	// transaction ends, so that each sees the tree its events extend.
	lockWrite(ctx context.Context, tx *sql.Tx) error
	// readTx begins a read-only transaction that reads one snapshot.
	readTx(ctx context.Context, db *sql.DB) (*sql.Tx, error)
	// cursor runs a query inside tx whose rows are read while other
	// queries of tx run (Verify reads events and stored hashes side by
	// side).
	cursor(ctx context.Context, tx *sql.Tx, query string) (rowCursor, error)
	// schemaProblems describes, inside tx, every way the ledger's schema
	// differs from the one this package creates, and reports whether the
	// table checkpoints is intact enough to be read.
	schemaProblems(ctx context.Context, tx *sql.Tx) (problems []string, checkpointsIntact bool, err error)
	// planStorage and checkStorage are Verify's checks of the storage
	// beside the rows (see storage.go): SQLite's file and the ledger's
	// indexes compared with the table.
	planStorage(ctx context.Context, tx *sql.Tx, size int64) (*storagePlan, error)
	checkStorage(ctx context.Context, plan *storagePlan, db *sql.DB) storageResult
	// prefixEnd returns a string above every string that starts with v
	// and below the other strings above v, for range matches on an index.
	prefixEnd(v string) string
	// storageBytes is the ledger's size in storage.
	storageBytes(ctx context.Context, path string, db *sql.DB) int64
	// setIdentity replaces the ledger_id and created_at of a ledger just
	// created (see Copy), inside tx.
	setIdentity(ctx context.Context, tx *sql.Tx, id, created string) error
	// close releases what the backend holds beyond the ledger's *sql.DB.
	close() error
}

// rowCursor is the part of *sql.Rows that Verify uses.
type rowCursor interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// writeTx begins a write transaction on conn and takes the ledger's write
// lock in it.
func (l *Ledger) writeTx(ctx context.Context, conn interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}) (*sql.Tx, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, classify(err)
	}
	if err := l.db.lockWrite(ctx, tx); err != nil {
		tx.Rollback()
		return nil, classify(err)
	}
	return tx, nil
}

// readTx begins a read-only transaction on the read pool, which reads one
// snapshot of the ledger.
func (l *Ledger) readTx(ctx context.Context) (*sql.Tx, error) {
	r, err := l.reader()
	if err != nil {
		return nil, err
	}
	tx, err := l.db.readTx(ctx, r)
	if err != nil {
		return nil, classify(err)
	}
	return tx, nil
}
