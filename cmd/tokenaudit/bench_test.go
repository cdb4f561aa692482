package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenaudit/tokenaudit/internal/cputime"
)

// woleetStream returns n Woleet-style tokens (sub, iat, jti, cdata; no exp),
// one per line.
func woleetStream(n int) []byte {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	sig := enc.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
	var buf bytes.Buffer
	buf.Grow(n * 260)
	for i := range n {
		claims := fmt.Sprintf(`{"sub":"8c9f3d1e-7b2a-4c55-9e61-0f3a2b4c5d6e","iat":%d,"jti":"%032x","cdata":"customer-%d"}`, 1764320000+i, i, i%1000)
		buf.WriteString(header)
		buf.WriteByte('.')
		buf.WriteString(enc.EncodeToString([]byte(claims)))
		buf.WriteByte('.')
		buf.WriteString(sig)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// peakHeap samples the live heap while f runs and returns the highest value.
func peakHeap(f func()) uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}

// tokenReader generates a stream of n Woleet-style tokens on the fly, so
// that a benchmark's heap holds only what the command under test holds.
type tokenReader struct {
	n, i    int
	pending []byte
	sample  []byte
}

func newTokenReader(n int) *tokenReader {
	return &tokenReader{n: n, sample: woleetStream(1000)}
}

func (r *tokenReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.i >= r.n {
			return 0, io.EOF
		}
		// Whole blocks of the 1,000-token sample, cut short at n.
		block := r.sample
		if left := r.n - r.i; left < 1000 {
			block = block[:lineOffset(block, left)]
			r.i = r.n
		} else {
			r.i += 1000
		}
		r.pending = block
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// benchmarkStream runs one command in-process over a stream of Woleet-style
// tokens, b.N tokens in all, and reports tokens/s and the peak heap.
func benchmarkStream(b *testing.B, args ...string) {
	e := &env{stdin: newTokenReader(b.N), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, now: time.Now}
	b.ResetTimer()
	var code int
	start, ok := cputime.Process()
	peak := peakHeap(func() { code = run(context.Background(), args, e) })
	end, _ := cputime.Process()
	b.StopTimer()
	if code != 0 {
		b.Fatalf("exit status %d", code)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	if ok {
		// CPU time counts both cores' work and not the time spent waiting
		// for a core the machine's other users held.
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/token")
	}
}

// BenchmarkInspectJSONL: "tokenaudit inspect --format jsonl" over a stream
// (goal: ≥ 500,000 tokens/s on 2 cores, memory flat). Run with
// -benchtime=1000000x for the 1,000,000-token stream.
func BenchmarkInspectJSONL(b *testing.B) { benchmarkStream(b, "inspect", "--format", "jsonl", "-") }

// BenchmarkCDataStream: "tokenaudit cdata" over a stream.
func BenchmarkCDataStream(b *testing.B) { benchmarkStream(b, "cdata", "-") }

// BenchmarkCDataProcess runs "tokenaudit cdata TOKEN" as a whole process,
// start-up included (goal: ≤ 15 ms). Compare with BenchmarkHelloProcess:
//
//	go test -run '^$' -bench 'Process' -benchtime 300x ./cmd/tokenaudit
func BenchmarkCDataProcess(b *testing.B) {
	tok := string(bytes.TrimSpace(woleetStream(1)))
	benchmarkProcess(b, "customer-0\n", binary, "cdata", tok)
}

// BenchmarkHelloProcess runs a hello-world Go program built by the same
// toolchain: the floor that exec and the Go runtime's start put under any
// Go command on this machine.
func BenchmarkHelloProcess(b *testing.B) {
	dir := b.TempDir()
	for name, text := range map[string]string{
		"go.mod":  "module hello\n",
		"main.go": "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello\\n\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", "hello", ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building hello: %v\n%s", err, out)
	}
	benchmarkProcess(b, "hello\n", filepath.Join(dir, "hello"))
}

// benchmarkProcess runs argv once per iteration and checks that it prints
// want. Besides the mean it reports the median wall time, which a busy
// machine's outliers move less, and the child's CPU time (user and system).
func benchmarkProcess(b *testing.B, want string, argv ...string) {
	var (
		walls []time.Duration
		cpu   time.Duration
	)
	for b.Loop() {
		cmd := exec.Command(argv[0], argv[1:]...)
		start := time.Now()
		out, err := cmd.Output()
		walls = append(walls, time.Since(start))
		if err != nil || string(out) != want {
			b.Fatalf("%s: %q, %v", argv[0], out, err)
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	slices.Sort(walls)
	b.ReportMetric(float64(walls[len(walls)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(walls)), "cpu-ms/op")
}

// lineOffset returns the offset just after the n-th newline of s.
func lineOffset(s []byte, n int) int {
	off := 0
	for range n {
		off += bytes.IndexByte(s[off:], '\n') + 1
	}
	return off
}
