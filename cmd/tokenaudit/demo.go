package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
	"github.com/tokenaudit/tokenaudit/woleet"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// defaultDemoLedger is where the demo writes when --db is not given: in
// the current directory, never the user's real ledger.
const defaultDemoLedger = "tokenaudit-demo.db"

// demoCustomers are the cdata of the tokens the demo issues, in order.
var demoCustomers = []string{"acme-corp", "acme-corp", "globex", "initech"}

// demoRevoked is the customer whose token the demo revokes.
const demoRevoked = "globex"

// demoShadow is the cdata of the token issued behind the ledger's back.
const demoShadow = "shadow-ci"

func (a *app) demoCommand() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "demo [--db PATH]",
		Short: "Run tokenaudit end to end against a fake API, in a few seconds",
		Long: `Run the whole of tokenaudit against the fake Woleet API of package
woleettest, started in this process on loopback: no network, no account.

It issues tokens for a few example customers, revokes one, has "someone
else" issue a token directly on the fake API behind the ledger's back,
reconciles the ledger with the API (finding that token), verifies the
ledger, prints the report, and ends with the sqlite3 command that queries
the ledger it wrote.

The ledger is --db, or ./` + defaultDemoLedger + ` — never $TOKENAUDIT_DB or your
default ledger. It may be run again on the same ledger: the tokens of an
earlier run were recorded for that run's fake API (another URL), so
reconcile leaves them out rather than guess what became of them. A ledger
that records events of a real API is refused. No token is printed.`,
		Example: `  go run ./cmd/tokenaudit demo
  tokenaudit demo --db /tmp/demo.db && sqlite3 /tmp/demo.db 'SELECT * FROM tokens'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if db == "" {
				db = defaultDemoLedger
			}
			// The demo prints for people, whatever TOKENAUDIT_FORMAT says.
			a.format = output.Table
			return a.demo(cmd.Context(), db)
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "the ledger to write (default ./"+defaultDemoLedger+")")
	return cmd
}

// demo runs the demonstration, writing to the ledger at path.
func (a *app) demo(ctx context.Context, path string) error {
	start := time.Now()
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := checkLedgerPath(path, "--db"); err != nil {
		return err
	}
	if err := checkDemoLedger(ctx, abs); err != nil {
		return err
	}
	srv := woleettest.NewServer()
	defer srv.Close()
	client := srv.Client(woleet.WithRateLimit(rate.Inf, 0), woleet.WithUserAgent("tokenaudit/"+version()+" (demo)"))
	ledger, err := audit.Open(abs, audit.WithNow(a.now))
	if err != nil {
		return ledgerError(err)
	}
	s, err := newAuditSession(client, ledger, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	d := &demoRun{app: a, w: a.stdout, st: a.style(), s: s}
	return d.run(ctx, srv, start)
}

// checkDemoLedger refuses to write demo events into a ledger that records
// a real API: every event of a demo ledger went to a loopback URL.
func checkDemoLedger(ctx context.Context, path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	l, err := audit.Open(path, audit.WithReadOnly())
	if err != nil {
		return ledgerError(err)
	}
	defer l.Close()
	for e, err := range l.Events(ctx, audit.EventFilter{}) {
		if err != nil {
			return ledgerError(err)
		}
		if !loopbackURL(e.APIURL) {
			what := "an event recorded without the API"
			if e.APIURL != "" {
				what = "events of the API at " + e.APIURL
			}
			return withHint(fmt.Errorf("demo: %s is not a demo ledger: it holds %s (seq %d)", path, output.Clean(what), e.Seq),
				"the demo writes to a new ledger or an earlier demo's: give another --db")
		}
	}
	return nil
}

// loopbackURL reports whether u is an http URL on a loopback host.
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" {
		return false
	}
	if p.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(p.Hostname())
	return ip != nil && ip.IsLoopback()
}

// demoRun is one run of the demo.
type demoRun struct {
	*app
	w    io.Writer
	st   output.Style
	s    *auditSession
	step int
}

// heading starts a numbered step.
func (d *demoRun) heading(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.w, "\n%s\n", d.st.Bold(fmt.Sprintf("%d. ", d.step)+fmt.Sprintf(format, args...)))
}

// say prints an indented line.
func (d *demoRun) say(format string, args ...any) {
	fmt.Fprintf(d.w, "   "+format+"\n", args...)
}

// indent writes a block (a table) indented like say.
func (d *demoRun) indent(write func(io.Writer) error) error {
	var b strings.Builder
	if err := write(&b); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		switch line {
		case "":
		case "\n":
			fmt.Fprint(d.w, line)
		default:
			fmt.Fprint(d.w, "   "+line)
		}
	}
	return nil
}

func (d *demoRun) run(ctx context.Context, srv *woleettest.Server, start time.Time) error {
	l := d.s.ledger
	before, err := l.Count(ctx)
	if err != nil {
		return ledgerError(err)
	}
	fmt.Fprintf(d.w, "%s a fake Woleet API at %s (in this process, loopback only)\n", d.st.Bold("tokenaudit demo:"), srv.URL)
	fmt.Fprintf(d.w, "%s the ledger %s", strings.Repeat(" ", len("tokenaudit demo:")), l.Path())
	if before > 0 {
		fmt.Fprintf(d.w, " (%d events from earlier runs)", before)
	}
	fmt.Fprintln(d.w)

	// 1. Issue.
	d.heading("Issue %d tokens for %d customers: each is recorded before anyone sees it.",
		len(demoCustomers), len(slices.Compact(slices.Clone(demoCustomers))))
	issued := map[string]*audit.IssueResult{}
	for _, c := range demoCustomers {
		res, err := d.s.auditor.Issue(ctx, audit.IssueOptions{CData: c})
		if err != nil {
			return d.s.apiError(err)
		}
		issued[c] = res
		d.say("issued   sha256:%s  %-10s  seq %d", shortFP(res.Event.Fingerprint), c, res.Event.Seq)
	}
	d.say("%s", d.st.Dim(`(tokenaudit issue prints the token itself on stdout: T=$(tokenaudit issue --cdata acme-corp))`))

	// 2. Revoke.
	d.heading("Revoke %s's token.", demoRevoked)
	ev, err := d.s.auditor.Revoke(ctx, issued[demoRevoked].Token.Token)
	if err != nil {
		return d.s.apiError(err)
	}
	d.say("revoked  sha256:%s  %-10s  seq %d", shortFP(ev.Fingerprint), ev.CData, ev.Seq)

	// 3. Behind the ledger's back.
	d.heading("Someone with the API password issues a token without tokenaudit.")
	shadow, err := srv.IssueDirect(woleettest.DefaultEmail, demoShadow)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	shadowFP := shortFP(jwtinspect.Fingerprint(shadow))
	d.say("the API now has a live token for %q (sha256:%s) that the ledger never saw", demoShadow, shadowFP)

	// 4. Reconcile.
	d.heading("Reconcile the ledger with the API's list of live tokens, and record what differs.")
	rec, err := d.s.auditor.Reconcile(ctx, audit.ReconcileOptions{Apply: true})
	if err != nil {
		return d.s.apiError(err)
	}
	if err := d.indent(func(w io.Writer) error { return d.writeReconcile(w, rec, true) }); err != nil {
		return err
	}
	found := false
	for _, t := range rec.Unknown {
		found = found || shortFP(t.Fingerprint) == shadowFP
	}
	if !found {
		return errors.New("demo: reconcile did not find the token issued behind the ledger's back")
	}
	d.say("found sha256:%s (%s) and recorded it as an import", shadowFP, demoShadow)
	if n := rec.LeftOut.OtherAPI; n > 0 {
		d.say("%s", d.st.Dim(fmt.Sprintf("and left out %s from an earlier demo run: recorded for its fake API, another URL",
			countTokens(n, "live token", ""))))
	}

	// 5. Verify.
	d.heading("Verify the ledger: recompute every leaf and Merkle hash (RFC 6962).")
	vr, err := l.Verify(ctx)
	if err != nil {
		return &exitStatusError{code: exitIntegrity, err: fmt.Errorf("demo: the ledger fails verification: %w", tidy(err))}
	}
	d.say("%s: %d events, root hash %s", d.st.Good("intact"), vr.Verified, hashHex(vr.Head))

	// 6. Report.
	d.heading("The report (tokenaudit report).")
	rep, err := l.Report(ctx, audit.ReportOptions{Oldest: 5, Failures: 5})
	if err != nil {
		return ledgerError(err)
	}
	if err := d.indent(func(w io.Writer) error { return d.writeReport(w, l.Path(), rep) }); err != nil {
		return err
	}

	q := shellQuote(l.Path())
	self, note := selfCommand()
	fmt.Fprintf(d.w, "\n%s\n", d.st.Bold("Query the ledger it wrote:"))
	fmt.Fprintf(d.w, "  sqlite3 %s \"SELECT fingerprint, cdata, state, issued_at FROM tokens\"\n", shellQuote(readOnlyURI(l.Path())))
	if note != "" {
		fmt.Fprintf(d.w, "  %s\n", note)
	}
	fmt.Fprintf(d.w, "  %s events --db %s\n", self, q)
	fmt.Fprintf(d.w, "  %s ledger verify --db %s\n", self, q)
	fmt.Fprintf(d.w, "%s\n", d.st.Dim("  (mode=ro: a plain \"sqlite3 FILE\" run by the ledger's owner deletes the -wal and -shm files kept for read-only users)"))
	fmt.Fprintf(d.w, "\n%s\n", d.st.Dim(fmt.Sprintf("Done in %.1fs. The fake API is gone; its tokens never worked anywhere else.", time.Since(start).Seconds())))
	return nil
}

// readOnlyURI is the SQLite URI that opens the file at path read-only
// ("file:/path/ledger.db?mode=ro"): what a person's sqlite3 should open a
// ledger with. A writable connection, on closing, checkpoints the ledger
// and deletes the -wal and -shm files that the ledger keeps so that users
// who may not write its folder can read it.
func readOnlyURI(path string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(path) + "?mode=ro"
}

// selfCommand says how to run this tokenaudit again from the current
// directory: "tokenaudit" when that is what PATH finds, "./tokenaudit"
// for a binary in the current directory, or the binary's path. A binary
// that "go run" built is deleted as it ends: then note says how to build
// one, and the command is that one's.
func selfCommand() (command, note string) {
	exe, err := os.Executable()
	if err != nil {
		return "tokenaudit", ""
	}
	if onPath, err := exec.LookPath("tokenaudit"); err == nil && sameFile(onPath, exe) {
		return "tokenaudit", ""
	}
	if filepath.Base(filepath.Dir(exe)) == "exe" && strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "./tokenaudit", "go build -o tokenaudit ./cmd/tokenaudit   # go run's binary is gone: build one"
	}
	if wd, err := os.Getwd(); err == nil && filepath.Dir(exe) == wd {
		return "./" + shellQuote(filepath.Base(exe)), ""
	}
	return shellQuote(exe), ""
}

// sameFile reports whether the paths a and b name the same file.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
