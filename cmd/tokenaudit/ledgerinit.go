package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

// This file holds "ledger init" and "ledger copy": creating a ledger (on
// PostgreSQL, with its roles) and moving one between backends.

// ledgerInitRecord is the JSON form of "tokenaudit ledger init".
type ledgerInitRecord struct {
	Ledger   string   `json:"ledger"`
	Created  bool     `json:"created"`
	LedgerID string   `json:"ledger_id"`
	Events   int64    `json:"events"`
	Writers  []string `json:"writers"`
	Readers  []string `json:"readers"`
}

// ledgerInitPostgres creates (or opens) the ledger on PostgreSQL at path
// and grants the roles.
func (a *app) ledgerInitPostgres(ctx context.Context, path string, lf ledgerFlags, writers, readers []string) error {
	existed := true
	probe, err := audit.Open(path, audit.WithReadOnly(), audit.WithBusyTimeout(max(lf.lockTimeout, time.Millisecond)))
	switch {
	case errors.Is(err, audit.ErrLedgerUnavailable):
		return ledgerError(err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, audit.ErrOlderSchema):
		existed = false // missing, empty, or to be migrated by the writable open below
	case err != nil:
		return ledgerError(err)
	default:
		probe.Close()
	}
	l, err := a.openLedger(lf, true)
	if err != nil {
		return err
	}
	defer l.Close()
	for _, g := range []struct {
		roles []string
		write bool
	}{{writers, true}, {readers, false}} {
		for _, r := range g.roles {
			if err := l.GrantRole(ctx, r, g.write); err != nil {
				return ledgerError(err)
			}
		}
	}
	info, err := l.Info(ctx)
	if err != nil {
		return ledgerError(err)
	}
	rec := ledgerInitRecord{Ledger: l.Path(), Created: !existed, LedgerID: info.LedgerID, Events: info.Head.Size,
		Writers: append([]string{}, writers...), Readers: append([]string{}, readers...)}
	if a.format.Structured() {
		return a.writeDocument(a.stdout, rec)
	}
	what := "created"
	if existed {
		what = "already a ledger"
	}
	s := &output.Sheet{Header: []string{"field", "value"}}
	s.Append("ledger", rec.Ledger)
	s.Append("status", what)
	s.Append("ledger id", rec.LedgerID)
	s.Append("events", strconv.FormatInt(rec.Events, 10))
	for _, r := range writers {
		s.Append("writer", r+" (INSERT, SELECT)")
	}
	for _, r := range readers {
		s.Append("reader", r+" (SELECT)")
	}
	if a.format == output.Table {
		for _, row := range s.Rows {
			fmt.Fprintf(a.stdout, "%-16s %s\n", row[0], output.Clean(row[1]))
		}
		return nil
	}
	return a.writeDocument(a.stdout, rec, s)
}

// ledgerCopyRecord is the JSON form of "tokenaudit ledger copy".
type ledgerCopyRecord struct {
	From        string `json:"from"`
	To          string `json:"to"`
	LedgerID    string `json:"ledger_id"`
	Events      int64  `json:"events"`
	Checkpoints int64  `json:"checkpoints"`
	RootHash    string `json:"root_hash"`
}

func (a *app) ledgerCopyCommand() *cobra.Command {
	var lockTimeout = audit.DefaultBusyTimeout
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy a whole ledger into a new one, from SQLite to PostgreSQL or back",
		Long: `Copy the ledger SRC (a file or a postgres:// URL) into DST, which must be new
or empty: every event, stored hash and signed checkpoint, and the ledger's
identity, in one transaction, from one snapshot of SRC. Then DST is verified
as "ledger verify" does, and its tree head must be SRC's: a ledger's root
hash does not depend on where it is stored, so checkpoints signed for SRC
verify DST.

Stop writing to SRC first (or copy again later: DST must be empty), and
point TOKENAUDIT_DB at DST once the copy is done.`,
		Example: `  tokenaudit ledger copy ~/.local/share/tokenaudit/ledger.db 'postgres://tokenaudit_owner@db.internal/tokenaudit'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("%s takes two arguments, SRC and DST, got %d", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.ledgerCopy(cmd.Context(), args[0], args[1], lockTimeout)
		},
	}
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", audit.DefaultBusyTimeout,
		"wait this long for another process writing to either ledger")
	return cmd
}

// ledgerCopy copies src into dst.
func (a *app) ledgerCopy(ctx context.Context, src, dst string, lockTimeout time.Duration) error {
	for _, p := range []string{src, dst} {
		if err := checkNoPassword(p); err != nil {
			return err
		}
	}
	from, err := a.openLedger(ledgerFlags{db: src, lockTimeout: lockTimeout}, false)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := audit.Open(dst, audit.WithNow(a.now), audit.WithBusyTimeout(lockTimeout))
	if err != nil {
		return ledgerError(err)
	}
	defer to.Close()
	res, err := audit.Copy(ctx, to, from)
	if err != nil {
		if errors.Is(err, audit.ErrNotEmpty) {
			return withHint(ledgerError(err), "copy into a new file, or a new schema (the URL's parameter schema)")
		}
		return ledgerError(err)
	}
	rec := ledgerCopyRecord{From: from.Path(), To: to.Path(), LedgerID: res.LedgerID, Events: res.Head.Size,
		Checkpoints: res.Checkpoints, RootHash: hashHex(res.Head)}
	s := &output.Sheet{Header: []string{"field", "value"}}
	s.Append("from", rec.From)
	s.Append("to", rec.To)
	s.Append("ledger id", rec.LedgerID)
	s.Append("events", strconv.FormatInt(rec.Events, 10))
	s.Append("checkpoints", strconv.FormatInt(rec.Checkpoints, 10))
	s.Append("root hash", rec.RootHash+" (the same on both, verified)")
	if a.format == output.Table {
		for _, row := range s.Rows {
			fmt.Fprintf(a.stdout, "%-16s %s\n", row[0], output.Clean(row[1]))
		}
		return nil
	}
	return a.writeDocument(a.stdout, rec, s)
}
