package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrNotEmpty: [Copy] was given a destination ledger that already holds
// events or checkpoints.
var ErrNotEmpty = errors.New("audit: the destination ledger is not empty")

// CopyResult is what [Copy] copied.
type CopyResult struct {
	// Head is the tree head of the source, which the destination has.
	Head TreeHead `json:"head"`
	// Checkpoints is the number of stored checkpoints copied.
	Checkpoints int64 `json:"checkpoints"`
	// LedgerID is the ledger's identity, which the copy keeps.
	LedgerID string `json:"ledger_id"`
}

// copyTables are the tables Copy copies, in order, with their columns.
var copyTables = []struct{ table, columns string }{
	{"events", insertColumns},
	{"hashes", "seq, hashes"},
	{"checkpoints", checkpointColumns},
}

// Copy copies the whole ledger src, as one snapshot, into dst, which must
// be new (no events, no checkpoints), from SQLite to PostgreSQL or back:
// every event, stored hash and checkpoint, row for row, and the ledger's
// identity (ledger_id and created_at, which checkpoints name), all in one
// write transaction. Then it verifies dst (see [Ledger.Verify]) and checks
// that its tree head is the source's: the root hash of a ledger does not
// depend on its backend, so a checkpoint signed for src verifies dst.
func Copy(ctx context.Context, dst, src *Ledger) (*CopyResult, error) {
	w, err := dst.writer()
	if err != nil {
		return nil, fmt.Errorf("audit: copy: %w", err)
	}
	stx, err := src.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: copy: read the source: %w", err)
	}
	defer stx.Rollback()
	res := &CopyResult{}
	if res.Head, err = treeHead(ctx, stx); err != nil {
		return nil, fmt.Errorf("audit: copy: the source: %w", err)
	}
	var created string
	if err := stx.QueryRowContext(ctx, "SELECT (SELECT value FROM meta WHERE key = 'ledger_id'), (SELECT value FROM meta WHERE key = 'created_at')").
		Scan(&res.LedgerID, &created); err != nil {
		return nil, fmt.Errorf("audit: copy: read the source's identity: %w", classify(err))
	}

	conn, err := w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: copy: %w", classify(err))
	}
	defer conn.Close()
	tx, err := dst.writeTx(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("audit: copy: %w", err)
	}
	defer tx.Rollback()
	var events, checkpoints int64
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM checkpoints)").Scan(&events, &checkpoints); err != nil {
		return nil, fmt.Errorf("audit: copy: read the destination: %w", classify(err))
	}
	if events > 0 || checkpoints > 0 {
		return nil, fmt.Errorf("%w: it holds %d events and %d checkpoints", ErrNotEmpty, events, checkpoints)
	}
	if err := dst.db.setIdentity(ctx, tx, res.LedgerID, created); err != nil {
		return nil, fmt.Errorf("audit: copy: set the destination's identity: %w", err)
	}
	for _, t := range copyTables {
		n, err := copyTable(ctx, tx, stx, t.table, t.columns)
		if err != nil {
			return nil, fmt.Errorf("audit: copy: %s: %w", t.table, err)
		}
		if t.table == "checkpoints" {
			res.Checkpoints = n
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("audit: copy: commit: %w", classify(err))
	}
	if _, ok := dst.db.(*postgresBackend); ok {
		// Statistics for the planner now, rather than at autovacuum's
		// next visit; a role that may not analyze leaves it to autovacuum.
		w.ExecContext(ctx, "ANALYZE events, hashes, checkpoints")
	}
	rep, err := dst.Verify(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: copy: the copy fails verification: %w", err)
	}
	if rep.Head != res.Head {
		return nil, &IntegrityError{Seq: -1, Problem: fmt.Sprintf("the copy's tree head (%d events) differs from the source's (%d)", rep.Head.Size, res.Head.Size)}
	}
	return res, nil
}

// copyTable copies the rows of table from src to dst, insertChunk per
// INSERT, and returns how many.
func copyTable(ctx context.Context, dst, src *sql.Tx, table, columns string) (int64, error) {
	cols := len(strings.Split(columns, ", "))
	var rows [][]any
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		args := make([]any, 0, len(rows)*cols)
		for _, r := range rows {
			args = append(args, r...)
		}
		_, err := dst.ExecContext(ctx, insertSQL(table, columns, cols, len(rows)), args...)
		rows = rows[:0]
		return classify(err)
	}
	var n int64
	err := eachRow(ctx, src, "SELECT "+columns+" FROM "+table+" ORDER BY 1", nil, func(r *sql.Rows) error {
		row := make([]any, cols)
		ptrs := make([]any, cols)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			return err
		}
		rows = append(rows, row)
		n++
		if len(rows) == insertChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, flush()
}
