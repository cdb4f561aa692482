package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment of a helper process (see TestHelperProcess).
const (
	envHelper = "TOKENAUDIT_AUDIT_HELPER" // the ledger path; set only in helpers
	envName   = "TOKENAUDIT_AUDIT_HELPER_NAME"
	envCount  = "TOKENAUDIT_AUDIT_HELPER_COUNT" // 0: append until killed
)

// TestHelperProcess is not a test: it is the body of the child processes the
// reliability tests start by re-executing the test binary. It appends
// events named NAME-0, NAME-1, … and, after each Append returns, prints
// "ack SEQ CDATA LEAFHASH\n".
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(envHelper)
	if path == "" {
		return
	}
	name := os.Getenv(envName)
	count, err := strconv.Atoi(os.Getenv(envCount))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	for i := 0; count == 0 || i < count; i++ {
		e := Event{Kind: KindIssueRequested, CData: fmt.Sprintf("%s-%d", name, i)}
		if i%3 == 2 {
			e = Event{Kind: KindImport, Fingerprint: fp(i), CData: fmt.Sprintf("%s-%d", name, i)}
		}
		got, err := l.Append(ctx, e)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		fmt.Fprintf(os.Stdout, "ack %d %s %s\n", got.Seq, got.CData, got.LeafHash)
	}
}

// ack is an acknowledged append: Append returned these values.
type ack struct {
	seq      int64
	cdata    string
	leafHash string
}

// helper is a running child process.
type helper struct {
	cmd    *exec.Cmd
	stderr strings.Builder
	acks   chan []ack
	first  chan struct{} // closed at the first ack
}

// startHelper re-executes the test binary as an appender of count events
// (0: until killed) to the ledger at path.
func startHelper(t *testing.T, path, name string, count int) *helper {
	t.Helper()
	h := &helper{acks: make(chan []ack, 1), first: make(chan struct{})}
	h.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	h.cmd.Env = append(os.Environ(), envHelper+"="+path, envName+"="+name, envCount+"="+strconv.Itoa(count))
	h.cmd.Stderr = &h.stderr
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.acks <- readAcks(out, h.first) }()
	return h
}

// readAcks reads complete ack lines until EOF, closing first at the first
// one; a line cut short by a kill (no newline) is not an acknowledgement.
func readAcks(r io.Reader, first chan struct{}) []ack {
	var acks []ack
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return acks
		}
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "ack" {
			continue
		}
		seq, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		acks = append(acks, ack{seq, f[2], f[3]})
		if len(acks) == 1 {
			close(first)
		}
	}
}

// wait waits for the helper to exit and returns its acks.
func (h *helper) wait(t *testing.T, wantSuccess bool) []ack {
	t.Helper()
	acks := <-h.acks
	err := h.cmd.Wait()
	if wantSuccess && err != nil {
		t.Fatalf("helper failed: %v\n%s", err, h.stderr.String())
	}
	return acks
}

// checkAcks verifies the ledger and checks that every acknowledged event is
// present at its seq, unchanged.
func checkAcks(t *testing.T, path string, acks []ack) {
	t.Helper()
	// Open writable: after a kill during the very first Open the file may
	// be empty or not yet migrated, and recovery is part of what is tested.
	l, err := Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer l.Close()
	ctx := context.Background()
	rep, err := l.Verify(ctx)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	stored := map[int64]Event{}
	for e, err := range l.Events(ctx, EventFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		stored[e.Seq] = e
	}
	if int64(len(stored)) != rep.Verified {
		t.Errorf("%d events listed, %d verified", len(stored), rep.Verified)
	}
	seen := map[int64]bool{}
	for _, a := range acks {
		if seen[a.seq] {
			t.Errorf("seq %d acknowledged twice", a.seq)
		}
		seen[a.seq] = true
		e, ok := stored[a.seq]
		if !ok || e.CData != a.cdata || e.LeafHash != a.leafHash {
			t.Errorf("acknowledged seq %d (%s) is missing or changed: %+v", a.seq, a.cdata, e)
		}
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	// Two Ledger values on one file: two writer connections competing for
	// SQLite's lock, as two processes would.
	ledgers := []*Ledger{openAt(t, path), openAt(t, path)}
	ctx := context.Background()
	const workers, rounds = 8, 25
	var (
		mu   sync.Mutex
		acks []ack
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			l := ledgers[w%2]
			for i := range rounds {
				cdata := fmt.Sprintf("g%d-%d", w, i)
				var got []Event
				var err error
				if i%5 == 4 {
					got, err = l.AppendBatch(ctx, []Event{{Kind: KindIssueRequested, CData: cdata}, {Kind: KindIssueRequested, CData: cdata}})
				} else {
					var e Event
					e, err = l.Append(ctx, Event{Kind: KindIssueRequested, CData: cdata})
					got = []Event{e}
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, e := range got {
					acks = append(acks, ack{e.Seq, e.CData, e.LeafHash})
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("append: %v", err)
	}
	if want := workers * (rounds + rounds/5); len(acks) != want {
		t.Errorf("%d acks, want %d", len(acks), want)
	}
	checkAcks(t, path, acks)
}

func TestConcurrentProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openAt(t, path)
	const procs, perProc = 3, 40
	var helpers []*helper
	for p := range procs {
		helpers = append(helpers, startHelper(t, path, fmt.Sprintf("p%d", p), perProc))
	}
	// The parent appends at the same time.
	var acks []ack
	for i := range perProc {
		e, err := l.Append(context.Background(), Event{Kind: KindIssueRequested, CData: fmt.Sprintf("parent-%d", i)})
		if err != nil {
			t.Fatalf("parent append: %v", err)
		}
		acks = append(acks, ack{e.Seq, e.CData, e.LeafHash})
	}
	for _, h := range helpers {
		got := h.wait(t, true)
		if len(got) != perProc {
			t.Errorf("helper acknowledged %d events, want %d", len(got), perProc)
		}
		acks = append(acks, got...)
	}
	checkAcks(t, path, acks)
	if n, _ := l.Count(context.Background()); n != (procs+1)*perProc {
		t.Errorf("Count() = %d, want %d", n, (procs+1)*perProc)
	}
}

// TestCrashLoop SIGKILLs appending processes at random moments, again and
// again, and checks after each kill that the ledger opens, verifies, and
// holds every acknowledged event.
func TestCrashLoop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	iterations := 20
	if testing.Short() {
		iterations = 4
	}
	var acks []ack
	for it := range iterations {
		// Two appenders at once, so that a kill can land while the other
		// holds the write lock or waits for it.
		hs := []*helper{
			startHelper(t, path, fmt.Sprintf("c%da", it), 0),
			startHelper(t, path, fmt.Sprintf("c%db", it), 0),
		}
		if it > 0 {
			// Kill while appending: after the first acknowledgement.
			select {
			case <-hs[0].first:
			case <-time.After(30 * time.Second):
				t.Fatalf("helper never acknowledged an append:\n%s", hs[0].stderr.String())
			}
		}
		// The first time, the kill lands during Open, schema creation
		// included, of a ledger that does not exist yet.
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		for _, h := range hs {
			if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
		}
		for _, h := range hs {
			got := h.wait(t, false)
			if ws, ok := h.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
				t.Fatalf("helper was not killed: %v\n%s", h.cmd.ProcessState, h.stderr.String())
			}
			acks = append(acks, got...)
		}
		checkAcks(t, path, acks)
	}
	if len(acks) == 0 {
		t.Fatal("no append was acknowledged before the kills")
	}
	t.Logf("%d kills, %d acknowledged events", 2*iterations, len(acks))
}
