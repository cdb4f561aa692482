package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

// ledgerCommand returns "tokenaudit ledger", the parent of the commands
// about the ledger itself. Its subcommands come from ledgerSubcommands.
func (a *app) ledgerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Check and describe the ledger itself",
		Long: `Commands about the ledger itself (a file, or a schema on PostgreSQL):
"ledger verify" checks that no event was changed, removed, inserted or
reordered; "ledger info" says where it is, its schema version, how many
events it holds and its root hash; "ledger init" starts a new ledger where an
empty file is, or creates one on PostgreSQL and grants its roles; "ledger
copy" moves a whole ledger from SQLite to PostgreSQL or back.

Signed checkpoints catch what verify alone cannot, a ledger rewritten whole
with every hash recomputed: "ledger keygen" makes a signing key, "ledger
checkpoint" signs the tree head (keep a copy elsewhere), "ledger verify
--checkpoint FILE --verifier KEY" checks that the ledger still extends it,
and "ledger prove" and "ledger check-proof" prove one event offline.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()), cmd: cmd}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.ledgerSubcommands()...)
	return cmd
}

// ledgerSubcommands lists the subcommands of "tokenaudit ledger". Commands
// defined in other files (checkpoints, proofs) are added to this list.
func (a *app) ledgerSubcommands() []*cobra.Command {
	return append([]*cobra.Command{
		a.ledgerInitCommand(),
		a.ledgerVerifyCommand(),
		a.ledgerInfoCommand(),
		a.ledgerCopyCommand(),
	}, a.checkpointCommands()...)
}

// ledgerInitCommand returns "tokenaudit ledger init [PATH]".
func (a *app) ledgerInitCommand() *cobra.Command {
	var (
		lf               ledgerFlags
		writers, readers []string
	)
	cmd := &cobra.Command{
		Use:   "init [PATH]",
		Short: "Create a new, empty ledger (a file, or a schema on PostgreSQL, and its roles)",
		Long: `Create a new ledger at PATH (default --db, $TOKENAUDIT_DB, or the default
ledger): a file of mode 0600, built whole beside PATH and then moved into place.

The first issue, revoke, import or reconcile creates a ledger at a path where
nothing is; "ledger init" is needed only to start over where an empty file is
(a ledger truncated to 0 bytes, or a file made empty by another tool): no
command that writes turns an empty file into a ledger, as that could hide
a ledger's loss. A -wal file left beside an empty or missing ledger is
removed when it is empty and refused when it is not (move it away first).

Exit status 0 when the ledger was created; 1 when PATH is already a ledger;
5 when PATH holds something else, left untouched.

PATH may be a postgres:// URL: the ledger then lives in its own schema (the
URL's parameter schema, default "tokenaudit"): its tables, the triggers that
refuse UPDATE, DELETE and TRUNCATE even for their owner, and the tokens
view. --writer ROLE lets an existing PostgreSQL role append and read (INSERT
and SELECT), --reader ROLE read (SELECT), and nothing more. Run init as the
role that is to own the ledger; give the writer's credentials to the hosts
that issue tokens. On PostgreSQL, init of an existing ledger grants the roles
and exits 0. Passwords come from PGPASSWORD, PGPASSFILE or ~/.pgpass, never
from the URL on the command line.`,
		Example: `  tokenaudit ledger init /srv/tokenaudit/ledger.db
  TOKENAUDIT_DB=/srv/tokenaudit/ledger.db tokenaudit ledger init
  tokenaudit ledger init 'postgres://tokenaudit_owner@db.internal/tokenaudit' --writer tokenaudit_writer --reader tokenaudit_reader`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{err: fmt.Errorf("%s takes at most one PATH, got %d arguments", cmd.CommandPath(), len(args)), cmd: cmd}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if lf.db != "" {
					return usageErrorf("give the ledger's path as PATH or with --db, not both")
				}
				lf.db = args[0]
			}
			return a.ledgerInit(cmd.Context(), lf, writers, readers)
		},
	}
	lf.register(cmd)
	cmd.Flags().StringArrayVar(&writers, "writer", nil, "let this PostgreSQL role append to and read the ledger (repeatable)")
	cmd.Flags().StringArrayVar(&readers, "reader", nil, "let this PostgreSQL role read the ledger (repeatable)")
	return cmd
}

// ledgerInit creates the ledger lf names and says so.
func (a *app) ledgerInit(ctx context.Context, lf ledgerFlags, writers, readers []string) error {
	path, err := a.ledgerPath(lf)
	if err != nil {
		return err
	}
	if audit.IsPostgresURL(path) {
		return a.ledgerInitPostgres(ctx, path, lf, writers, readers)
	}
	if len(writers) > 0 || len(readers) > 0 {
		return usageErrorf("--writer and --reader are for a ledger on PostgreSQL: a SQLite ledger's file permissions decide who may use it")
	}
	l, err := audit.Create(path, audit.WithNow(a.now), audit.WithBusyTimeout(lf.lockTimeout))
	if errors.Is(err, audit.ErrLedgerExists) {
		return withHint(tidy(err), "nothing was changed: a ledger is never started over while it holds events")
	}
	if err != nil {
		return ledgerError(err)
	}
	defer l.Close()
	info, err := l.Info(ctx)
	if err != nil {
		return ledgerError(err)
	}
	fmt.Fprintf(a.stderr, "tokenaudit: created the ledger %s (ledger id %s, schema version %d)\n",
		output.Clean(info.Path), info.LedgerID, info.SchemaVersion)
	return nil
}

// verifyCheck is a further check of "ledger verify", run once the ledger's
// own verification passed: it may register flags on the command, and adds
// its findings to the result: a line in Checks and, when it fails, OK set
// to false and a line in Problems (the exit status is then 5). A check
// that was not asked for (its flags unset) does nothing.
type verifyCheck struct {
	register func(cmd *cobra.Command)
	run      func(ctx context.Context, l *audit.Ledger, res *ledgerVerifyResult) error
}

// ledgerVerifyChecks lists the further checks of "ledger verify" (against
// a checkpoint, for instance). Checks defined in other files are added to
// this list.
func (a *app) ledgerVerifyChecks() []verifyCheck {
	return []verifyCheck{a.ledgerVerifyCheckpoints()}
}

// ledgerVerifyResult is the JSON form of "tokenaudit ledger verify".
type ledgerVerifyResult struct {
	Ledger string `json:"ledger"`
	OK     bool   `json:"ok"`
	// Verified is the number of events found intact from seq 0.
	Verified int64 `json:"verified"`
	// Size and RootHash are the tree head recomputed from the rows.
	Size     int64  `json:"size"`
	RootHash string `json:"root_hash"`
	// FirstBadSeq is the first event that fails, or null.
	FirstBadSeq *int64 `json:"first_bad_seq"`
	// Problems lists what is wrong, in words.
	Problems []string `json:"problems"`
	// Checks lists further checks that ran, as "name: outcome".
	Checks []string `json:"checks,omitempty"`
}

func (a *app) ledgerVerifyCommand() *cobra.Command {
	var lf ledgerFlags
	checks := a.ledgerVerifyChecks()
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that the ledger was not tampered with",
		Long: `Check the whole ledger without trusting anything it says about itself:
recompute every event's leaf hash from its row, check that seq is dense from
0, that every stored Merkle tree hash (RFC 6962) is right, and that the
schema (tables, triggers refusing UPDATE and DELETE, the tokens view) is the
one tokenaudit creates. It checks the file too: SQLite's quick_check, and each
index of the events against the table (lookups, the tokens view and the report
read the indexes), naming a damaged table or index. The ledger is opened
read-only.

Every checkpoint the ledger stored must sign a prefix of its events.

An edit that recomputes every hash leaves a consistent tree: give a signed
checkpoint kept elsewhere with --checkpoint FILE (repeatable) and its
signer's verifier key with --verifier KEY (the key, or a file holding it;
default $TOKENAUDIT_CHECKPOINT_VERIFIER) to check that the ledger still
holds, unchanged, every event it signs. With --verifier, the signatures of
the stored checkpoints are checked too.

Exit status 0 when it is intact, 5 when anything fails, naming the first bad
seq, the damaged table or index, or the checkpoint the ledger no longer
extends; 5 also for an empty file ("the ledger file is empty: it was
truncated, or is not a ledger") or a file that is not a ledger, and 1 when
there is no file at all.`,
		Example: `  tokenaudit ledger verify
  tokenaudit ledger verify --db /srv/tokenaudit/ledger.db --format json
  tokenaudit ledger verify --checkpoint checkpoint-2025-06-01.txt --verifier verifier.pub`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.readLedger(lf, func(l *audit.Ledger) error { return a.ledgerVerify(cmd.Context(), l, checks) })
		},
	}
	lf.register(cmd)
	for _, c := range checks {
		if c.register != nil {
			c.register(cmd)
		}
	}
	return cmd
}

// ledgerVerify verifies l, runs the further checks when it is intact, and
// prints the result.
func (a *app) ledgerVerify(ctx context.Context, l *audit.Ledger, checks []verifyCheck) error {
	rep, verr := l.Verify(ctx)
	var integrity *audit.IntegrityError
	if verr != nil && !errors.As(verr, &integrity) {
		return ledgerError(fmt.Errorf("ledger %s: %w", l.Path(), verr))
	}
	res := &ledgerVerifyResult{Ledger: l.Path(), OK: rep.OK(), Verified: rep.Verified, Size: rep.Head.Size,
		RootHash: hashHex(rep.Head), Problems: []string{}}
	for _, p := range rep.Problems {
		if p.Seq >= 0 && res.FirstBadSeq == nil {
			res.FirstBadSeq = &p.Seq
		}
		res.Problems = append(res.Problems, tidy(p).Error())
	}
	if res.OK {
		for _, c := range checks {
			if err := c.run(ctx, l, res); err != nil {
				return err
			}
		}
	}
	if err := a.writeLedgerVerify(res); err != nil {
		return err
	}
	if !res.OK {
		first := errors.New(res.Problems[0])
		if verr != nil {
			first = tidy(verr)
		}
		return &exitStatusError{code: exitIntegrity, err: withHint(fmt.Errorf("the ledger fails verification: %w", first),
			"do not append to it; restore it from a backup, and compare its root hash with one kept elsewhere")}
	}
	return nil
}

// writeLedgerVerify writes verify's result: a few lines for people, the
// whole result for programs.
func (a *app) writeLedgerVerify(res *ledgerVerifyResult) error {
	if a.format.Structured() {
		return a.writeDocument(a.stdout, res)
	}
	style := a.style()
	s := &output.Sheet{Header: []string{"field", "value"}}
	s.Append("ledger", res.Ledger)
	status := style.Good("intact")
	if !res.OK {
		status = style.Bad("FAILED")
	}
	if a.format != output.Table {
		status = map[bool]string{true: "intact", false: "FAILED"}[res.OK]
	}
	s.Append("status", status)
	s.Append("events verified", strconv.FormatInt(res.Verified, 10))
	if res.FirstBadSeq != nil {
		s.Append("first bad seq", strconv.FormatInt(*res.FirstBadSeq, 10))
	}
	s.Append("tree size", strconv.FormatInt(res.Size, 10))
	s.Append("root hash", res.RootHash)
	for _, p := range res.Problems {
		s.Append("problem", p)
	}
	for _, c := range res.Checks {
		s.Append("check", c)
	}
	if a.format == output.Table {
		// Colour codes would be escaped by the table: print the rows plainly.
		for _, row := range s.Rows {
			fmt.Fprintf(a.stdout, "%-16s %s\n", row[0], cleanKeepStyle(row[1], row[0] == "status"))
		}
		return nil
	}
	return s.Write(a.stdout, a.format)
}

// cleanKeepStyle escapes untrusted text for the terminal, except a value
// this program coloured itself.
func cleanKeepStyle(s string, styled bool) string {
	if styled {
		return s
	}
	return output.Clean(s)
}

// ledgerInfoRecord is the JSON form of "tokenaudit ledger info".
type ledgerInfoRecord struct {
	Path          string `json:"path"`
	SchemaVersion int    `json:"schema_version"`
	LedgerID      string `json:"ledger_id"`
	CreatedAt     string `json:"created_at"`
	Events        int64  `json:"events"`
	TreeSize      int64  `json:"tree_size"`
	RootHash      string `json:"root_hash"`
	FileBytes     int64  `json:"file_bytes"`
}

func (a *app) ledgerInfoCommand() *cobra.Command {
	var lf ledgerFlags
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show where the ledger is, its schema version, size and root hash",
		Long: `Show the ledger's path, schema version (PRAGMA user_version), identity and
creation time, its number of events (the Merkle tree size), its root hash
and its size on disk. The ledger is opened read-only; nothing is verified
(see "tokenaudit ledger verify").`,
		Example: `  tokenaudit ledger info
  tokenaudit ledger info --format json | jq -r .root_hash`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.readLedger(lf, func(l *audit.Ledger) error { return a.ledgerInfo(cmd.Context(), l) })
		},
	}
	lf.register(cmd)
	return cmd
}

// ledgerInfo prints what Info says of l.
func (a *app) ledgerInfo(ctx context.Context, l *audit.Ledger) error {
	info, err := l.Info(ctx)
	if err != nil {
		return ledgerError(err)
	}
	rec := ledgerInfoRecord{Path: info.Path, SchemaVersion: info.SchemaVersion, LedgerID: info.LedgerID,
		CreatedAt: formatStamp(info.CreatedAt), Events: info.Head.Size, TreeSize: info.Head.Size,
		RootHash: hashHex(info.Head), FileBytes: info.FileBytes}
	s := &output.Sheet{Header: []string{"field", "value"}}
	s.Append("path", rec.Path)
	s.Append("schema version", strconv.Itoa(rec.SchemaVersion))
	s.Append("ledger id", rec.LedgerID)
	s.Append("created at", formatTime(info.CreatedAt))
	s.Append("events", strconv.FormatInt(rec.Events, 10))
	s.Append("tree size", strconv.FormatInt(rec.TreeSize, 10))
	s.Append("root hash", rec.RootHash)
	s.Append("file size", formatBytes(rec.FileBytes))
	if a.format == output.Table {
		for _, row := range s.Rows {
			fmt.Fprintf(a.stdout, "%-16s %s\n", row[0], output.Clean(row[1]))
		}
		return nil
	}
	return a.writeDocument(a.stdout, rec, s)
}

// formatBytes renders a size: "12.3 MiB", "512 B".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
