package audit

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// dropInserts is a trigger that makes SQLite skip every insert into
// events, silently: the statement succeeds and writes nothing.
const dropInserts = "CREATE TRIGGER sneaky BEFORE INSERT ON events BEGIN SELECT RAISE(IGNORE); END"

// wantIntegrity fails unless err is an *IntegrityError whose text has want.
func wantIntegrity(t *testing.T, err error, want string) {
	t.Helper()
	var ie *IntegrityError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want an *IntegrityError saying %q", err, want)
	}
}

func TestWriterRefusesAlteredSchema(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, sql, want string }{
		{"extra trigger", dropInserts, "unexpected trigger sneaky"},
		{"dropped trigger", "DROP TRIGGER events_no_delete", "trigger events_no_delete is missing"},
		{"extra view", "CREATE VIEW live AS SELECT 1", "unexpected view live"},
		{"extra index", "CREATE INDEX events_actor ON events (actor)", "unexpected index events_actor"},
		{"altered index", "DROP INDEX events_cdata; CREATE INDEX events_cdata ON events (cdata DESC)", "index events_cdata was altered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openTest(t)
			mustAppend(t, l, Event{Kind: KindIssueRequested})
			path := l.Path()
			l.Close()
			mustExec(t, rawDB(t, path), tc.sql)

			_, err := Open(path)
			wantIntegrity(t, err, tc.want)
			// Readers still open it, so that verify can say what is wrong.
			r := openAt(t, path, WithReadOnly())
			if n, err := r.Count(ctx); err != nil || n != 1 {
				t.Errorf("Count = %d, %v", n, err)
			}
		})
	}
}

func TestAppendConfirmsTheRowsAreThere(t *testing.T) {
	ctx := context.Background()
	l := openTest(t)
	mustAppend(t, l, Event{Kind: KindIssueRequested})
	// The trigger comes after the writer checked the schema.
	mustExec(t, rawDB(t, l.Path()), dropInserts)
	for _, n := range []int{1, 40} {
		batch := make([]Event, n)
		for i := range batch {
			batch[i] = Event{Kind: KindImport, Fingerprint: fp(i)}
		}
		_, err := l.AppendBatch(ctx, batch)
		wantIntegrity(t, err, "the ledger did not keep what was appended")
	}
	if n, err := l.Count(ctx); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
}

func TestAppendRefusesADamagedTail(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"last row changed", "UPDATE events SET cdata = 'mallory' WHERE seq = (SELECT max(seq) FROM events)", "does not match its leaf_hash"},
		{"last event removed", "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)", "beyond the last event"},
		{"last hashes changed", "UPDATE hashes SET hashes = zeroblob(length(hashes)) WHERE seq = (SELECT max(seq) FROM hashes)", "does not match the events"},
		{"last hashes removed", "DELETE FROM hashes WHERE seq = (SELECT max(seq) FROM hashes)", "are missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openTest(t)
			for i := range 7 {
				mustAppend(t, l, Event{Kind: KindImport, Fingerprint: fp(i)})
			}
			// Edited with the triggers dropped and put back as they were,
			// so that the schema is the expected one.
			db := rawDB(t, l.Path())
			var triggers []string
			rows, err := db.Query("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '%no_%'")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				rows.Scan(&s)
				triggers = append(triggers, s)
			}
			rows.Close()
			mustExec(t, db, "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; DROP TRIGGER hashes_no_update; DROP TRIGGER hashes_no_delete")
			mustExec(t, db, tc.sql)
			for _, s := range triggers {
				if strings.Contains(s, "ON events") || strings.Contains(s, "ON hashes") {
					mustExec(t, db, s)
				}
			}
			db.Close()

			for _, w := range []*Ledger{l, openAt(t, l.Path())} { // opened before the edit, and after
				_, err := w.Append(ctx, Event{Kind: KindIssueRequested})
				wantIntegrity(t, err, tc.want)
			}
			if _, err := l.Verify(ctx); err == nil {
				t.Error("Verify passed the edited ledger")
			}
		})
	}
}
