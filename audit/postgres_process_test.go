package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/internal/pgtest"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// The appender is this test binary run again as a writer process: with
// TOKENAUDIT_TEST_APPENDER=URL it appends TOKENAUDIT_TEST_APPENDS events,
// one transaction each, printing "seq fingerprint" once each is
// acknowledged, and retries an append that fails (a restarting server).
const (
	envAppender = "TOKENAUDIT_TEST_APPENDER"
	envAppends  = "TOKENAUDIT_TEST_APPENDS"
	envWriterID = "TOKENAUDIT_TEST_WRITER"
)

func TestPostgresAppender(t *testing.T) {
	loc := os.Getenv(envAppender)
	if loc == "" {
		t.Skip("run by TestPostgresProcesses as a writer process")
	}
	n, _ := strconv.Atoi(os.Getenv(envAppends))
	id, _ := strconv.Atoi(os.Getenv(envWriterID))
	var l *Ledger
	for {
		var err error
		if l, err = Open(loc, WithBusyTimeout(time.Minute)); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer l.Close()
	w := bufio.NewWriter(os.Stdout)
	for i := 0; i < n; {
		e, err := l.Append(context.Background(), Event{Kind: KindIssue, Fingerprint: fp(id*1_000_000 + i), CData: "w" + strconv.Itoa(id)})
		if err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		fmt.Fprintln(w, e.Seq, e.Fingerprint)
		w.Flush()
		i++
	}
}

// appender starts a writer process on loc that appends n events.
func appender(t *testing.T, loc string, id, n int) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresAppender$", "-test.count=1")
	cmd.Env = append(os.Environ(), envAppender+"="+loc, envAppends+"="+strconv.Itoa(n), envWriterID+"="+strconv.Itoa(id))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out, &errb
}

// acknowledged parses the appenders' output: seq → fingerprint.
func acknowledged(t *testing.T, outs ...*bytes.Buffer) map[int64]string {
	acks := map[int64]string{}
	for _, out := range outs {
		for _, line := range strings.Split(out.String(), "\n") {
			seq, fpr, ok := strings.Cut(line, " ")
			if !ok || !strings.HasPrefix(fpr, "sha256:") || len(fpr) != 71 {
				continue // a line cut short by a kill
			}
			s, err := strconv.ParseInt(seq, 10, 64)
			if err != nil {
				t.Fatalf("appender printed %q", line)
			}
			if prev, dup := acks[s]; dup {
				t.Fatalf("seq %d acknowledged twice: %s and %s", s, prev, fpr)
			}
			acks[s] = fpr
		}
	}
	return acks
}

// checkLedger verifies the ledger and that it holds every acknowledged
// event, and returns its size.
func checkLedger(t *testing.T, loc string, acks map[int64]string) int64 {
	t.Helper()
	l := openAt(t, loc, WithReadOnly())
	ctx := context.Background()
	vr, err := l.Verify(ctx)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	held := map[int64]string{}
	for e, err := range l.Events(ctx, EventFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		held[e.Seq] = e.Fingerprint
	}
	for seq, fpr := range acks {
		if held[seq] != fpr {
			t.Errorf("acknowledged event %d (%s) is not in the ledger (it holds %q)", seq, fpr, held[seq])
		}
	}
	if int64(len(held)) != vr.Verified {
		t.Errorf("%d events read, %d verified", len(held), vr.Verified)
	}
	return vr.Verified
}

// TestPostgresProcesses: 8 processes × 500 appends on one PostgreSQL
// ledger give exactly 4,000 events, dense from 0, verified intact.
func TestPostgresProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	loc := pgtest.URL(t)
	openAt(t, loc).Close()
	var outs []*bytes.Buffer
	var cmds []*exec.Cmd
	var errs []*bytes.Buffer
	for id := range 8 {
		cmd, out, errb := appender(t, loc, id, 500)
		cmds, outs, errs = append(cmds, cmd), append(outs, out), append(errs, errb)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer %d: %v\n%s", i, err, errs[i])
		}
	}
	acks := acknowledged(t, outs...)
	if len(acks) != 4000 {
		t.Fatalf("%d appends acknowledged, want 4000", len(acks))
	}
	if n := checkLedger(t, loc, acks); n != 4000 {
		t.Fatalf("the ledger holds %d events, want 4000", n)
	}
}

// TestPostgresKilledWriters: writers SIGKILLed at random moments, 20
// times, leave nothing partial and lose nothing they acknowledged.
func TestPostgresKilledWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	loc := pgtest.URL(t)
	openAt(t, loc).Close()
	var outs []*bytes.Buffer
	for round := range 20 {
		var wg sync.WaitGroup
		for id := range 2 {
			cmd, out, _ := appender(t, loc, round*10+id, 1_000_000)
			outs = append(outs, out)
			wg.Go(func() {
				time.Sleep(time.Duration(300+100*id+37*round%200) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
			})
		}
		wg.Wait()
	}
	waitQuiet(t, loc)
	acks := acknowledged(t, outs...)
	n := checkLedger(t, loc, acks)
	if len(acks) == 0 || n < int64(len(acks)) {
		t.Fatalf("%d acknowledged, the ledger holds %d", len(acks), n)
	}
	t.Logf("%d events acknowledged before the kills, %d in the ledger", len(acks), n)
}

// TestPostgresServerCrash: the server stopped with pg_ctl -m immediate
// (a crash) and started again while writers append: the writers retry,
// and the ledger keeps every acknowledged event, dense and intact.
func TestPostgresServerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	srv := pgtest.Shared(t)
	if srv.Dir == "" {
		t.Skip("the server is not one this test may crash (" + pgtest.EnvURL + ")")
	}
	loc := srv.SchemaURL(t)
	openAt(t, loc).Close()
	var outs []*bytes.Buffer
	var cmds []*exec.Cmd
	var errs []*bytes.Buffer
	for id := range 3 {
		cmd, out, errb := appender(t, loc, id, 600)
		cmds, outs, errs = append(cmds, cmd), append(outs, out), append(errs, errb)
	}
	time.Sleep(300 * time.Millisecond)
	if err := srv.Restart("immediate"); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer %d: %v\n%s", i, err, errs[i])
		}
	}
	failed := 0
	for _, errb := range errs {
		for _, line := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
			if !strings.HasPrefix(line, "append:") {
				continue
			}
			failed++
			if !strings.Contains(line, ErrLedgerUnavailable.Error()) {
				t.Errorf("an append failed with an error not classified as the server's: %s", line)
			}
		}
	}
	if failed == 0 {
		t.Fatal("no writer saw the server go: the crash came too late")
	}
	acks := acknowledged(t, outs...)
	if len(acks) != 1800 {
		t.Fatalf("%d appends acknowledged, want 1800", len(acks))
	}
	// A commit whose answer the crash cut off was retried: at most one
	// more event per writer than acknowledged.
	if n := checkLedger(t, loc, acks); n < 1800 || n > 1803 {
		t.Fatalf("the ledger holds %d events, want 1800 to 1803", n)
	}
	t.Logf("%d appends failed while the server was down and were retried", failed)
}

// waitQuiet waits until the ledger stops growing: the server may still
// commit a transaction whose writer was killed after sending COMMIT.
func waitQuiet(t *testing.T, loc string) {
	l := openAt(t, loc, WithReadOnly())
	last := int64(-1)
	for {
		n, err := l.Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == last {
			return
		}
		last = n
		time.Sleep(300 * time.Millisecond)
	}
}

// TestPostgresServerKilledDuringIssue: the server crashes after the API
// issued a token and before the ledger recorded it: the token is revoked
// again, Issue says so, and the error is the server's unavailability.
func TestPostgresServerKilledDuringIssue(t *testing.T) {
	srv := pgtest.Shared(t)
	if srv.Dir == "" {
		t.Skip("the server is not one this test may crash (" + pgtest.EnvURL + ")")
	}
	loc := srv.SchemaURL(t)
	api := woleettest.NewServer()
	t.Cleanup(api.Close)
	client := fastClient(api)
	l := openAt(t, loc)
	crash := hookAPI{TokenAPI: client, afterGenerate: func() {
		if err := srv.Stop("immediate"); err != nil {
			t.Error(err)
		}
	}}
	a, err := NewAuditor(l, crash, WithAPIURL(client.BaseURL()), WithAPIIdentity(client.Identity()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Issue(context.Background(), IssueOptions{CData: "acme"})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var ue *UnrecordedError
	if !errors.As(err, &ue) || !ue.Revoked || !errors.Is(err, ErrLedgerUnavailable) {
		t.Fatalf("Issue = %v, want an UnrecordedError with the token revoked, the server unavailable", err)
	}
	if live := api.LiveTokens(woleettest.DefaultEmail); len(live) != 0 {
		t.Errorf("%d tokens live after the failed issue", len(live))
	}
	if n := checkLedger(t, loc, nil); n != 1 {
		t.Errorf("the ledger holds %d events, want the issue request alone", n)
	}
}
