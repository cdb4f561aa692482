package audit

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// VerifyReport is the outcome of [Ledger.Verify].
type VerifyReport struct {
	// Verified is the number of events, from seq 0, found intact: the tree
	// size when the ledger is intact, else the first bad seq.
	Verified int64 `json:"verified"`
	// Head is the tree head recomputed from the first Verified rows alone.
	Head TreeHead `json:"head"`
	// Problems lists what is wrong: at most one tied to an event (the first
	// bad seq, which verification stops at), then every schema problem.
	Problems []*IntegrityError `json:"problems,omitempty"`
}

// OK reports whether verification found no problem.
func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Verify checks the whole ledger in one read snapshot, without trusting
// anything it stored about itself: it recomputes every leaf from its row
// (see [Event.LeafBytes]), checks the row's leaf_hash, that seq is dense from
// 0, and that every stored Merkle hash is what RFC 6962 gives for the leaves
// before it, with none missing and none extra; and it checks that the
// schema (tables, triggers, indexes, the tokens view) is the one this
// package creates. It stops at the first bad seq. It also checks the file:
// SQLite's PRAGMA quick_check, and every index of events against the table
// (see storage.go), naming a damaged table or index; a page that cannot be
// read is a problem, not an error. Each stored checkpoint
// (see [Ledger.Checkpoint]) must sign a prefix of the events: same root
// hash at its size, and no more events than the ledger holds; signatures
// are not checked (that needs the verifier key: see [OpenCheckpoint]).
//
// When the ledger is intact Verify returns the report and nil. When it is
// not, the report lists the problems and the error is the first of them, an
// *[IntegrityError]. Other errors (I/O, a closed ledger) come with a nil
// report.
//
// Edits that recompute every hash consistently (a rewrite of the whole
// ledger, or a removal of its last events together with their hashes, and
// of the checkpoints that would betray them) leave a self-consistent tree:
// they are caught by [Ledger.VerifyCheckpoint] with a signed checkpoint
// kept elsewhere.
func (l *Ledger) Verify(ctx context.Context) (*VerifyReport, error) {
	r, err := l.reader()
	if err != nil {
		return nil, err
	}
	select {
	case l.verifying <- struct{}{}:
		defer func() { <-l.verifying }()
	case <-ctx.Done():
		return nil, fmt.Errorf("audit: verify: %w", ctx.Err())
	}
	tx, err := l.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	defer tx.Rollback()
	schema, checkpointsIntact, err := l.db.schemaProblems(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	var size int64
	if err := tx.QueryRowContext(ctx, sizeQuery).Scan(&size); err != nil && !isCorrupt(err) {
		return nil, fmt.Errorf("audit: verify: %w", classify(err))
	}
	plan, err := l.db.planStorage(ctx, tx, size)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	// SQLite's checks and the index scans run on another connection while
	// this one reads the events.
	sctx, cancel := context.WithCancel(ctx)
	storage := make(chan storageResult, 1)
	go func() { storage <- l.db.checkStorage(sctx, plan, r) }()
	wait := sync.OnceValue(func() storageResult { return <-storage })
	defer func() {
		cancel()
		wait()
	}()
	rep := &VerifyReport{}
	p, err := verifyEvents(ctx, l.db, tx, rep, plan)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	if p != nil {
		rep.Problems = append(rep.Problems, p)
	}
	res := wait()
	if res.err != nil {
		return nil, fmt.Errorf("audit: verify: %w", res.err)
	}
	rep.Problems = append(rep.Problems, plan.problems(res, p == nil)...)
	if checkpointsIntact {
		if p, err := verifyStoredCheckpoints(ctx, tx, rep.Verified, len(rep.Problems) == 0); err != nil {
			return nil, fmt.Errorf("audit: verify: checkpoints: %w", err)
		} else if p != nil {
			rep.Problems = append(rep.Problems, p)
		}
	}
	for _, p := range schema {
		rep.Problems = append(rep.Problems, &IntegrityError{Seq: -1, Problem: p})
	}
	if len(rep.Problems) > 0 {
		return rep, rep.Problems[0]
	}
	return rep, nil
}

// verifyEvents streams the events and the stored hashes side by side and
// returns the first problem, or nil. It fills rep.Verified and rep.Head.
//
// It also adds up the table's side of the index checks of plan; a row it
// cannot read (a damaged page) is a problem, not an error.
func verifyEvents(ctx context.Context, db backend, tx *sql.Tx, rep *VerifyReport, plan *storagePlan) (*IntegrityError, error) {
	rows, err := db.cursor(ctx, tx, "SELECT seq, "+leafTextColumns+", leaf_hash, fingerprint_key"+plan.extraColumns()+" FROM events ORDER BY seq")
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	hrows, err := db.cursor(ctx, tx, "SELECT seq, hashes FROM hashes ORDER BY seq")
	if err != nil {
		return nil, classify(err)
	}
	defer hrows.Close()

	fr := newFrontier(nil)
	var (
		n, seq  int64
		cols    [len(leafColumns) - 1]sql.RawBytes // all but seq
		stored  sql.RawBytes
		key     sql.NullInt64
		leaf    []byte
		hseq    int64
		hstored sql.RawBytes
	)
	dest := make([]any, 0, len(leafColumns)+1)
	dest = append(dest, &seq)
	for i := range cols {
		dest = append(dest, &cols[i])
	}
	dest = append(dest, &stored, &key)
	extra := make([]sql.RawBytes, len(plan.extras))
	for i := range extra {
		dest = append(dest, &extra[i])
	}
	bad := func(format string, args ...any) *IntegrityError {
		return &IntegrityError{Seq: n, Problem: fmt.Sprintf(format, args...)}
	}
	var problem *IntegrityError
	for problem == nil && rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if seq != n {
			problem = bad("event is missing (the next row has seq %d)", seq)
			break
		}
		leaf = appendRowLeaf(leaf[:0], seq, cols[:])
		rh := tlog.RecordHash(leaf)
		if !bytes.Equal(stored, rh[:]) {
			problem = bad("the row does not match its leaf_hash: a column was changed")
			break
		}
		if fp := string(cols[2]); key.Valid != (fp != "") || fp != "" && (!validFingerprint(fp) || key.Int64 != fingerprintKey(fp)) {
			problem = bad("fingerprint_key does not match the fingerprint: lookups by fingerprint would miss the event")
			break
		}
		hashes, err := tlog.StoredHashesForRecordHash(n, rh, fr)
		if err != nil {
			return nil, err
		}
		if !hrows.Next() {
			if err := hrows.Err(); isCorrupt(err) {
				problem = bad("the stored hashes from seq %d on cannot be read: %v", n, err)
				break
			} else if err != nil {
				return nil, classify(err)
			}
			problem = bad("the stored hashes of seq %d are missing", n)
			break
		}
		if err := hrows.Scan(&hseq, &hstored); err != nil {
			return nil, err
		}
		if hseq != n {
			problem = bad("the stored hashes of seq %d are missing (the next row is for seq %d)", n, hseq)
			break
		}
		if len(hstored) != len(hashes)*tlog.HashSize {
			problem = bad("the stored hashes of seq %d are %d bytes, not %d", n, len(hstored), len(hashes)*tlog.HashSize)
			break
		}
		base := tlog.StoredHashIndex(0, n)
		for j, h := range hashes {
			if !bytes.Equal(hstored[j*tlog.HashSize:(j+1)*tlog.HashSize], h[:]) {
				problem = bad("%s does not match the events", describeHash(base+int64(j)))
				break
			}
		}
		if problem == nil {
			fr.add(n, hashes)
			leaf = plan.addRow(leaf, seq, cols[:], extra)
			n++
		}
	}
	if err := rows.Err(); isCorrupt(err) {
		problem = bad("the rows from seq %d on cannot be read: %v", n, err)
	} else if err != nil {
		return nil, classify(err)
	}
	if problem == nil && hrows.Err() == nil && hrows.Next() {
		if err := hrows.Scan(&hseq, &hstored); err != nil {
			return nil, err
		}
		problem = bad("there are stored hashes for seq %d, beyond the last event: events were removed from the end", hseq)
	}
	if err := hrows.Err(); isCorrupt(err) && problem == nil {
		problem = bad("the stored hashes from seq %d on cannot be read: %v", n, err)
	} else if err != nil && !isCorrupt(err) {
		return nil, classify(err)
	}
	rep.Verified = n
	root, err := tlog.TreeHash(n, fr)
	if err != nil {
		return nil, err
	}
	rep.Head = TreeHead{Size: n, Hash: root}
	return problem, nil
}

// leafTextColumns selects the leaf columns but seq, as the text the leaf
// encodes (see [Event.LeafBytes]), for appendRowLeaf.
var leafTextColumns = strings.Join(leafTextExprs[:], ", ")

// leafTextExprs are the expressions of leafTextColumns, one per leaf
// column but seq, in leafColumns order.
var leafTextExprs = [len(leafColumns) - 1]string{"ts", "kind", "fingerprint", "cdata", "subject", "actor", "api_url",
	"ifnull(CAST(http_status AS TEXT), '')", "ifnull(CAST(request_seq AS TEXT), '')", "error", "detail"}

// appendRowLeaf appends to dst the leaf encoding of the row seq whose
// leafTextColumns are cols.
func appendRowLeaf[B ~[]byte](dst []byte, seq int64, cols []B) []byte {
	dst = append(dst, LeafPrefix...)
	dst = appendNetstring(dst, strconv.AppendInt(nil, seq, 10))
	for _, c := range cols {
		dst = appendNetstring(dst, c)
	}
	return dst
}

// describeHash names a stored hash and the events it covers.
func describeHash(id int64) string {
	level, k := tlog.SplitStoredHashIndex(id)
	if level == 0 {
		return fmt.Sprintf("stored hash %d (the leaf hash of seq %d)", id, k)
	}
	return fmt.Sprintf("stored hash %d (tree level %d, over seq %d to %d)", id, level, k<<level, (k+1)<<level-1)
}
