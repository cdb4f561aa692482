package audit_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenaudit/tokenaudit/audit"
)

// A checkpoint signed today, kept away from the ledger, shows tomorrow
// that no event it signs was changed or removed.
func ExampleLedger_Checkpoint() {
	path, cleanup := tempLedgerPath()
	defer cleanup()
	ledger, err := audit.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer ledger.Close()
	ctx := context.Background()

	// Once: a signing key (keep skey secret) and its verifier key.
	skey, vkey, err := audit.GenerateCheckpointKey(rand.Reader, "ops.example.com/tokenaudit")
	if err != nil {
		log.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		log.Fatal(err)
	}

	for _, c := range []string{"a", "b", "c"} {
		if _, err := ledger.Append(ctx, audit.Event{Kind: audit.KindIssueRequested, CData: c}); err != nil {
			log.Fatal(err)
		}
	}
	stored, err := ledger.Checkpoint(ctx, signer)
	if err != nil {
		log.Fatal(err)
	}
	kept := stored.Note // copy it elsewhere: a ticket, a git repository, another host

	// Later, and anywhere: check the signature, then that the ledger
	// extends the checkpoint.
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		log.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint(kept, note.VerifierList(verifier))
	if err != nil {
		log.Fatal(err) // errors.Is(err, audit.ErrCheckpointSignature): forged
	}
	if _, err := ledger.Append(ctx, audit.Event{Kind: audit.KindIssueRequested, CData: "d"}); err != nil {
		log.Fatal(err)
	}
	head, err := ledger.VerifyCheckpoint(ctx, cp.Checkpoint)
	var rewritten *audit.ConsistencyError
	if errors.As(err, &rewritten) {
		log.Fatal("history was rewritten: ", err)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("the ledger of %d events extends the checkpoint of %d\n", head.Size, cp.Size)
	// Output: the ledger of 4 events extends the checkpoint of 3
}

// A proof shows, to someone without the ledger, that an event is in it.
func ExampleLedger_ProveEvent() {
	path, cleanup := tempLedgerPath()
	defer cleanup()
	ledger, err := audit.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer ledger.Close()
	ctx := context.Background()
	skey, vkey, err := audit.GenerateCheckpointKey(rand.Reader, "ops.example.com/tokenaudit")
	if err != nil {
		log.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)

	for _, c := range []string{"acme", "globex", "initech"} {
		if _, err := ledger.Append(ctx, audit.Event{Kind: audit.KindIssueRequested, CData: c}); err != nil {
			log.Fatal(err)
		}
	}
	cp, err := ledger.Checkpoint(ctx, signer)
	if err != nil {
		log.Fatal(err)
	}
	proof, err := ledger.ProveEvent(ctx, 1, cp.Note)
	if err != nil {
		log.Fatal(err)
	}
	// json.Marshal(proof) is what "tokenaudit ledger prove" prints;
	// audit.ParseProof reads it back.

	// Offline, from the proof alone and the verifier key:
	e, signed, err := proof.Check(note.VerifierList(verifier))
	if err != nil {
		log.Fatal(err) // audit.ErrInvalidProof or audit.ErrCheckpointSignature
	}
	fmt.Printf("event %d (%s %s) is among the %d events signed by %s\n", e.Seq, e.Kind, e.CData, signed.Size, verifier.Name())
	// Output: event 1 (issue_requested globex) is among the 3 events signed by ops.example.com/tokenaudit
}

// An automatic checkpoint every N events: every write that leaves the
// tree N events past the newest checkpoint signs one more.
func ExampleWithAutoCheckpoint() {
	path, cleanup := tempLedgerPath()
	defer cleanup()
	skey, _, err := audit.GenerateCheckpointKey(rand.Reader, "ops.example.com/tokenaudit")
	if err != nil {
		log.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	ledger, err := audit.Open(path, audit.WithAutoCheckpoint(signer, 2))
	if err != nil {
		log.Fatal(err)
	}
	defer ledger.Close()
	ctx := context.Background()
	for range 5 {
		if _, err := ledger.Append(ctx, audit.Event{Kind: audit.KindIssueRequested}); err != nil {
			log.Fatal(err)
		}
	}
	for cp, err := range ledger.Checkpoints(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("checkpoint", cp.ID, "signs", cp.Size, "events")
	}
	// Output:
	// checkpoint 1 signs 2 events
	// checkpoint 2 signs 4 events
}
