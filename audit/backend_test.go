package audit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for raw access

	"github.com/tokenaudit/tokenaudit/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testBackend is one of the ledger's backends, for the suite that runs on
// both.
type testBackend struct {
	name string
	// location returns the path or URL of a new, empty ledger.
	location func(t testing.TB) string
	// raw opens the ledger at loc with plain SQL, as a database owner
	// editing it by hand would.
	raw func(t testing.TB, loc string) *sql.DB
	// tamper runs SQL on the ledger with its append-only triggers off.
	tamper func(t testing.TB, db *sql.DB, query string)
}

// testBackends are SQLite and PostgreSQL (see pgtest).
var testBackends = []testBackend{
	{
		name:     "sqlite",
		location: func(t testing.TB) string { return filepath.Join(t.TempDir(), "ledger.db") },
		raw:      rawDB,
		tamper: func(t testing.TB, db *sql.DB, query string) {
			tt := t.(*testing.T)
			dropTriggers(tt, db)
			mustExec(tt, db, query)
			restoreTriggers(tt, db)
		},
	},
	{
		name:     "postgres",
		location: func(t testing.TB) string { return pgtest.URL(t) },
		raw:      rawPostgres,
		tamper: func(t testing.TB, db *sql.DB, query string) {
			tt := t.(*testing.T)
			mustExec(tt, db, "ALTER TABLE events DISABLE TRIGGER USER")
			mustExec(tt, db, query)
			mustExec(tt, db, "ALTER TABLE events ENABLE TRIGGER USER")
		},
	},
}

// rawPostgres opens the ledger's schema at a postgres:// URL of the test
// server with plain SQL, as its superuser.
func rawPostgres(t testing.TB, loc string) *sql.DB {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("schema")
	q.Del("schema")
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// forEachBackend runs test on each backend, as a subtest.
func forEachBackend(t *testing.T, test func(t *testing.T, b testBackend)) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

// backendSuite is the behaviour both backends must have: one table of
// tests, run on each (TestBackends).
var backendSuite = []struct {
	name string
	run  func(t *testing.T, b testBackend, loc string)
}{
	{"append and read back", func(t *testing.T, b testBackend, loc string) {
		l := openAt(t, loc, WithNow(newClock().Now))
		ctx := context.Background()
		seq := int64(7)
		in := []Event{
			{Kind: KindIssueRequested, CData: "acme", Actor: "a@h", APIURL: "https://api"},
			{Kind: KindIssue, Fingerprint: fp(1), CData: "acme", Subject: "s", Actor: "a@h", RequestSeq: new(int64), HTTPStatus: 200,
				Detail: []byte(`{"z":1,"a":"é\u00e9","token_iat":"2024-01-01T00:00:00.000000Z"}`)},
			{Kind: KindRevoke, Fingerprint: fp(1), CData: "acme", Actor: "b@h"},
		}
		got, err := l.AppendBatch(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		_ = seq
		var read []Event
		for e, err := range l.Events(ctx, EventFilter{}) {
			if err != nil {
				t.Fatal(err)
			}
			read = append(read, e)
		}
		if len(read) != 3 {
			t.Fatalf("read %d events, want 3", len(read))
		}
		for i := range read {
			if !reflectEqual(read[i], got[i]) || read[i].Seq != int64(i) {
				t.Errorf("event %d read back as %+v, appended %+v", i, read[i], got[i])
			}
		}
		if string(read[1].Detail) != `{"z":1,"a":"é\u00e9","token_iat":"2024-01-01T00:00:00.000000Z"}` {
			t.Errorf("detail = %s, not byte for byte", read[1].Detail)
		}
		for _, f := range []EventFilter{{Fingerprint: fp(1)[:20]}, {CData: "ac", CDataPrefix: true, Kinds: []Kind{KindIssue, KindRevoke}}} {
			n := 0
			for _, err := range l.Events(ctx, f) {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != 2 {
				t.Errorf("Events(%+v) = %d events, want 2", f, n)
			}
		}
		tok, err := l.Token(ctx, fp(1)[:16])
		if err != nil {
			t.Fatal(err)
		}
		if tok.State != StateRevoked || tok.RevokedSeq == nil || *tok.RevokedSeq != 2 || tok.TokenIAT.IsZero() ||
			!tok.FirstSeenAt.Equal(tok.IssuedAt) {
			t.Errorf("token = %+v", tok)
		}
		rep, err := l.Report(ctx, ReportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Tokens.Revoked != 1 || rep.Tokens.Active != 0 || rep.Head.Size != 3 || rep.Events[KindIssue] != 1 {
			t.Errorf("report = %+v", rep)
		}
		if vr, err := l.Verify(ctx); err != nil || vr.Verified != 3 {
			t.Errorf("Verify = %+v, %v", vr, err)
		}
		info, err := l.Info(ctx)
		if err != nil || info.Head.Size != 3 || info.SchemaVersion != SchemaVersion || len(info.LedgerID) != 32 || info.FileBytes == 0 {
			t.Errorf("Info = %+v, %v", info, err)
		}
	}},
	{"pending outcomes and conditions", func(t *testing.T, b testBackend, loc string) {
		l := openAt(t, loc)
		ctx := context.Background()
		req := mustAppend(t, l, Event{Kind: KindIssueRequested, CData: "c"})
		mustAppend(t, l, Event{Kind: KindRevokeFailed, Fingerprint: fp(2), Detail: []byte(`{"outcome":"unknown"}`)})
		var pending []Event
		for e, err := range l.Pending(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			pending = append(pending, e)
		}
		if len(pending) != 2 {
			t.Fatalf("pending = %d events, want 2", len(pending))
		}
		rep, err := l.Report(ctx, ReportOptions{})
		if err != nil || len(rep.PendingIssues) != 1 || len(rep.PendingRevokes) != 1 {
			t.Fatalf("report pending = %+v, %v", rep, err)
		}
		_, applied, err := l.AppendIf(ctx, []Guarded{
			{Event: Event{Kind: KindIssue, Fingerprint: fp(3), RequestSeq: &req.Seq}, If: []Cond{IfUnknown(fp(3)), IfUnanswered(req.Seq)}},
			{Event: Event{Kind: KindIssue, Fingerprint: fp(3)}, If: []Cond{IfUnknown(fp(3))}},
			{Event: Event{Kind: KindRevoke, Fingerprint: fp(3)}, If: []Cond{IfActive(fp(3))}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if applied[0] != true || applied[1] != false || applied[2] != true {
			t.Errorf("applied = %v, want [true false true]", applied)
		}
	}},
	{"append-only, even for the owner", func(t *testing.T, b testBackend, loc string) {
		l := openAt(t, loc)
		mustAppend(t, l, Event{Kind: KindIssue, Fingerprint: fp(1)})
		if _, err := l.Checkpoint(context.Background(), mustSigner(t)); err != nil {
			t.Fatal(err)
		}
		db := b.raw(t, loc)
		stmts := []string{"UPDATE events SET subject = 'x'", "DELETE FROM events", "UPDATE hashes SET seq = 9", "DELETE FROM hashes",
			"DELETE FROM meta", "UPDATE meta SET value = 'x'", "DELETE FROM checkpoints",
			"INSERT INTO events (seq, ts, kind, leaf_hash) VALUES (5, '2025-01-01T00:00:00.000000Z', 'issue', ?)"}
		if b.name == "postgres" {
			stmts = append(stmts, "TRUNCATE events", "TRUNCATE hashes", "TRUNCATE meta", "TRUNCATE checkpoints")
		}
		for _, q := range stmts {
			var args []any
			if strings.Contains(q, "?") {
				q = strings.Replace(q, "?", map[bool]string{true: "$1", false: "?"}[b.name == "postgres"], 1)
				args = []any{make([]byte, 32)}
			}
			if _, err := db.Exec(q, args...); err == nil || !strings.Contains(err.Error(), "tokenaudit: ") {
				t.Errorf("%s: err = %v, want the ledger's refusal", q, err)
			}
		}
		if vr, err := l.Verify(context.Background()); err != nil || vr.Verified != 1 {
			t.Errorf("Verify = %+v, %v", vr, err)
		}
	}},
	{"verify names the edited seq", func(t *testing.T, b testBackend, loc string) {
		l := openAt(t, loc)
		for i := range 5 {
			mustAppend(t, l, Event{Kind: KindIssue, Fingerprint: fp(i)})
		}
		b.tamper(t, b.raw(t, loc), "UPDATE events SET subject = 'mallory' WHERE seq = 3")
		_, err := l.Verify(context.Background())
		var ie *IntegrityError
		if !errors.As(err, &ie) || ie.Seq != 3 {
			t.Fatalf("Verify = %v, want an integrity error at seq 3", err)
		}
	}},
	{"checkpoints and proofs", func(t *testing.T, b testBackend, loc string) {
		signer, verifiers := testKey(t, "test")
		l := openAt(t, loc, WithAutoCheckpoint(signer, 4))
		ctx := context.Background()
		for i := range 9 {
			mustAppend(t, l, Event{Kind: KindIssue, Fingerprint: fp(i)})
		}
		var stored []StoredCheckpoint
		for sc, err := range l.Checkpoints(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, sc)
		}
		if len(stored) != 2 || stored[0].ID != 1 || stored[1].ID != 2 || stored[0].Size != 4 || stored[1].Size != 8 {
			t.Fatalf("automatic checkpoints = %+v", stored)
		}
		sc, err := l.Checkpoint(ctx, signer)
		if err != nil || sc.ID != 3 || sc.Size != 9 {
			t.Fatalf("Checkpoint = %+v, %v", sc, err)
		}
		if _, err := l.VerifyCheckpoint(ctx, stored[0].Checkpoint); err != nil {
			t.Errorf("VerifyCheckpoint: %v", err)
		}
		p, err := l.ProveEvent(ctx, 5, sc.Note)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.Check(verifiers); err != nil {
			t.Errorf("proof check: %v", err)
		}
		if vr, err := l.Verify(ctx); err != nil || vr.Verified != 9 {
			t.Errorf("Verify = %+v, %v", vr, err)
		}
	}},
	{"dense seq from concurrent writers", func(t *testing.T, b testBackend, loc string) {
		openAt(t, loc).Close()
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for w := range 4 {
			l := openAt(t, loc)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					if _, err := l.Append(context.Background(), Event{Kind: KindIssue, Fingerprint: fp(w*100 + i)}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		l := openAt(t, loc, WithReadOnly())
		vr, err := l.Verify(context.Background())
		if err != nil || vr.Verified != 100 {
			t.Fatalf("Verify = %+v, %v", vr, err)
		}
	}},
	{"read-only", func(t *testing.T, b testBackend, loc string) {
		openAt(t, loc).Close()
		l := openAt(t, loc, WithReadOnly())
		if _, err := l.Append(context.Background(), Event{Kind: KindIssue, Fingerprint: fp(1)}); !errors.Is(err, ErrLedgerReadOnly) {
			t.Errorf("Append on a read-only ledger: %v", err)
		}
	}},
}

func TestBackends(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testBackend) {
		for _, c := range backendSuite {
			t.Run(c.name, func(t *testing.T) { c.run(t, b, b.location(t)) })
		}
	})
}

// mustSigner returns a checkpoint signer for tests.
func mustSigner(t *testing.T) interface {
	Name() string
	KeyHash() uint32
	Sign([]byte) ([]byte, error)
} {
	s, _ := testKey(t, "test")
	return s
}

// TestBackendsSameRoot appends the same events, at the same times, to a
// ledger on each backend: every leaf hash and the root at every size are
// the same.
func TestBackendsSameRoot(t *testing.T) {
	ctx := context.Background()
	var ledgers []*Ledger
	for _, b := range testBackends {
		ledgers = append(ledgers, openAt(t, b.location(t), WithNow(newClock().Now), WithActor("x@y")))
	}
	events := []Event{
		{Kind: KindIssueRequested, CData: "é\tcd"},
		{Kind: KindIssue, Fingerprint: fp(1), CData: "é\tcd", Subject: "s", RequestSeq: new(int64), HTTPStatus: 201, Detail: []byte(`{"b":2,"a":1}`)},
		{Kind: KindRevokeFailed, Fingerprint: fp(1), Error: "boom", HTTPStatus: 503, Detail: []byte(`{"outcome":"unknown"}`)},
		{Kind: KindImport, CData: "imp", Detail: []byte(`{"token_iat":"2024-03-04T05:06:07.000000Z"}`)},
		{Kind: KindRevoke, CData: "imp"},
	}
	for i := range 40 {
		e := events[i%len(events)]
		if e.Kind == KindImport || e.Kind == KindRevoke {
			e.Fingerprint = fp(1000 + i/len(events)) // a new token each time
		}
		var heads []TreeHead
		var leaves []string
		for _, l := range ledgers {
			got, err := l.Append(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			h, err := l.TreeHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			heads, leaves = append(heads, h), append(leaves, got.LeafHash)
		}
		if heads[0] != heads[1] || leaves[0] != leaves[1] {
			t.Fatalf("size %d: heads %v, leaf hashes %v differ between backends", i+1, heads, leaves)
		}
	}
	// The tokens view and the report (with a period) say the same on both.
	var views []string
	for _, l := range ledgers {
		var b strings.Builder
		for tk, err := range l.Tokens(ctx, TokenFilter{}) {
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(tk)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(append(js, '\n'))
		}
		rep, err := l.Report(ctx, ReportOptions{Since: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		rep.GeneratedAt = time.Time{}
		js, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		views = append(views, b.String()+string(js))
	}
	if views[0] != views[1] {
		t.Errorf("the backends' tokens and reports differ:\n%s\n\n%s", views[0], views[1])
	}
	if !strings.Contains(views[0], `"first_seen_at":"2024-03-04T05:06:07.000000Z"`) {
		t.Errorf("no imported token is first seen at its iat:\n%s", views[0])
	}
}

// TestPostgresDisabledTrigger: a trigger a superuser disabled and left so
// is reported by Verify.
func TestPostgresDisabledTrigger(t *testing.T) {
	loc := pgtest.URL(t)
	l := openAt(t, loc)
	mustAppend(t, l, Event{Kind: KindIssue, Fingerprint: fp(1)})
	mustExec(t, rawPostgres(t, loc), "ALTER TABLE events DISABLE TRIGGER events_no_update")
	_, err := l.Verify(context.Background())
	var ie *IntegrityError
	if !errors.As(err, &ie) || ie.Seq != -1 || !strings.Contains(ie.Problem, "trigger events_no_update is disabled") {
		t.Fatalf("Verify = %v, want the disabled trigger reported", err)
	}
}

// TestCopyRoundTrip copies a ledger SQLite → PostgreSQL → SQLite: each
// copy has the source's identity, root hash and checkpoints, and a
// checkpoint signed on the first verifies the last.
func TestCopyRoundTrip(t *testing.T) {
	ctx := context.Background()
	signer, verifiers := testKey(t, "test")
	src := openAt(t, filepath.Join(t.TempDir(), "a.db"), WithAutoCheckpoint(signer, 10))
	for i := range 35 {
		mustAppend(t, src, Event{Kind: KindIssue, Fingerprint: fp(i), CData: "c", Detail: []byte(`{"k":"v","n":1}`)})
	}
	sc, err := src.Checkpoint(ctx, signer)
	if err != nil {
		t.Fatal(err)
	}
	srcInfo, err := src.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pg := openAt(t, pgtest.URL(t))
	back := openAt(t, filepath.Join(t.TempDir(), "b.db"))
	for _, step := range []struct{ dst, src *Ledger }{{pg, src}, {back, pg}} {
		res, err := Copy(ctx, step.dst, step.src)
		if err != nil {
			t.Fatal(err)
		}
		if res.Head != srcInfo.Head || res.Checkpoints != 4 || res.LedgerID != srcInfo.LedgerID {
			t.Fatalf("Copy = %+v, want head %v, 4 checkpoints, ledger %s", res, srcInfo.Head, srcInfo.LedgerID)
		}
		info, err := step.dst.Info(ctx)
		if err != nil || info.LedgerID != srcInfo.LedgerID || !info.CreatedAt.Equal(srcInfo.CreatedAt) || info.Head != srcInfo.Head {
			t.Fatalf("copy's Info = %+v, %v; source's %+v", info, err, srcInfo)
		}
		c, err := OpenCheckpoint(sc.Note, verifiers)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := step.dst.VerifyCheckpoint(ctx, c.Checkpoint); err != nil {
			t.Errorf("the source's checkpoint does not verify the copy: %v", err)
		}
	}
	for _, l := range []*Ledger{pg, back} {
		if _, err := l.Append(ctx, Event{Kind: KindIssue, Fingerprint: fp(99)}); err != nil {
			t.Errorf("append to the copy: %v", err)
		}
	}
	if _, err := Copy(ctx, back, pg); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("Copy into a ledger with events: %v, want ErrNotEmpty", err)
	}
}

// asRole returns the URL loc with its user replaced by role.
func asRole(t *testing.T, loc, role string) string {
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

// TestPostgresRoles: a writer role may append and read, and nothing more;
// a reader role may only read.
func TestPostgresRoles(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := context.Background()
	loc := srv.SchemaURL(t)
	owner := openAt(t, loc)
	mustAppend(t, owner, Event{Kind: KindIssue, Fingerprint: fp(1)})
	b := make([]byte, 4)
	rand.Read(b)
	writer, reader := "w_"+hex.EncodeToString(b), "r_"+hex.EncodeToString(b)
	for _, r := range []string{writer, reader} {
		if err := srv.Exec(ctx, "CREATE ROLE "+r+" LOGIN"); err != nil {
			t.Skipf("cannot create roles on this server: %v", err)
		}
		t.Cleanup(func() { srv.Exec(ctx, "DROP OWNED BY "+r+"; DROP ROLE "+r) })
	}
	if err := owner.GrantRole(ctx, writer, true); err != nil {
		t.Fatal(err)
	}
	if err := owner.GrantRole(ctx, reader, false); err != nil {
		t.Fatal(err)
	}
	w := openAt(t, asRole(t, loc, writer))
	mustAppend(t, w, Event{Kind: KindRevoke, Fingerprint: fp(1)})
	if _, err := w.Checkpoint(ctx, mustSigner(t)); err != nil {
		t.Errorf("the writer's checkpoint: %v", err)
	}
	raw := rawPostgres(t, asRole(t, loc, writer))
	for _, q := range []string{"UPDATE events SET subject = 'x'", "DELETE FROM events", "TRUNCATE events", "DROP TABLE events",
		"ALTER TABLE events DISABLE TRIGGER USER", "INSERT INTO meta (key, value) VALUES ('k', 'v')", "DROP SCHEMA " + srvSchema(t, loc) + " CASCADE"} {
		if _, err := raw.Exec(q); err == nil || !(strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "must be owner")) {
			t.Errorf("the writer ran %s: err = %v", q, err)
		}
	}
	r := openAt(t, asRole(t, loc, reader), WithReadOnly())
	if vr, err := r.Verify(ctx); err != nil || vr.Verified != 2 {
		t.Errorf("the reader's Verify = %+v, %v", vr, err)
	}
	rw := openAt(t, asRole(t, loc, reader))
	if _, err := rw.Append(ctx, Event{Kind: KindIssue, Fingerprint: fp(2)}); !errors.Is(err, ErrLedgerReadOnly) {
		t.Errorf("the reader's Append: %v, want ErrLedgerReadOnly", err)
	}
}

// srvSchema returns the schema parameter of a test URL.
func srvSchema(t *testing.T, loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("schema")
}

// BenchmarkBackends measures the appends on both backends side by side:
// durable Append from 1 writer and from 8 (each its own Ledger, with its
// own connections, as 8 processes would have), and AppendBatch of 1,000
// and 10,000 events. events/s is the aggregate rate.
func BenchmarkBackends(b *testing.B) {
	ctx := context.Background()
	for _, tb := range testBackends {
		b.Run(tb.name, func(b *testing.B) {
			b.Run("Append", func(b *testing.B) {
				l := openAt(b, tb.location(b), WithActor(benchActor))
				g := &benchGen{}
				start := time.Now()
				for b.Loop() {
					if _, err := l.Append(ctx, g.next(1)[0]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			})
			b.Run("Append8", func(b *testing.B) {
				loc := tb.location(b)
				ls := make([]*Ledger, 8)
				for i := range ls {
					ls[i] = openAt(b, loc, WithActor(benchActor))
				}
				start := time.Now()
				n := 0
				for b.Loop() {
					var wg sync.WaitGroup
					for _, l := range ls {
						e := Event{Kind: KindIssue, Fingerprint: benchFP(n), CData: "customer"}
						n++
						wg.Go(func() {
							if _, err := l.Append(ctx, e); err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
				}
				b.ReportMetric(float64(8*b.N)/time.Since(start).Seconds(), "events/s")
			})
			for _, size := range []int{1000, 10_000} {
				b.Run(fmt.Sprint("AppendBatch", size), func(b *testing.B) {
					l := openAt(b, tb.location(b), WithActor(benchActor))
					benchAppendBatch(b, l, &benchGen{}, size)
				})
			}
		})
	}
}

// TestPostgresNotDurable: a writable ledger refuses a session whose
// commits are acknowledged before they are on disk; reading is fine.
func TestPostgresNotDurable(t *testing.T) {
	loc := pgtest.URL(t)
	openAt(t, loc).Close()
	lax := pgtest.WithParam(loc, "synchronous_commit", "off")
	if l, err := Open(lax); !errors.Is(err, ErrNotDurable) || !strings.Contains(err.Error(), "synchronous_commit is off") {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Open with synchronous_commit off: %v, want ErrNotDurable", err)
	}
	openAt(t, lax, WithReadOnly())
}

// TestRebind: SQLite's placeholders become PostgreSQL's, outside string
// literals.
func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                       "SELECT 1",
		"a = ? AND b = ?":                "a = $1 AND b = $2",
		"x = ?1 OR y = ?1 AND z = '?'":   "x = $1 OR y = $1 AND z = '?'",
		"'it''s ?' || ? || json_extract": "'it''s ?' || $1 || json_extract",
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h/db?sslmode=require": "postgres://u@h/db?sslmode=require",
		"postgresql://u@h/db?password=secret&x=1":  "postgresql://u@h/db?x=1",
		"/var/lib/ledger.db":                       "/var/lib/ledger.db",
	} {
		if got := RedactURL(in); got != want || strings.Contains(got, "secret") {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPostgresAlteredView: a tokens view a superuser replaced is reported
// by Verify.
func TestPostgresAlteredView(t *testing.T) {
	loc := pgtest.URL(t)
	l := openAt(t, loc)
	mustAppend(t, l, Event{Kind: KindIssue, Fingerprint: fp(1)})
	if vr, err := l.Verify(context.Background()); err != nil || !vr.OK() {
		t.Fatalf("Verify of an untouched ledger = %+v, %v", vr, err)
	}
	raw := rawPostgres(t, loc)
	var def string
	if err := raw.QueryRow("SELECT pg_get_viewdef('tokens'::regclass)").Scan(&def); err != nil {
		t.Fatal(err)
	}
	mustExec(t, raw, "CREATE OR REPLACE VIEW tokens AS "+strings.Replace(strings.TrimSuffix(strings.TrimSpace(def), ";"), "'active'", "'revoked'", 1))
	_, err := l.Verify(context.Background())
	var ie *IntegrityError
	if !errors.As(err, &ie) || !strings.Contains(ie.Problem, "view tokens was altered") {
		t.Fatalf("Verify = %v, want the altered view reported", err)
	}
}

// TestPostgresUpgradesEventsDense: a ledger whose events_dense has the
// earlier body (a generic plan of it scanned the whole table on every
// append) verifies intact, and a writable Open replaces that body.
func TestPostgresUpgradesEventsDense(t *testing.T) {
	ctx := context.Background()
	loc := pgtest.URL(t)
	l := openAt(t, loc)
	mustAppend(t, l, Event{Kind: KindIssue, Fingerprint: fp(1)})
	b := l.db.(*postgresBackend)
	s := b.ident()
	raw := rawPostgres(t, loc)
	mustExec(t, raw, "CREATE OR REPLACE "+functionDef(s, "events_dense", earlierEventsDense(s)))
	if vr, err := l.Verify(ctx); err != nil || !vr.OK() {
		t.Fatalf("Verify with the earlier events_dense = %+v, %v", vr, err)
	}
	body := func() string {
		var src string
		if err := raw.QueryRow("SELECT p.prosrc FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = 'events_dense'", b.schema).Scan(&src); err != nil {
			t.Fatal(err)
		}
		return src
	}
	openAt(t, loc, WithReadOnly()).Close()
	if body() != earlierEventsDense(s) {
		t.Fatal("a read-only Open changed events_dense")
	}
	l2 := openAt(t, loc)
	if got := body(); got != pgFunctions(s)["events_dense"] {
		t.Fatalf("after a writable Open, events_dense = %s", got)
	}
	mustAppend(t, l2, Event{Kind: KindIssue, Fingerprint: fp(2)})
	if _, err := l2.Append(ctx, Event{Kind: KindIssue, Fingerprint: fp(3)}); err != nil {
		t.Fatal(err)
	}
	if vr, err := l2.Verify(ctx); err != nil || !vr.OK() || vr.Verified != 3 {
		t.Fatalf("Verify after the upgrade = %+v, %v", vr, err)
	}
}
