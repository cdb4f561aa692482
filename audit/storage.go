package audit

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Verify reads the events through their table alone, so a damaged index
// (which the tokens view, the report and every lookup read) would go
// unseen. SQLite's PRAGMA integrity_check compares every index with its
// table, but by looking each row up in each index: 11 to 16 s on a
// million-event ledger, three times Verify's own work. So Verify runs
// PRAGMA quick_check (every page and b-tree well formed, 1 to 2.6 s there)
// and compares each index of events with the table itself: the multiset of
// an index's entries (seq and key columns) must be the one the table's
// rows give, and the entries must come in the index's order (else a
// lookup, which searches the index, misses some; checked for ascending
// BINARY column keys, not expressions). The table's side is summed during
// Verify's scan of the events, the index's side by a scan of the index
// alone, on another connection while Verify reads the events. An index
// this cannot compare (of another table, or whose keys it cannot read) is
// checked by PRAGMA integrity_check(table) instead.

// indexCheck compares one index of events with the table: sum and n add
// up a hash of each entry, from the table's rows (tableSum, tableN) and
// from the index (indexSum, indexN).
type indexCheck struct {
	name    string
	keys    []indexKey
	where   string // the partial index's condition, or ""
	ordered bool   // whether the entries' order is checked (every key an ascending column, of BINARY collation)
	// misordered counts the entries found before the one they follow in
	// the index's order: lookups, which search the index, miss them.
	misordered int64
	pred       int // for a partial index, the position of its condition among the scan's extra columns

	tableSum, indexSum uint64
	tableN, indexN     int64
}

// indexKey is one key column of an index: a leaf column, or an expression
// that Verify's scan of the events selects as an extra column.
type indexKey struct {
	leaf    int    // the position in leafTextExprs, or -1
	integer bool   // whether the column is an INTEGER (its text does not sort as it does)
	expr    string // the expression, when leaf is -1
	extra   int    // the expression's position among the scan's extra columns
}

// storagePlan is what Verify checks of the file beside the events.
type storagePlan struct {
	seed    maphash.Seed
	indexes []*indexCheck
	tables  []string         // tables whose indexes need integrity_check
	names   map[int64]string // the objects, by root page, to name SQLite's findings
	size    int64            // the tree size when Verify began: index entries beyond are later appends
	extras  []string         // what Verify's scan of the events selects beside the leaf columns
}

// partialWhere finds the condition of a partial index in its CREATE INDEX.
var partialWhere = regexp.MustCompile(`(?is)\)\s*WHERE\s+(.+)$`)

// planStorage reads, in Verify's snapshot, the ledger's indexes and the
// root page of every object.
func planStorage(ctx context.Context, tx *sql.Tx, size int64) (*storagePlan, error) {
	p := &storagePlan{seed: maphash.MakeSeed(), size: size, names: map[int64]string{1: "table sqlite_schema"}}
	rows, err := tx.QueryContext(ctx, `SELECT type, name, tbl_name, coalesce(rootpage, 0), coalesce(sql, ''),
    (SELECT json_group_array(json_object('name', coalesce(name, ''), 'desc', desc, 'coll', coalesce(coll, 'BINARY')))
     FROM (SELECT * FROM pragma_index_xinfo(s.name) WHERE key ORDER BY seqno))
FROM sqlite_schema AS s WHERE rootpage > 0 ORDER BY name`)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	pos := map[string]int{}
	for i, c := range leafColumns[1:] {
		pos[c] = i
	}
	types := map[string]string{}
	trows, err := tx.QueryContext(ctx, "SELECT name, upper(type) FROM pragma_table_info('events')")
	if err != nil {
		return nil, classify(err)
	}
	for trows.Next() {
		var name, typ string
		if err := trows.Scan(&name, &typ); err != nil {
			trows.Close()
			return nil, err
		}
		types[name] = typ
	}
	trows.Close()
	if err := trows.Err(); err != nil {
		return nil, classify(err)
	}
	for rows.Next() {
		var typ, name, table, create, keys string
		var root int64
		if err := rows.Scan(&typ, &name, &table, &root, &create, &keys); err != nil {
			return nil, err
		}
		p.names[root] = typ + " " + name
		if typ != "index" {
			continue
		}
		c := &indexCheck{name: name, pred: -1}
		var names []struct {
			Name string
			Desc int
			Coll string
		}
		if err := json.Unmarshal([]byte(keys), &names); err != nil {
			return nil, fmt.Errorf("read index %s: %w", name, err)
		}
		exprs := indexKeys(create)
		ok := table == "events" && create != "" && len(exprs) == len(names)
		if m := partialWhere.FindStringSubmatch(create); ok && m != nil {
			c.where, c.pred = m[1], len(p.extras)
			p.extras = append(p.extras, "CASE WHEN "+c.where+" THEN 1 ELSE 0 END")
		}
		c.ordered = ok
		for i, k := range names {
			if !ok {
				break
			}
			// The entries' order (keys, then seq) is checked when it is
			// that of the text Verify reads: ascending columns, compared
			// byte by byte (BINARY) or as integers.
			c.ordered = c.ordered && k.Name != "" && k.Desc == 0 && strings.EqualFold(k.Coll, "BINARY")
			if leaf, known := pos[k.Name]; known {
				c.keys = append(c.keys, indexKey{leaf: leaf, integer: types[k.Name] == "INTEGER"})
				continue
			}
			// An expression (or a column outside the leaf): the table's
			// side selects it, for the rows in the index only.
			key := indexKey{leaf: -1, expr: exprs[i], extra: len(p.extras), integer: k.Name != "" && types[k.Name] == "INTEGER"}
			if c.where != "" {
				p.extras = append(p.extras, "CASE WHEN "+c.where+" THEN ("+key.expr+") END")
			} else {
				p.extras = append(p.extras, "("+key.expr+")")
			}
			c.keys = append(c.keys, key)
		}
		switch {
		case ok:
			p.indexes = append(p.indexes, c)
		case !slices.Contains(p.tables, table):
			p.tables = append(p.tables, table)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return p, nil
}

// extraColumns returns what Verify's scan of the events selects for the
// plan beside the leaf columns: each partial index's condition, and each
// key that is not a leaf column.
func (p *storagePlan) extraColumns() string {
	if len(p.extras) == 0 {
		return ""
	}
	return ", " + strings.Join(p.extras, ", ")
}

// indexKeys returns the key expressions of a CREATE INDEX statement, as
// written (without COLLATE, ASC or DESC), or nil when it cannot read them.
func indexKeys(create string) []string {
	open := strings.Index(create, "(")
	if open < 0 {
		return nil
	}
	var keys []string
	depth, start := 0, open+1
	var quote byte
	for i := open; i < len(create); i++ {
		ch := create[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
		case ch == '[':
			quote = ']'
		case ch == '(':
			depth++
		case ch == ',' && depth == 1, ch == ')' && depth == 1:
			keys = append(keys, trimKey(create[start:i]))
			start = i + 1
			if ch == ')' {
				return keys
			}
		case ch == ')':
			depth--
		}
	}
	return nil
}

// keyOrder matches what may follow an index key: a collation, an order.
var keyOrder = regexp.MustCompile(`(?is)(\s+COLLATE\s+\S+)?(\s+(ASC|DESC))?\s*$`)

// trimKey drops a key's collation and order.
func trimKey(k string) string { return strings.TrimSpace(keyOrder.ReplaceAllString(k, "")) }

// addRow adds the table's side of every index for the row seq, whose leaf
// columns but seq are cols and extra columns extra (see extraColumns).
func (p *storagePlan) addRow(buf []byte, seq int64, cols, extra []sql.RawBytes) []byte {
	for _, c := range p.indexes {
		if c.pred >= 0 && string(extra[c.pred]) != "1" {
			continue
		}
		buf = appendEntryHead(buf[:0], seq)
		for _, k := range c.keys {
			if k.leaf >= 0 {
				buf = appendNetstring(buf, cols[k.leaf])
			} else {
				buf = appendNetstring(buf, extra[k.extra])
			}
		}
		c.tableSum += maphash.Bytes(p.seed, buf)
		c.tableN++
	}
	return buf
}

// scanIndexes adds up the index side of every index of the plan, reading
// each index alone (a covering scan) on db, in a snapshot of its own: the
// entries of events appended since Verify began are left out. (Selecting
// the key columns and framing them here costs less than having SQLite
// concatenate them.)
func (p *storagePlan) scanIndexes(ctx context.Context, db *sql.DB) error {
	var buf []byte
	for _, c := range p.indexes {
		rows, err := db.QueryContext(ctx, p.indexQuery(c))
		if err != nil {
			return fmt.Errorf("read index %s: %w", c.name, classify(err))
		}
		// The entry before is copied: a RawBytes may point into the
		// driver's memory, reused by the next row.
		var seq, prevSeq int64
		vals := make([]sql.RawBytes, len(c.keys))
		prev := make([]sql.RawBytes, len(c.keys))
		dest := []any{&seq}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		for n := 0; rows.Next(); n++ {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("read index %s: %w", c.name, err)
			}
			if c.ordered {
				if n > 0 && c.compare(prev, prevSeq, vals, seq) > 0 {
					c.misordered++
				}
				for i, v := range vals {
					prev[i] = append(prev[i][:0], v...)
				}
				prevSeq = seq
			}
			if seq >= p.size {
				continue
			}
			buf = appendEntryHead(buf[:0], seq)
			for _, v := range vals {
				buf = appendNetstring(buf, v)
			}
			c.indexSum += maphash.Bytes(p.seed, buf)
			c.indexN++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("read index %s: %w", c.name, classify(err))
		}
	}
	return nil
}

// indexQuery returns the query that reads the seq and key columns of the
// entries of c from the index alone.
func (p *storagePlan) indexQuery(c *indexCheck) string {
	exprs := []string{"seq"}
	for _, k := range c.keys {
		if k.leaf >= 0 {
			exprs = append(exprs, leafTextExprs[k.leaf])
		} else {
			exprs = append(exprs, k.expr)
		}
	}
	q := fmt.Sprintf("SELECT %s FROM events INDEXED BY %s", strings.Join(exprs, ", "), quoteIdent(c.name))
	if c.where != "" {
		q += " WHERE " + c.where
	}
	return q
}

// compare compares two entries of c, as read by indexQuery, in the
// index's order: keys (as bytes, or as integers; the empty text of a NULL
// first), then seq.
func (c *indexCheck) compare(a []sql.RawBytes, aSeq int64, b []sql.RawBytes, bSeq int64) int {
	for i, k := range c.keys {
		var r int
		if k.integer && len(a[i]) > 0 && len(b[i]) > 0 {
			x, _ := strconv.ParseInt(string(a[i]), 10, 64)
			y, _ := strconv.ParseInt(string(b[i]), 10, 64)
			r = cmp.Compare(x, y)
		} else {
			r = bytes.Compare(a[i], b[i])
		}
		if r != 0 {
			return r
		}
	}
	return cmp.Compare(aSeq, bSeq)
}

// appendEntryHead starts the bytes an index entry of row seq is hashed as;
// each key column follows as a netstring.
func appendEntryHead(buf []byte, seq int64) []byte {
	return append(strconv.AppendInt(buf, seq, 10), ',')
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sqliteCheck runs PRAGMA quick_check, and integrity_check of each table
// of p.tables, on db, and returns their findings, each naming the table or
// index it is about.
func (p *storagePlan) sqliteCheck(ctx context.Context, db *sql.DB) ([]string, error) {
	queries := []string{"PRAGMA quick_check"}
	for _, t := range p.tables {
		queries = append(queries, "PRAGMA integrity_check("+quoteIdent(t)+")")
	}
	var out []string
	for _, q := range queries {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return nil, classify(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, err
			}
			if s = p.nameTrees(s); s != "ok" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, classify(err)
		}
	}
	return out, nil
}

// treeRef and pageRef match SQLite's references to a b-tree, by its root
// page, and to a page.
var (
	treeRef = regexp.MustCompile(`\bTree (\d+)\b`)
	pageRef = regexp.MustCompile(`\bpage (\d+)\b`)
)

// nameTrees names the b-trees an integrity_check finding refers to ("Tree
// 7", or failing that "page 7" when it is a root page), and drops the
// header SQLite starts its first finding with.
func (p *storagePlan) nameTrees(s string) string {
	s = strings.TrimPrefix(s, "*** in database main ***\n")
	ref := treeRef
	if !treeRef.MatchString(s) {
		ref = pageRef
	}
	return ref.ReplaceAllStringFunc(s, func(m string) string {
		root, _ := strconv.ParseInt(ref.FindStringSubmatch(m)[1], 10, 64)
		if name, ok := p.names[root]; ok {
			return m + " (" + name + ")"
		}
		return m
	})
}

// storageResult is what the check of the file, beside Verify's scan of the
// events, found.
type storageResult struct {
	findings []string // SQLite's
	err      error
}

// checkStorage runs SQLite's checks and the index scans on db (see the
// comment at the top of this file).
func (p *storagePlan) checkStorage(ctx context.Context, db *sql.DB) storageResult {
	findings, err := p.sqliteCheck(ctx, db)
	if err != nil {
		return storageResult{err: fmt.Errorf("sqlite's integrity check: %w", err)}
	}
	if err := p.scanIndexes(ctx, db); err != nil {
		if isCorrupt(err) {
			return storageResult{findings: append(findings, err.Error())}
		}
		return storageResult{err: err}
	}
	return storageResult{findings: findings}
}

// problems turns the result into integrity problems, comparing each index
// with the table when the whole table was read (complete).
func (p *storagePlan) problems(res storageResult, complete bool) []*IntegrityError {
	var out []*IntegrityError
	for _, f := range res.findings {
		out = append(out, &IntegrityError{Seq: -1, Problem: "the database file is damaged: " + f})
	}
	for _, c := range p.indexes {
		if c.misordered > 0 {
			out = append(out, &IntegrityError{Seq: -1, Problem: fmt.Sprintf(
				"index %s is out of order (entries that sort before the one they follow: %d): it is damaged, "+
					"and lookups, which search it, miss them; it holds nothing of its own: REINDEX %s rebuilds it",
				c.name, c.misordered, c.name)})
		}
	}
	if !complete {
		return out
	}
	for _, c := range p.indexes {
		if c.tableSum != c.indexSum || c.tableN != c.indexN {
			out = append(out, &IntegrityError{Seq: -1, Problem: fmt.Sprintf(
				"index %s does not match table events (%d entries for %d rows, or entries that differ from their rows): "+
					"it is damaged, and lookups and the tokens view read it; it holds nothing of its own: REINDEX %s rebuilds it",
				c.name, c.indexN, c.tableN, c.name)})
		}
	}
	return out
}
