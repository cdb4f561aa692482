package audit_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/woleet/woleettest"
)

// tempLedgerPath returns a path in a fresh temporary directory.
func tempLedgerPath() (path string, cleanup func()) {
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		log.Fatal(err)
	}
	return filepath.Join(dir, "tokens.db"), func() { os.RemoveAll(dir) }
}

func ExampleOpen() {
	path, cleanup := tempLedgerPath()
	defer cleanup()

	ledger, err := audit.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer ledger.Close()
	ctx := context.Background()
	e, err := ledger.Append(ctx, audit.Event{Kind: audit.KindIssueRequested, CData: "customer-42"})
	if err != nil {
		log.Fatal(err)
	}
	head, err := ledger.TreeHead(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Seq, e.Kind, e.CData, ledger.SchemaVersion(), head.Size)
	// Output: 0 issue_requested customer-42 3 1
}

func ExampleAuditor_Issue() {
	path, cleanup := tempLedgerPath()
	defer cleanup()
	srv := woleettest.NewServer() // a fake Woleet API on loopback
	defer srv.Close()

	ledger, err := audit.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer ledger.Close()
	auditor, err := audit.NewAuditor(ledger, srv.Client())
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	res, err := auditor.Issue(ctx, audit.IssueOptions{CData: "customer-42"})
	if err != nil {
		log.Fatal(err)
	}
	// res.Token.Token is the credential to hand over; the ledger holds only
	// its fingerprint.
	fmt.Println(res.Event.Kind, res.Event.CData, strings.HasPrefix(res.Event.Fingerprint, "sha256:"))

	for tok, err := range ledger.Tokens(ctx, audit.TokenFilter{State: audit.StateActive, CData: "customer-42"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tok.State, tok.CData, tok.Fingerprint == res.Event.Fingerprint)
	}
	// Output:
	// issue customer-42 true
	// active customer-42 true
}

func ExampleLedger_Verify() {
	path, cleanup := tempLedgerPath()
	defer cleanup()
	ledger, err := audit.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer ledger.Close()
	ctx := context.Background()
	for _, c := range []string{"a", "b", "c"} {
		if _, err := ledger.Append(ctx, audit.Event{Kind: audit.KindIssueRequested, CData: c}); err != nil {
			log.Fatal(err)
		}
	}
	rep, err := ledger.Verify(ctx)
	if err != nil {
		// An *audit.IntegrityError names the first bad seq.
		log.Fatal(err)
	}
	fmt.Println(rep.OK(), rep.Verified)
	// Output: true 3
}

func ExampleLedger_Report() {
	path, cleanup := tempLedgerPath()
	defer cleanup()
	ledger, err := audit.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer ledger.Close()
	ctx := context.Background()
	_, err = ledger.AppendBatch(ctx, []audit.Event{
		{Kind: audit.KindImport, Fingerprint: "sha256:" + strings.Repeat("a", 64), CData: "acme"},
		{Kind: audit.KindImport, Fingerprint: "sha256:" + strings.Repeat("b", 64), CData: "acme"},
		{Kind: audit.KindRevoke, Fingerprint: "sha256:" + strings.Repeat("b", 64), CData: "acme"},
		{Kind: audit.KindIssueRequested, CData: "globex"},
	})
	if err != nil {
		log.Fatal(err)
	}
	rep, err := ledger.Report(ctx, audit.ReportOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("active %d, revoked %d\n", rep.Tokens.Active, rep.Tokens.Revoked)
	for _, c := range rep.LiveByCData {
		fmt.Printf("%s: %d live\n", c.CData, c.Live)
	}
	fmt.Printf("%d issue request(s) with no outcome\n", len(rep.PendingIssues))
	// Output:
	// active 1, revoked 1
	// acme: 1 live
	// 1 issue request(s) with no outcome
}
