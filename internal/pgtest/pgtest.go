// Package pgtest gives tests a PostgreSQL server: the one named by
// $TOKENAUDIT_TEST_POSTGRES (a postgres:// URL of a database whose user may
// create schemas), or else a throw-away cluster that it starts, once per
// test binary, with initdb and pg_ctl from Debian's postgresql package,
// under a temporary directory, listening only on a Unix socket there.
// PostgreSQL refuses to run as root: a test run by root runs the server as
// the postgres system user.
//
// Without a server (no postgresql installed, no URL), the tests that need
// one skip with one line saying so; under CI=true they fail instead.
//
// Call [Main] from TestMain, so that the cluster is stopped when the tests
// end.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that points the tests at a server of one's own.
const EnvURL = "TOKENAUDIT_TEST_POSTGRES"

// Server is a PostgreSQL server for tests.
type Server struct {
	// URL is a postgres:// URL of the test database, as its superuser
	// (for a server of one's own, the URL given), without a schema.
	URL string
	// Dir is the cluster's directory ("" for a server of one's own): the
	// data directory is Dir/data, the socket is in Dir.
	Dir  string
	bin  string
	cred *syscall.Credential // the postgres user's, when run by root
}

// shared is the test binary's server, started by the first test that
// needs one; Main stops it.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
	skip string // why there is no server, when a skip
}

// Main runs the tests and stops the server they started, if any. Use it as
// os.Exit(pgtest.Main(m)), or call Stop after m.Run.
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the shared cluster, if one was started, and removes it.
func Stop() {
	if s := shared.srv; s != nil && s.Dir != "" {
		s.Stop("fast")
		os.RemoveAll(s.Dir)
	}
}

// Shared returns the test binary's server, starting it on first use; it
// skips the test (fails it under CI=true) when there is none.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.skip, shared.err = start() })
	switch {
	case shared.err != nil:
		t.Fatalf("pgtest: %v", shared.err)
	case shared.skip != "" && os.Getenv("CI") == "true":
		t.Fatalf("pgtest: %s (CI=true: PostgreSQL tests must run)", shared.skip)
	case shared.skip != "":
		t.Skipf("pgtest: %s", shared.skip)
	}
	return shared.srv
}

// URL returns a postgres:// URL for a new, empty schema of its own on the
// shared server (see Shared): a ledger nobody else uses.
func URL(t testing.TB) string {
	t.Helper()
	return Shared(t).SchemaURL(t)
}

// SchemaURL returns a URL of the server naming a new, unique schema, which
// is dropped when the test ends.
func (s *Server) SchemaURL(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	t.Cleanup(func() { s.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	return WithParam(s.URL, "schema", schema)
}

// WithParam returns the URL u with the query parameter name set to value.
func WithParam(u, name, value string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	q.Set(name, value)
	p.RawQuery = q.Encode()
	return p.String()
}

// Exec runs SQL statements as the server's superuser.
func (s *Server) Exec(ctx context.Context, sql string, args ...any) error {
	c, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql, args...)
	return err
}

// start finds or starts the server. It returns a skip reason when there
// is no PostgreSQL to start.
func start() (*Server, string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return &Server{URL: u}, "", nil
	}
	bin := findBin()
	if bin == "" {
		return nil, "no PostgreSQL server: install postgresql (initdb, pg_ctl) or set " + EnvURL + "=postgres://…", nil
	}
	s := &Server{bin: bin}
	dir, err := os.MkdirTemp("", "tokenaudit-pg-")
	if err != nil {
		return nil, "", err
	}
	s.Dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, "running as root and there is no postgres user to run PostgreSQL as", nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, "", err
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	s.URL = "postgres://postgres@/postgres?host=" + url.QueryEscape(dir) + "&sslmode=disable"
	return s, "", nil
}

// findBin returns the directory of initdb and pg_ctl: on $PATH, or the
// newest of Debian's /usr/lib/postgresql/*/bin.
func findBin() string {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(a))))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		return va - vb
	})
	if len(dirs) == 0 {
		return ""
	}
	return filepath.Dir(dirs[len(dirs)-1])
}

func (s *Server) data() string { return filepath.Join(s.Dir, "data") }

// run runs one of PostgreSQL's programs as the server's user.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

// Start starts the cluster (again) and waits until it accepts connections.
func (s *Server) Start() error {
	if s.Dir == "" {
		return errors.New("pgtest: the server is not one this package started")
	}
	opts := "-k " + s.Dir + " -c listen_addresses='' -c max_connections=200 -c shared_buffers=32MB"
	if out, err := s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.Dir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, tail(string(log), 2000))
	}
	return nil
}

// Stop stops the cluster with pg_ctl's mode: "fast", or "immediate" (a
// crash: no shutdown checkpoint, recovery at the next start).
func (s *Server) Stop(mode string) error {
	if s.Dir == "" {
		return errors.New("pgtest: the server is not one this package started")
	}
	if out, err := s.run("pg_ctl", "-D", s.data(), "-m", mode, "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Restart stops the cluster with mode and starts it again.
func (s *Server) Restart(mode string) error {
	if err := s.Stop(mode); err != nil {
		return err
	}
	return s.Start()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// QueryRow runs a query as the server's superuser, with search_path set
// to schema, and scans its one row into dest.
func (s *Server) QueryRow(ctx context.Context, schema, sql string, dest ...any) error {
	c, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "SET search_path = "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	return c.QueryRow(ctx, sql).Scan(dest...)
}
