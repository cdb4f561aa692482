package audit

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" database/sql driver
	"golang.org/x/mod/sumdb/note"
)

// DefaultBusyTimeout is how long a write waits for another writer (another
// goroutine's transaction, or another process) before failing with
// [ErrLedgerLocked].
const DefaultBusyTimeout = 30 * time.Second

// cacheSize is each connection's page cache: negative is KiB, so 64 MiB.
// Index updates at random places (fingerprints) need the pages in memory.
const cacheSize = "-65536"

// readers is the size of the read-only connection pool.
const readers = 4

// walAutocheckpoint is how many WAL frames (pages) the writer lets the WAL
// grow to before it copies them back into the database (SQLite's default
// is 1000). A checkpoint copies each page once however many times it was
// written since the last one, and syncs the database file, so checkpointing
// less often saves work when batches rewrite the same index pages.
const walAutocheckpoint = 8192

// mutexMode is the DSN parameter _mutex of the writer and the readers:
// "no" is SQLite's multi-thread mode, without the mutex SQLite otherwise
// takes and releases around every call on a connection (each column of each
// row read). database/sql never lets two goroutines use one connection at
// once, which is all that mode requires; sqlite3_interrupt, which go-sqlite3
// calls from another goroutine on cancellation, takes no mutex anyway.
// Measured on a million-event ledger, Verify: 3.84 s of CPU (median of 15)
// with the mutex, 3.46 s without.
const mutexMode = "no"

// journalSizeLimit is the size, in bytes, the WAL file is truncated to when
// a checkpoint lets SQLite start it over.
const journalSizeLimit = 64 << 20

// Ledger is an open tokenaudit ledger: an append-only, tamper-evident SQLite
// database of token events. It is safe for concurrent use by many goroutines,
// and many processes may open the same file at once: writes are serialized
// by SQLite's write lock (each process has one writer connection), reads run
// on a separate pool of read-only connections and never block writers. A
// ledger on PostgreSQL (see [Open]) is shared the same way by processes on
// many hosts.
//
// Open it with [Open] and release it with [Ledger.Close].
type Ledger struct {
	path          string
	w             *sql.DB // the writer connection; nil when read-only
	r             *sql.DB // read-only pool
	now           func() time.Time
	actor         string
	schemaVersion int
	closed        atomic.Bool
	autoSigner    note.Signer // see WithAutoCheckpoint; nil for none
	autoEvery     int64
	db            backend // what differs between SQLite and PostgreSQL
	// verifying holds a token per running Verify, each of which uses two
	// read connections: so that concurrent Verifies cannot each hold one
	// and wait for another.
	verifying chan struct{}
}

// Option configures [Open].
type Option func(*config) error

// config collects the options of Open.
type config struct {
	now      func() time.Time
	readOnly bool
	busy     time.Duration
	actor    string
	// autoSigner and autoEvery are WithAutoCheckpoint's.
	autoSigner note.Signer
	autoEvery  int64
}

// WithNow sets the clock the ledger stamps events with (default time.Now).
// Times are stored in UTC with microsecond precision.
func WithNow(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("audit: WithNow: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithReadOnly opens the ledger for reading only: the file is never created,
// migrated or written; Append returns [ErrLedgerReadOnly]. Use it for
// queries, reports and Verify.
//
// A process that may read the ledger but not write its folder (another
// user, a read-only mount) reads through the ledger's -wal and -shm files,
// which the ledger keeps for it once a process that may write the folder
// has opened it; they must be as readable as the ledger file. Without
// them, a ledger on a read-only file system with no events in a -wal file
// is read as it is on disk (nobody can change it); any other ledger is
// refused with [ErrLedgerUnreadable], as SQLite could not keep what it
// reads consistent while another process writes.
func WithReadOnly() Option {
	return func(c *config) error {
		c.readOnly = true
		return nil
	}
}

// WithBusyTimeout sets how long a write waits for the write lock held by
// another writer before failing with [ErrLedgerLocked] (default
// [DefaultBusyTimeout]). It must be at least one millisecond.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("audit: WithBusyTimeout: %v is shorter than 1ms", d)
		}
		c.busy = d
		return nil
	}
}

// WithActor sets the actor recorded on events appended with an empty Actor
// (default [LocalActor]). It must not be empty.
func WithActor(actor string) Option {
	return func(c *config) error {
		if actor == "" {
			return errors.New("audit: WithActor: empty actor")
		}
		c.actor = actor
		return nil
	}
}

// LocalActor returns "USER@HOST" for the current OS user and host, the
// actor of events recorded by this process. Either part is "unknown" when
// it cannot be found.
func LocalActor() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}

// Open opens the ledger at path, creating it (mode 0600, and its directory
// with mode 0700 when missing) and migrating its schema as needed, unless
// [WithReadOnly] is given.
//
// Open refuses, without writing to it, a file that is not a tokenaudit
// ledger ([ErrNotALedger]: not SQLite, SQLite of another application, an
// empty file ([ErrLedgerEmpty]) or an empty SQLite database, or a -wal file
// left where the ledger was) and a ledger of a newer schema
// ([ErrNewerSchema]). Only a path that does not exist becomes a new ledger,
// built whole beside it and then linked into place; [Create] makes one
// over an empty file.
//
// A writable Open checks, after any migration and before anything is
// written, that the schema is exactly the one this package creates (an
// *[IntegrityError] naming each object that differs): a ledger with an
// extra trigger could silently drop what it is asked to record.
//
// Every connection runs in WAL mode with synchronous=FULL (a committed event
// survives power loss), a busy timeout, and BEGIN IMMEDIATE for writes; Open
// checks that these settings took effect.
//
// A path starting with postgres:// or postgresql:// opens a ledger shared
// on a PostgreSQL server instead (see postgres.go): the URL's parameter
// schema names the PostgreSQL schema that holds it (default
// [DefaultPostgresSchema]), which a writable Open creates when it holds
// nothing; a read-only Open of a missing one returns an error wrapping
// fs.ErrNotExist. The password comes from the URL or, better, from
// PGPASSWORD, PGPASSFILE or ~/.pgpass, as libpq reads them. A writable
// Open refuses a server that would acknowledge a commit before it is on
// disk ([ErrNotDurable]). Writers on every host serialize on an advisory
// lock, waiting at most the busy timeout (PostgreSQL's lock_timeout).
func Open(path string, opts ...Option) (*Ledger, error) {
	cfg := config{now: time.Now, busy: DefaultBusyTimeout}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.actor == "" {
		cfg.actor = LocalActor()
	}
	if path == "" {
		return nil, errors.New("audit: open ledger: empty path")
	}
	if IsPostgresURL(path) {
		return openPostgres(path, cfg)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("audit: open ledger %s: %w", path, err)
	}
	ctx := context.Background()
	version, err := prepareFile(ctx, abs, cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: open ledger %s: %w", path, err)
	}
	l := &Ledger{path: abs, now: cfg.now, actor: cfg.actor, schemaVersion: version,
		autoSigner: cfg.autoSigner, autoEvery: cfg.autoEvery, db: sqliteBackend{}, verifying: make(chan struct{}, readers/2)}
	if !cfg.readOnly {
		if l.w, err = openWriter(ctx, abs, cfg.busy); err != nil {
			return nil, fmt.Errorf("audit: open ledger %s: %w", path, err)
		}
		if err := migrate(ctx, l.w); err != nil {
			l.w.Close()
			return nil, fmt.Errorf("audit: open ledger %s: %w", path, err)
		}
		if err := checkSchema(ctx, l.w); err != nil {
			l.w.Close()
			return nil, fmt.Errorf("audit: open ledger %s: %w", path, err)
		}
		l.schemaVersion = SchemaVersion
	}
	if l.r, err = openReaders(ctx, abs, cfg.busy); err != nil {
		if l.w != nil {
			l.w.Close()
		}
		return nil, fmt.Errorf("audit: open ledger %s: %w", path, err)
	}
	return l, nil
}

// sqliteMagic starts every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// prepareFile makes sure abs is a ledger or may become one, creating a new
// ledger when the path is free and writing is allowed, and returns the
// schema version found. It never writes to an existing file: an empty
// file, or a -wal file left without its database, is refused (only
// [Create] turns them into a ledger).
func prepareFile(ctx context.Context, abs string, cfg config) (int, error) {
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := leftoverWAL(abs); err != nil {
			return 0, err
		}
		if cfg.readOnly {
			return 0, err
		}
		if err := createLedger(ctx, abs, false); err != nil {
			return 0, err
		}
		return probe(ctx, abs, cfg)
	case err != nil:
		return 0, err
	case !fi.Mode().IsRegular():
		return 0, fmt.Errorf("%w: not a regular file", ErrNotALedger)
	}
	return probe(ctx, abs, cfg)
}

// leftoverWAL returns an error wrapping ErrNotALedger when abs is missing
// but its -wal file is there: the ledger was deleted or moved without it,
// and SQLite would read what the -wal holds of it into a new file.
func leftoverWAL(abs string) error {
	if _, err := os.Lstat(abs + "-wal"); err != nil {
		return nil
	}
	if _, err := os.Stat(abs); err == nil {
		return nil // created meanwhile, with its -wal, by another opener
	}
	base := filepath.Base(abs)
	return fmt.Errorf("%w: %s is missing but its write-ahead log %s-wal is there: the ledger was deleted or moved without it",
		ErrNotALedger, base, base)
}

// createLedger writes a new ledger at abs: it builds it whole in a
// temporary file beside abs (mode 0600) and then links it to abs, so that
// no process ever sees a half-made ledger there. When abs exists, it is
// left alone (another process made it first), unless replace is set: then
// abs, which must be an empty file, is replaced.
func createLedger(ctx context.Context, abs string, replace bool) error {
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the ledger's directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(abs)+".new-*")
	if err != nil {
		return fmt.Errorf("create the ledger: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil { // CreateTemp's mode, made explicit
		f.Close()
		return fmt.Errorf("create the ledger: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create the ledger: %w", err)
	}
	// Built in WAL mode, so the file is one already; closing the last
	// connection copies the WAL into it, syncs it and removes the -wal and
	// -shm files (persistWAL is not set on this connection).
	db, err := sql.Open("sqlite3", dsn(tmp, url.Values{
		"mode": {"rw"}, "_journal_mode": {"WAL"}, "_synchronous": {"FULL"}, "_txlock": {"immediate"},
	}))
	if err != nil {
		return fmt.Errorf("create the ledger: %w", err)
	}
	db.SetMaxOpenConns(1)
	err = migrate(ctx, db)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create the ledger: %w", err)
	}
	if replace {
		err = os.Rename(tmp, abs)
	} else if err = os.Link(tmp, abs); errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create the ledger: %w", err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes the new name of a file in dir durable, where the system
// allows it (best effort: the ledger's own writes are synced by SQLite).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Create makes a new, empty ledger at path and opens it, as [Open] does.
// It is the one way to turn an existing empty file into a ledger (one that
// was truncated, or made by a tool that creates empty files): the file is
// replaced by a new ledger of mode 0600. A path that does not exist
// becomes a ledger as with Open. A -wal file left without its database is
// removed when it is empty, and refused when it is not (it holds a
// ledger's pages: move it away first).
//
// Create returns an error wrapping [ErrLedgerExists] when path is already
// a ledger, and [ErrNotALedger] when it holds anything else; neither is
// changed. [WithReadOnly] is refused.
func Create(path string, opts ...Option) (*Ledger, error) {
	var cfg config
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.readOnly {
		return nil, errors.New("audit: create ledger: WithReadOnly cannot create a ledger")
	}
	if path == "" {
		return nil, errors.New("audit: create ledger: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("audit: create ledger %s: %w", path, err)
	}
	if err := createOver(context.Background(), abs); err != nil {
		return nil, fmt.Errorf("audit: create ledger %s: %w", path, err)
	}
	return Open(path, opts...)
}

// createOver makes a new ledger at abs, which must be missing or an empty
// file, for Create.
func createOver(ctx context.Context, abs string) error {
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: not a regular file", ErrNotALedger)
	default:
		_, perr := probe(ctx, abs, config{})
		switch {
		case perr == nil, errors.Is(perr, ErrNewerSchema):
			return ErrLedgerExists
		case !errors.Is(perr, ErrLedgerEmpty) && !errors.Is(perr, errEmptyDatabase):
			return perr
		}
	}
	base := filepath.Base(abs)
	if wal, err := os.Lstat(abs + "-wal"); err == nil && wal.Size() > 0 {
		return fmt.Errorf("%s-wal holds %d bytes of a ledger's pages: move it away (and %s-shm) first", base, wal.Size(), base)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(abs + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the stale %s%s: %w", base, suffix, err)
		}
	}
	return createLedger(ctx, abs, fi != nil)
}

// probe inspects an existing file without writing to it. It reads the
// database header (application_id, user_version, schema cookie) straight
// from the file; only when a non-empty write-ahead log may hold a newer
// header does it ask SQLite, through a read-only connection.
func probe(ctx context.Context, abs string, cfg config) (int, error) {
	f, err := os.Open(abs)
	if err != nil {
		return 0, err
	}
	hdr := make([]byte, 100)
	n, err := io.ReadFull(f, hdr)
	f.Close()
	wal, walErr := os.Stat(abs + "-wal")
	walData := walErr == nil && wal.Size() > 0
	switch {
	case n == 0 && errors.Is(err, io.EOF) && !walData:
		return 0, fmt.Errorf("%w: %w", ErrNotALedger, ErrLedgerEmpty)
	case n > 0 && !bytes.HasPrefix(hdr[:n], sqliteMagic[:min(n, len(sqliteMagic))]), n > 0 && n < len(hdr):
		return 0, fmt.Errorf("%w: not a SQLite database", ErrNotALedger)
	case err != nil && n != 0:
		return 0, fmt.Errorf("read the file header: %w", err)
	case !walData:
		// Header fields, big-endian: schema cookie at 40, user_version at
		// 60, application_id at 68 (https://sqlite.org/fileformat.html).
		return classifyFile(int64(binary.BigEndian.Uint32(hdr[68:])), int64(binary.BigEndian.Uint32(hdr[60:])),
			int64(binary.BigEndian.Uint32(hdr[40:])), cfg)
	}
	db, err := openReadOnly(ctx, abs, 1, url.Values{
		"mode":          {"ro"},
		"_busy_timeout": {strconv.FormatInt(cfg.busy.Milliseconds(), 10)},
	}, nil)
	if err != nil {
		if errors.Is(err, ErrLedgerUnreadable) || errors.Is(err, ErrLedgerLocked) {
			return 0, err
		}
		return 0, fmt.Errorf("%w: %w", ErrNotALedger, err)
	}
	defer db.Close()
	var appID, version, objects int64
	err = db.QueryRowContext(ctx, "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_schema)").Scan(&appID, &version, &objects)
	if err != nil {
		if errors.Is(classify(err), ErrLedgerLocked) {
			return 0, classify(err)
		}
		return 0, fmt.Errorf("%w: %w", ErrNotALedger, err)
	}
	return classifyFile(appID, version, objects, cfg)
}

// errEmptyDatabase is classifyFile's answer for a SQLite database with
// no schema at all: not a ledger, unless it is one being made (see
// migrate).
var errEmptyDatabase = fmt.Errorf("%w: an empty SQLite database, with nothing of a ledger in it", ErrNotALedger)

// classifyFile decides from a database's application_id, user_version and
// schema (object count, or schema cookie: zero means none) whether it is a
// ledger that may be opened, and returns its schema version.
func classifyFile(appID, version, schema int64, cfg config) (int, error) {
	switch {
	case appID == ApplicationID && version > SchemaVersion:
		return 0, fmt.Errorf("%w: schema version %d, this tokenaudit knows up to %d", ErrNewerSchema, version, SchemaVersion)
	case appID == ApplicationID && version < SchemaVersion && cfg.readOnly:
		return 0, fmt.Errorf("%w: schema version %d, this tokenaudit writes %d", ErrOlderSchema, version, SchemaVersion)
	case appID == ApplicationID:
		return int(version), nil
	case appID == 0 && version == 0 && schema == 0:
		return 0, errEmptyDatabase
	default:
		return 0, fmt.Errorf("%w: a SQLite database of another application (application_id %#x, user_version %d)", ErrNotALedger, appID, version)
	}
}

// dsn builds a go-sqlite3 data source name: a "file:" URI (so SQLite
// reads mode=…) with the path escaped, and the given parameters. The
// parameters starting with '_' are go-sqlite3's (sqlite3.go, v1.14.53:
// _journal_mode, _synchronous, _busy_timeout, _txlock, _query_only).
func dsn(abs string, params url.Values) string {
	u := url.URL{Path: filepath.ToSlash(abs)}
	return "file:" + u.EscapedPath() + "?" + params.Encode()
}

// openWriter opens the one writer connection and checks that its pragmas
// took effect. temp_store=MEMORY keeps SQLite's statement journal (each
// INSERT into events runs the events_dense trigger, so SQLite saves every
// page the statement changes, in case it must undo it) in memory rather
// than letting it spill, past 64 KiB, to a temporary file at the cost of a
// write system call per page.
func openWriter(ctx context.Context, abs string, busy time.Duration) (*sql.DB, error) {
	ms := strconv.FormatInt(busy.Milliseconds(), 10)
	return openPool(ctx, abs, 1, url.Values{
		"mode":          {"rw"},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"FULL"}, // after _journal_mode, which would set NORMAL
		"_busy_timeout": {ms},
		"_txlock":       {"immediate"},
		"_mutex":        {mutexMode},
		"_cache_size":   {cacheSize},
	}, []string{
		"PRAGMA temp_store = MEMORY",
		"PRAGMA wal_autocheckpoint = " + strconv.Itoa(walAutocheckpoint),
		"PRAGMA journal_size_limit = " + strconv.Itoa(journalSizeLimit),
	}, map[string]string{
		"journal_mode":       "wal",
		"synchronous":        "2", // FULL
		"busy_timeout":       ms,
		"query_only":         "0",
		"temp_store":         "2", // MEMORY
		"wal_autocheckpoint": strconv.Itoa(walAutocheckpoint),
	})
}

// openReaders opens the pool of read-only connections (see openReadOnly).
func openReaders(ctx context.Context, abs string, busy time.Duration) (*sql.DB, error) {
	ms := strconv.FormatInt(busy.Milliseconds(), 10)
	return openReadOnly(ctx, abs, readers, url.Values{
		"mode":          {"ro"},
		"_busy_timeout": {ms},
		"_query_only":   {"1"},
		"_mutex":        {mutexMode},
		"_txlock":       {"deferred"},
		"_cache_size":   {cacheSize},
	}, map[string]string{
		"busy_timeout": ms,
		"query_only":   "1",
	})
}

// openReadOnly opens a pool of conns read-only connections (params must
// say mode=ro) and checks that they can read the ledger.
//
// In WAL mode SQLite reads through the -wal and -shm files beside the
// database, which it creates when missing; a process that may not write
// the ledger's folder can still read if they exist and it may read them
// (the -shm then holds the read lock that keeps writers from overwriting
// what it reads). Writers keep them (see persistWAL). When they are missing
// and cannot be created, the ledger is read as immutable (SQLite neither
// locks nor looks for a WAL) only if that is safe: the folder is on a
// read-only file system, so nobody can write the ledger through it, and no
// -wal file holds events. Otherwise openReadOnly returns
// [ErrLedgerUnreadable], saying what is missing.
func openReadOnly(ctx context.Context, abs string, conns int, params url.Values, want map[string]string) (*sql.DB, error) {
	db, err := openPool(ctx, abs, conns, params, nil, want)
	if err == nil {
		return db, nil
	}
	immutable, ferr := unwritableFolder(abs, err, folderAccess)
	if !immutable {
		return nil, ferr
	}
	params = maps.Clone(params)
	params.Set("immutable", "1")
	return openPool(ctx, abs, conns, params, nil, want)
}

// unwritableFolder decides what to do when SQLite could not read the
// ledger at abs read-only (with error err), asking access (folderAccess)
// about its folder: it returns true when the ledger may be read as
// immutable, else err itself when the folder is writable (the failure has
// another cause), or an error wrapping ErrLedgerUnreadable that says why
// the ledger cannot be read safely.
func unwritableFolder(abs string, err error, access func(dir string) (writable, readOnlyFS bool)) (bool, error) {
	dir, base := filepath.Split(abs)
	writable, readOnlyFS := access(dir)
	if writable {
		return false, err
	}
	if f, ferr := os.Open(abs + "-shm"); ferr == nil {
		f.Close()
	} else if !errors.Is(ferr, fs.ErrNotExist) {
		return false, fmt.Errorf("%w: this process may not read %s-shm, through which SQLite reads a ledger that another process may be writing (%v)",
			ErrLedgerUnreadable, base, ferr)
	}
	if fi, serr := os.Stat(abs + "-wal"); serr == nil && fi.Size() > 0 {
		return false, fmt.Errorf("%w: its write-ahead log %s-wal holds events, which SQLite reads through the %s-shm file, and this process may not create files in %s (%v)",
			ErrLedgerUnreadable, base, base, filepath.Clean(dir), err)
	}
	if !readOnlyFS {
		return false, fmt.Errorf("%w: this process may not create files in %s, where SQLite needs the ledger's -wal and -shm files to read a ledger that another process may be writing (%v)",
			ErrLedgerUnreadable, filepath.Clean(dir), err)
	}
	return true, nil
}

// sqliteFcntlPersistWAL is SQLITE_FCNTL_PERSIST_WAL, from sqlite3.h.
const sqliteFcntlPersistWAL = 10

// persistWAL makes SQLite keep the ledger's -wal and -shm files when the
// last connection closes (the -wal truncated to zero bytes, as
// journal_size_limit is set), so that processes that may read the ledger
// but not write its folder can read it (see openReadOnly).
func persistWAL(c *sqlite3.SQLiteConn) error {
	if err := c.SetFileControlInt("main", sqliteFcntlPersistWAL, 1); err != nil {
		return fmt.Errorf("keep the -wal and -shm files: %w", err)
	}
	return nil
}

// connector opens go-sqlite3 connections to one DSN and sets up each new
// connection before it is used (persistWAL, then pragmas), so that a
// connection the pool opens again (after an error) is set up like the
// first.
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

// newConnector returns a connector to dsn that sets up every new
// connection with persistWAL and runs pragmas on it, in order.
func newConnector(dsn string, pragmas []string) connector {
	return connector{dsn: dsn, drv: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		if err := persistWAL(c); err != nil {
			return err
		}
		for _, p := range pragmas {
			if _, err := c.Exec(p, nil); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	}}}
}

// Connect implements driver.Connector.
func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }

// Driver implements driver.Connector.
func (c connector) Driver() driver.Driver { return c.drv }

// openPool opens a pool of at most conns connections with the DSN params,
// runs pragmas on each connection, checks that the pragmas in want took
// effect and that the database can be read.
func openPool(ctx context.Context, abs string, conns int, params url.Values, pragmas []string, want map[string]string) (*sql.DB, error) {
	db := sql.OpenDB(newConnector(dsn(abs, params), pragmas))
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := checkPragmas(ctx, db, want); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkPragmas reads each pragma back and fails unless it has the wanted
// value, then reads the schema: the first read of the database, which
// opens its -wal and -shm files.
func checkPragmas(ctx context.Context, db *sql.DB, want map[string]string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return classify(err)
	}
	defer conn.Close()
	var objects int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
		return fmt.Errorf("read the schema: %w", classify(err))
	}
	for name, w := range want {
		var got string
		if err := conn.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
			return fmt.Errorf("read pragma %s: %w", name, classify(err))
		}
		if got != w {
			return fmt.Errorf("pragma %s is %q, not %q", name, got, w)
		}
	}
	return nil
}

// Close releases the ledger's connections. It is safe to call more than
// once; every later use returns [ErrLedgerClosed].
func (l *Ledger) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	// The readers first: the last connection to the database to close
	// copies the WAL into it and empties the WAL, and only a writer can.
	errs := []error{l.r.Close()}
	if l.w != nil && l.w != l.r {
		errs = append(errs, l.w.Close())
	}
	errs = append(errs, l.db.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("audit: close ledger: %w", err)
	}
	return nil
}

// Path returns the ledger file's absolute path, or the PostgreSQL URL it
// was opened with, its password removed.
func (l *Ledger) Path() string { return l.path }

// SchemaVersion returns the ledger's schema version (PRAGMA user_version).
func (l *Ledger) SchemaVersion() int { return l.schemaVersion }

// ReadOnly reports whether the ledger was opened with [WithReadOnly].
func (l *Ledger) ReadOnly() bool { return l.w == nil }

// reader returns the read pool, or ErrLedgerClosed.
func (l *Ledger) reader() (*sql.DB, error) {
	if l.closed.Load() {
		return nil, ErrLedgerClosed
	}
	return l.r, nil
}

// writer returns the writer, or ErrLedgerClosed or ErrLedgerReadOnly.
func (l *Ledger) writer() (*sql.DB, error) {
	if l.closed.Load() {
		return nil, ErrLedgerClosed
	}
	if l.w == nil {
		return nil, ErrLedgerReadOnly
	}
	return l.w, nil
}

// Count returns the number of events, which is also the Merkle tree size.
func (l *Ledger) Count(ctx context.Context) (int64, error) {
	r, err := l.reader()
	if err != nil {
		return 0, err
	}
	var n int64
	if err := r.QueryRowContext(ctx, sizeQuery).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit: count events: %w", classify(err))
	}
	return n, nil
}

// sizeQuery returns the number of events (seq is dense from 0).
const sizeQuery = "SELECT coalesce(max(seq) + 1, 0) FROM events"

// Info describes a ledger, for `tokenaudit ledger info`.
type Info struct {
	// Path is the ledger file's absolute path (see [Ledger.Path]).
	Path string `json:"path"`
	// SchemaVersion is PRAGMA user_version.
	SchemaVersion int `json:"schema_version"`
	// LedgerID is a random identifier chosen when the ledger was created.
	LedgerID string `json:"ledger_id"`
	// CreatedAt is when the ledger was created.
	CreatedAt time.Time `json:"created_at"`
	// Head is the Merkle tree size (the number of events) and root hash.
	Head TreeHead `json:"head"`
	// FileBytes is the size on disk of the database file and its WAL (on
	// PostgreSQL, of the ledger's tables and indexes).
	FileBytes int64 `json:"file_bytes"`
}

// Info returns the ledger's path, schema version, identity, size and root hash.
func (l *Ledger) Info(ctx context.Context) (*Info, error) {
	r, err := l.reader()
	if err != nil {
		return nil, err
	}
	info := &Info{Path: l.path, SchemaVersion: l.schemaVersion}
	var created string
	err = r.QueryRowContext(ctx, "SELECT (SELECT value FROM meta WHERE key = 'ledger_id'), (SELECT value FROM meta WHERE key = 'created_at')").Scan(&info.LedgerID, &created)
	if err != nil {
		return nil, fmt.Errorf("audit: read ledger metadata: %w", classify(err))
	}
	if info.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return nil, fmt.Errorf("audit: read ledger metadata: created_at %q: %w", created, err)
	}
	if info.Head, err = l.TreeHead(ctx); err != nil {
		return nil, err
	}
	info.FileBytes = l.db.storageBytes(ctx, l.path, r)
	return info, nil
}
