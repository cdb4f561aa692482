package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// TreeHead is the size and root hash of the ledger's Merkle tree: the value
// a checkpoint signs. Size is the number of events.
type TreeHead struct {
	// Size is the number of leaves (events).
	Size int64 `json:"size"`
	// Hash is the RFC 6962 root hash (for Size 0, the hash of the empty
	// string as tlog defines it).
	Hash tlog.Hash `json:"hash"`
}

// MarshalJSON renders the root hash as lowercase hex, like leaf_hash.
func (h TreeHead) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Size int64  `json:"size"`
		Hash string `json:"hash"`
	}{h.Size, hex.EncodeToString(h.Hash[:])})
}

// queryer is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// dbHashReader reads stored hashes from the table hashes. The row of seq n
// holds tlog.StoredHashes(n, leaf): the leaf hash, then one interior hash
// per trailing 1 bit of n, 32 bytes each. So the hash with stored index id,
// at (level, k), is at offset 32*level in the row of seq (k+1)<<level - 1,
// the last record of the subtree it covers.
type dbHashReader struct {
	ctx context.Context
	q   queryer
}

// storedHashRow returns the seq whose hashes row holds stored hash id, and
// the hash's position in that row.
func storedHashRow(id int64) (seq int64, pos int) {
	level, k := tlog.SplitStoredHashIndex(id)
	return (k+1)<<level - 1, level
}

// ReadHashes implements tlog.HashReader. It reads the rows it needs in
// one query.
func (r dbHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	rowsOf := make(map[int64][]byte, len(indexes))
	args := make([]any, 0, len(indexes))
	for _, id := range indexes {
		if seq, _ := storedHashRow(id); rowsOf[seq] == nil {
			rowsOf[seq] = []byte{}
			args = append(args, seq)
		}
	}
	for len(args) > 0 {
		n := min(len(args), readHashesChunk)
		if err := r.readRows(args[:n], rowsOf); err != nil {
			return nil, err
		}
		args = args[n:]
	}
	for i, id := range indexes {
		seq, pos := storedHashRow(id)
		b := rowsOf[seq]
		if len(b) == 0 {
			return nil, fmt.Errorf("audit: the stored hashes of seq %d are missing", seq)
		}
		if len(b) < (pos+1)*tlog.HashSize {
			return nil, fmt.Errorf("audit: the stored hashes of seq %d are %d bytes, too short", seq, len(b))
		}
		copy(out[i][:], b[pos*tlog.HashSize:])
	}
	return out, nil
}

// readHashesChunk is the most rows ReadHashes asks for in one query.
const readHashesChunk = 256

// readRows reads the hashes rows of seqs into rowsOf.
func (r dbHashReader) readRows(seqs []any, rowsOf map[int64][]byte) error {
	rows, err := r.q.QueryContext(r.ctx, "SELECT seq, hashes FROM hashes WHERE seq IN (?"+strings.Repeat(", ?", len(seqs)-1)+")", seqs...)
	if err != nil {
		return fmt.Errorf("audit: read stored hashes: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var b []byte
		if err := rows.Scan(&seq, &b); err != nil {
			return fmt.Errorf("audit: read stored hashes: %w", err)
		}
		rowsOf[seq] = b
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: read stored hashes: %w", classify(err))
	}
	return nil
}

// HashReader returns a [tlog.HashReader] over the ledger's stored hashes,
// for proofs: tlog.ProveRecord, tlog.ProveTree and tlog.TreeHash work on it
// directly. Stored hashes never change once written, so reads need no
// common transaction. It uses ctx for every read.
func (l *Ledger) HashReader(ctx context.Context) tlog.HashReader {
	return readerFunc(func(indexes []int64) ([]tlog.Hash, error) {
		r, err := l.reader()
		if err != nil {
			return nil, err
		}
		return dbHashReader{ctx, r}.ReadHashes(indexes)
	})
}

// readerFunc adapts a function to tlog.HashReader.
type readerFunc func([]int64) ([]tlog.Hash, error)

// ReadHashes implements tlog.HashReader.
func (f readerFunc) ReadHashes(indexes []int64) ([]tlog.Hash, error) { return f(indexes) }

// TreeHead returns the current tree size and root hash, read in one
// snapshot.
func (l *Ledger) TreeHead(ctx context.Context) (TreeHead, error) {
	tx, err := l.readTx(ctx)
	if err != nil {
		return TreeHead{}, fmt.Errorf("audit: read tree head: %w", err)
	}
	defer tx.Rollback()
	return treeHead(ctx, tx)
}

// treeHead computes the tree head inside q's snapshot.
func treeHead(ctx context.Context, q queryer) (TreeHead, error) {
	var th TreeHead
	if err := q.QueryRowContext(ctx, sizeQuery).Scan(&th.Size); err != nil {
		return TreeHead{}, fmt.Errorf("audit: read tree size: %w", classify(err))
	}
	h, err := tlog.TreeHash(th.Size, dbHashReader{ctx, q})
	if err != nil {
		return TreeHead{}, fmt.Errorf("audit: compute tree hash at size %d: %w", th.Size, err)
	}
	th.Hash = h
	return th, nil
}

// frontier is a tlog.HashReader holding the hashes that later calls to
// tlog.StoredHashes and tlog.TreeHash can need: the roots of the complete
// subtrees to the left of the next record (at most one per level). add
// drops hashes as they are combined into a parent, so a frontier stays
// small however many records pass through it. On a miss it asks fallback,
// when there is one.
type frontier struct {
	m        map[int64]tlog.Hash
	fallback tlog.HashReader
}

// newFrontier returns an empty frontier reading misses from fallback (nil
// for none).
func newFrontier(fallback tlog.HashReader) *frontier {
	return &frontier{m: make(map[int64]tlog.Hash, 64), fallback: fallback}
}

// ReadHashes implements tlog.HashReader.
func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, id := range indexes {
		h, ok := f.m[id]
		if !ok {
			if f.fallback == nil {
				return nil, fmt.Errorf("audit: stored hash %d is not available", id)
			}
			hs, err := f.fallback.ReadHashes([]int64{id})
			if err != nil {
				return nil, err
			}
			h = hs[0]
			f.m[id] = h
		}
		out[i] = h
	}
	return out, nil
}

// add records the stored hashes of record n (as tlog.StoredHashes returns
// them) and forgets the children each new interior hash replaces.
func (f *frontier) add(n int64, hashes []tlog.Hash) {
	base := tlog.StoredHashIndex(0, n)
	for j, h := range hashes {
		f.m[base+int64(j)] = h
		if j > 0 {
			level, k := tlog.SplitStoredHashIndex(base + int64(j))
			delete(f.m, tlog.StoredHashIndex(level-1, 2*k))
			delete(f.m, tlog.StoredHashIndex(level-1, 2*k+1))
		}
	}
}
