package audit

import (
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"
)

// Errors callers branch on, for [errors.Is].
var (
	// ErrNotALedger: the file exists but is not a tokenaudit ledger (not a
	// SQLite database, or a SQLite database of another application). Open
	// leaves such a file untouched.
	ErrNotALedger = errors.New("audit: not a tokenaudit ledger")
	// ErrLedgerEmpty: the ledger file is empty (zero bytes, with no
	// write-ahead log holding its pages): a ledger that was truncated, or a
	// file that never was one. It comes wrapped with [ErrNotALedger]: no
	// command that writes turns such a file into a ledger; [Create] does,
	// when asked to.
	ErrLedgerEmpty = errors.New("audit: the ledger file is empty: it was truncated, or is not a ledger")
	// ErrLedgerExists: [Create] was given the path of a ledger.
	ErrLedgerExists = errors.New("audit: a ledger already exists there")
	// ErrNewerSchema: the ledger was written by a newer tokenaudit whose
	// schema this version does not know. Open leaves the file untouched.
	ErrNewerSchema = errors.New("audit: the ledger's schema is newer than this tokenaudit")
	// ErrOlderSchema: a ledger opened with [WithReadOnly] needs a schema
	// migration, which only a writable Open performs.
	ErrOlderSchema = errors.New("audit: the ledger's schema is older than this tokenaudit; open it writable once to migrate it")
	// ErrLedgerReadOnly: a write was attempted on a ledger opened with
	// [WithReadOnly], or on a file the process may not write.
	ErrLedgerReadOnly = errors.New("audit: the ledger is read-only")
	// ErrLedgerUnreadable: a ledger opened with [WithReadOnly] cannot be
	// read safely by this process, which may not create files in the
	// ledger's folder: the -wal and -shm files SQLite reads through are
	// missing or unreadable (see [WithReadOnly]).
	ErrLedgerUnreadable = errors.New("audit: the ledger cannot be read safely")
	// ErrLedgerLocked: another writer held the ledger for longer than the
	// busy timeout (see [WithBusyTimeout]).
	ErrLedgerLocked = errors.New("audit: the ledger is locked by another writer")
	// ErrLedgerClosed: the [Ledger] was used after Close.
	ErrLedgerClosed = errors.New("audit: the ledger is closed")
	// ErrNotFound: a lookup matched nothing.
	ErrNotFound = errors.New("audit: not found")
	// ErrAmbiguous: a fingerprint prefix matched more than one token.
	ErrAmbiguous = errors.New("audit: ambiguous fingerprint prefix")
)

// IntegrityError reports that the ledger fails verification: a row was
// changed, removed, inserted or reordered outside the library, the Merkle
// hashes do not match the rows, the schema (triggers, view) was altered,
// or the file or an index is damaged. [Ledger.Verify] returns the first one
// it finds; a writable [Open] returns one for a schema it would not trust,
// and [Ledger.AppendBatch] for a ledger whose last event or stored hashes
// are wrong, or that did not keep what it was given.
type IntegrityError struct {
	// Seq is the first event sequence number that is wrong, or -1 when the
	// problem is not tied to one event (a dropped trigger, an altered view).
	Seq int64
	// Problem says what is wrong, in lowercase words.
	Problem string
}

// Error implements error.
func (e *IntegrityError) Error() string {
	if e.Seq < 0 {
		return "audit: ledger integrity: " + e.Problem
	}
	return fmt.Sprintf("audit: ledger integrity: seq %d: %s", e.Seq, e.Problem)
}

// classify narrows a driver error to the sentinel errors callers branch on,
// keeping the driver's message.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return fmt.Errorf("%w: %w", ErrLedgerLocked, err)
		case sqlite3.ErrReadonly, sqlite3.ErrPerm:
			return fmt.Errorf("%w: %w", ErrLedgerReadOnly, err)
		}
		return err
	}
	if pe := classifyPostgres(err); pe != nil {
		return pe
	}
	return err
}

// isCorrupt reports whether err says that SQLite found the database file
// damaged.
func isCorrupt(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB)
}
