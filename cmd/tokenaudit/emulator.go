package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// emulatorPIDVar is the variable "emulator --detach" sets to the process
// that serves the fake API, for "kill $TOKENAUDIT_EMULATOR_PID".
const emulatorPIDVar = "TOKENAUDIT_EMULATOR_PID"

func (a *app) emulatorCommand() *cobra.Command {
	var (
		listen, keyFile     string
		allowRemote, detach bool
		listenFD            int
		faults              emulatorFaults
	)
	cmd := &cobra.Command{
		Use:   "emulator [--listen 127.0.0.1:8080] [--detach] [--key-file FILE]",
		Short: "Run a fake Woleet API locally, to try tokenaudit without an account",
		Long: `Run the fake Woleet API of package woleettest as a server until interrupted
(Ctrl-C), and print the export lines that point the other commands at it.
With --detach it serves in the background instead, and prints only the
export lines (what it says goes to standard error), so that
eval "$(tokenaudit emulator --detach)" points this shell at it; the export
line of $` + emulatorPIDVar + ` names the process to kill to stop it.

It implements GET /token, DELETE /token, GET /user/tokens and PUT
/user/tokens (which replaces the list: the tokens it leaves out are dropped,
as another tool would drop them) under /v1, with Basic and Bearer
authentication, and signs real JWTs without exp, as Woleet
does: HS256 with a random secret, or with --key-file FILE, ES256 with the
P-256 private key in FILE (PEM), which it creates when FILE does not exist;
"tokenaudit verify --key FILE" then verifies its tokens. State lives in
memory and is gone when the emulator stops.

Faults for trials under bad conditions: --fail-rate 0.1 --fail-status 503
answers a tenth of the requests 503 without doing anything; --drop-rate 0.05
processes a twentieth and then drops the connection without an answer (the
lost-answer case); --latency 200ms delays every answer; --rate-limit 20
answers 429 past 20 requests a second per client; --seed repeats a trial's
draws. "curl -X POST 'http://127.0.0.1:8080/_woleettest/control?fault=fail&status=503&n=2'"
queues a fault for the next requests (fault=drop, or latency=2s, too), from
loopback only.

It listens on loopback by default. Its credentials are public, so listening
on any other address is refused unless --listen names it explicitly and
--allow-remote is given.`,
		Example: `  tokenaudit emulator        # in a terminal of its own; paste its export lines into another
  eval "$(tokenaudit emulator --detach --key-file issuer.pem)"
  kill $` + emulatorPIDVar,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkLoopback(listen, allowRemote); err != nil {
				return err
			}
			if err := faults.check(); err != nil {
				return err
			}
			var key *ecdsa.PrivateKey
			if keyFile != "" {
				var err error
				if key, err = a.emulatorKey(keyFile, listenFD == 0); err != nil {
					return err
				}
			}
			var ln net.Listener
			var err error
			if listenFD > 0 {
				ln, err = net.FileListener(os.NewFile(uintptr(listenFD), "listener"))
			} else {
				ln, err = net.Listen("tcp", listen)
			}
			if err != nil {
				return withHint(fmt.Errorf("emulator: %w", err), "choose another address with --listen, such as 127.0.0.1:0 for any free port")
			}
			if detach {
				return a.detachEmulator(ln, append(keyArgs(keyFile), faults.args()...))
			}
			opts := []woleettest.Option{woleettest.WithLogger(slog.New(slog.NewTextHandler(a.stderr, nil)))}
			opts = append(opts, faults.options()...)
			if key != nil {
				opts = append(opts, woleettest.WithES256Key(key))
			}
			srv := woleettest.NewUnstartedServer(opts...)
			srv.Listener.Close()
			srv.Listener = ln
			srv.Start()
			defer srv.Close()
			if faults.latency > 0 {
				srv.SetLatency(faults.latency)
			}

			fmt.Fprintf(a.stdout, "# The fake Woleet API is listening at %s (Ctrl-C to stop).\n", srv.URL)
			fmt.Fprintf(a.stdout, "# Paste these lines into another shell to point tokenaudit at it:\n")
			a.printEmulatorExports(srv.URL)
			if f, ok := a.stdout.(interface{ Sync() error }); ok {
				_ = f.Sync()
			}
			<-cmd.Context().Done()
			fmt.Fprintln(a.stderr, "tokenaudit: emulator stopped")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	fl.BoolVar(&allowRemote, "allow-remote", false, "allow a non-loopback --listen address")
	fl.BoolVar(&detach, "detach", false, "serve in the background and print only the export lines, for eval")
	fl.StringVar(&keyFile, "key-file", "", "sign ES256 with the P-256 private key in this PEM file, created if missing")
	fl.IntVar(&listenFD, "listen-fd", 0, "serve on the listening socket inherited as this file descriptor (what --detach starts)")
	_ = fl.MarkHidden("listen-fd")
	faults.register(cmd)
	return cmd
}

// keyArgs passes --key-file on to the background emulator.
func keyArgs(keyFile string) []string {
	if keyFile == "" {
		return nil
	}
	return []string{"--key-file", keyFile}
}

// emulatorFaults are the emulator's fault flags.
type emulatorFaults struct {
	failRate, dropRate float64
	failStatus         int
	rateLimit          float64
	latency            time.Duration
	seed               uint64
}

func (f *emulatorFaults) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Float64Var(&f.failRate, "fail-rate", 0, "answer this share of requests (0 to 1) with --fail-status, doing nothing")
	fl.IntVar(&f.failStatus, "fail-status", 503, "the status of --fail-rate's failures")
	fl.Float64Var(&f.dropRate, "drop-rate", 0, "process this share of requests (0 to 1), then drop the connection without an answer")
	fl.Float64Var(&f.rateLimit, "rate-limit", 0, "answer 429 past this many requests a second per client (0: no limit)")
	fl.DurationVar(&f.latency, "latency", 0, "delay every answer by this long, after processing the request")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of --fail-rate's and --drop-rate's draws")
}

// check validates the fault flags.
func (f *emulatorFaults) check() error {
	switch {
	case f.failRate < 0 || f.failRate > 1 || f.dropRate < 0 || f.dropRate > 1:
		return usageErrorf("--fail-rate and --drop-rate are shares, from 0 to 1")
	case f.failStatus < 100 || f.failStatus > 599:
		return usageErrorf("--fail-status %d is not an HTTP status", f.failStatus)
	case f.rateLimit < 0 || f.latency < 0:
		return usageErrorf("--rate-limit and --latency cannot be negative")
	}
	return nil
}

// options are the woleettest options of the fault flags.
func (f *emulatorFaults) options() []woleettest.Option {
	var opts []woleettest.Option
	if f.failRate > 0 || f.dropRate > 0 {
		opts = append(opts, woleettest.WithRandomFaults(woleettest.RandomFaults{FailRate: f.failRate,
			FailStatus: f.failStatus, DropRate: f.dropRate, Seed: f.seed}))
	}
	if f.rateLimit > 0 {
		opts = append(opts, woleettest.WithRateLimit(rate.Limit(f.rateLimit), max(1, int(f.rateLimit))))
	}
	return opts
}

// args passes the fault flags on to the background emulator.
func (f *emulatorFaults) args() []string {
	return []string{"--fail-rate", strconv.FormatFloat(f.failRate, 'g', -1, 64), "--fail-status", strconv.Itoa(f.failStatus),
		"--drop-rate", strconv.FormatFloat(f.dropRate, 'g', -1, 64), "--rate-limit", strconv.FormatFloat(f.rateLimit, 'g', -1, 64),
		"--latency", f.latency.String(), "--seed", strconv.FormatUint(f.seed, 10)}
}

// printEmulatorExports prints the export lines that point tokenaudit at
// the emulator at url.
func (a *app) printEmulatorExports(url string) {
	fmt.Fprintf(a.stdout, "export WOLEET_API_URL=%s\n", shellQuote(url))
	fmt.Fprintf(a.stdout, "export WOLEET_USERNAME=%s\n", shellQuote(woleettest.DefaultEmail))
	fmt.Fprintf(a.stdout, "export WOLEET_PASSWORD=%s\n", shellQuote(woleettest.DefaultPassword))
}

// detachEmulator starts this program again, in a session of its own, to
// serve on ln in the background, and prints the export lines. The new
// process inherits the listening socket, so the API answers as soon as
// this command returns, and no standard stream, so that "$(…)" does not
// wait for it.
func (a *app) detachEmulator(ln net.Listener, extra []string) error {
	tcp, ok := ln.(*net.TCPListener)
	if !ok {
		return errors.New("emulator: --detach needs a TCP listener")
	}
	f, err := tcp.File()
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	defer f.Close()
	url := "http://" + ln.Addr().String() + woleettest.PathPrefix
	ln.Close() // the child serves on f, a copy of the socket
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	args := append([]string{"emulator", "--listen", ln.Addr().String(), "--listen-fd", "3", "--allow-remote"}, extra...)
	child := exec.Command(exe, args...)
	child.ExtraFiles = []*os.File{f} // file descriptor 3
	if child.SysProcAttr, err = detachedProcAttr(); err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return fmt.Errorf("emulator: starting the background process: %w", err)
	}
	pid := child.Process.Pid
	_ = child.Process.Release()
	a.printEmulatorExports(url)
	fmt.Fprintf(a.stdout, "export %s=%d\n", emulatorPIDVar, pid)
	fmt.Fprintf(a.stderr, "tokenaudit: a fake Woleet API listens at %s in the background (process %d); stop it with: kill $%s\n",
		url, pid, emulatorPIDVar)
	return nil
}

// emulatorKey reads the P-256 private key in path (PEM, PKCS #8 or SEC 1),
// or, when path does not exist and create is set, writes a new one there
// (mode 0600).
func (a *app) emulatorKey(path string, create bool) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("--key-file: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("--key-file: %w", err)
		}
		out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--key-file: %w", err)
		}
		if err := pem.Encode(out, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			out.Close()
			return nil, fmt.Errorf("--key-file %s: %w", path, err)
		}
		if err := out.Close(); err != nil {
			return nil, fmt.Errorf("--key-file %s: %w", path, err)
		}
		fmt.Fprintf(a.stderr, "tokenaudit: wrote a new ES256 signing key to %s: \"tokenaudit verify --key %s\" verifies the emulator's tokens\n",
			path, shellQuote(path))
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--key-file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("--key-file %s: not a PEM file", path)
	}
	var parsed any
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("--key-file %s: a PEM %q block, not a private key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("--key-file %s: %w", path, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("--key-file %s: not a P-256 (ES256) private key", path)
	}
	return key, nil
}

// checkLoopback refuses a non-loopback listen address unless allowed.
func checkLoopback(listen string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usageErrorf("--listen %q: %v", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err == nil && ip.IsLoopback() {
		return nil
	}
	if allowRemote {
		return nil
	}
	return withHint(usageErrorf("--listen %q is not a loopback address: the emulator's credentials are public", listen),
		"add --allow-remote if you really mean to serve it to the network")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '@') {
			safe = false
			break
		}
	}
	if safe && s != "" {
		return s
	}
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
}
