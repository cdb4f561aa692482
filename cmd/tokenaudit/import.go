package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
)

// importRecord is the JSON line of one token read by "tokenaudit import
// --format jsonl".
type importRecord struct {
	Input       string `json:"input"`
	Fingerprint string `json:"fingerprint"`
	CData       string `json:"cdata"`
	Status      string `json:"status"`
	Error       string `json:"error,omitempty"`
}

// importSummary is the JSON form of "tokenaudit import --format json".
type importSummary struct {
	DryRun bool `json:"dry_run"`
	audit.ImportResult
}

func (a *app) importCommand() *cobra.Command {
	var (
		lf     ledgerFlags
		dryRun bool
		source string
	)
	cmd := &cobra.Command{
		Use:   "import [- | @FILE]...",
		Short: "Record tokens issued elsewhere in the ledger",
		Long: `Record tokens that were issued outside tokenaudit (before it was used, or by
another tool) as import events: their fingerprint, cdata, subject and claims,
never the token itself. Tokens the ledger already has, or that appear twice
in the input, are skipped. Nothing is sent to the API.

The summary counts the tokens imported, already known, repeated and rejected
(lines that are not tokens, each reported on standard error; the exit status
is then 2). --format jsonl and csv list every token read instead:
{"input", "fingerprint", "cdata", "status", "error"}. Each event records where
the token came from (the file name, "stdin"), or --source, and the API
configured (WOLEET_API_URL and the credentials' identity) if any: reconcile
compares a token only with the API it was recorded for, and leaves tokens
imported with no API configured out.

` + tokenInputHelp,
		Example: `  tokenaudit import @issued-before-2026.txt
  vault kv get -field=tokens secret/woleet | tokenaudit import -
  tokenaudit import --dry-run @tokens.txt`,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := a.tokenArgs(args)
			if err != nil {
				return err
			}
			var l *audit.Ledger
			if l, err = a.openLedger(lf, !dryRun); err != nil {
				return err
			}
			defer l.Close()
			// Tokens are recorded for the configured API, if any, so that
			// reconcile compares them with that API's list. No request is made.
			var opts []audit.AuditorOption
			if client, cerr := a.apiClient(apiFlags{}); cerr == nil {
				opts = append(opts, audit.WithAPIURL(client.BaseURL()), audit.WithAPIIdentity(client.Identity()))
			}
			auditor, err := audit.NewAuditor(l, nil, opts...)
			if err != nil {
				return err
			}
			return a.importTokens(cmd.Context(), auditor, args, dryRun, source)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be imported, and record nothing")
	cmd.Flags().StringVar(&source, "source", "", `where the tokens came from, recorded in each event (default: the file name, or "stdin")`)
	lf.register(cmd)
	return cmd
}

// importTokens imports each argument's tokens in turn, each with its own
// source.
func (a *app) importTokens(ctx context.Context, auditor *audit.Auditor, args []string, dryRun bool, source string) error {
	perToken := a.format == output.JSONL || a.format == output.CSV
	rw := a.newResultWriter(a.stdout, "", "input", "fingerprint", "cdata", "status", "error")
	var total audit.ImportResult
	opaque := 0 // tokens read that are not JWTs (Import takes them as opaque)
	defer func() { a.warnNotJWT(opaque) }()
	reject := func(rec importRecord) error {
		if !a.format.Structured() {
			fmt.Fprintf(a.stderr, "tokenaudit: %s: %s\n", rec.Input, rec.Error)
		}
		if perToken {
			return rw.add(rec, rec.Input, rec.Fingerprint, rec.CData, rec.Status, rec.Error)
		}
		return nil
	}
	for i, arg := range args {
		src := source
		if src == "" {
			switch {
			case arg == "-":
				src = "stdin"
			case strings.HasPrefix(arg, "@"):
				src = arg[1:]
			default:
				src = "argument"
			}
		}
		// Import numbers the tokens it is given; where keeps each one's
		// place in the input until its fate is reported.
		var (
			where   []string
			readErr error
			outErr  error
		)
		tokens := iter.Seq[string](func(yield func(string) bool) {
			readErr = tokenstream.Read(ctx, args[i:i+1], tokenstream.Options{Stdin: a.stdin}, func(it tokenstream.Item) error {
				if it.Err != nil {
					total.Read++
					total.Rejected++
					return reject(importRecord{Input: it.Where(), Status: string(audit.ImportRejected), Error: it.Err.Error()})
				}
				where = append(where, it.Where())
				if opaqueToken(it.Token) {
					opaque++
				}
				if !yield(it.Token) {
					return errStopRun
				}
				return nil
			})
		})
		res, err := auditor.Import(ctx, tokens, audit.ImportOptions{Source: src, DryRun: dryRun,
			Progress: func(it audit.ImportItem) {
				rec := importRecord{Input: where[0], Fingerprint: it.Fingerprint, CData: it.CData, Status: string(it.Status)}
				where = where[1:]
				if it.Err != nil {
					rec.Error = it.Err.Error()
					outErr = cmpOr(outErr, reject(rec))
					return
				}
				if perToken {
					outErr = cmpOr(outErr, rw.add(rec, rec.Input, a.fpCell(rec.Fingerprint), rec.CData, rec.Status, ""))
				}
			}})
		if res != nil {
			total.Read += res.Read
			total.Imported += res.Imported
			total.Known += res.Known
			total.Repeated += res.Repeated
			total.Rejected += res.Rejected
		}
		if errors.Is(readErr, errStopRun) {
			readErr = nil
		}
		if err = cmpOr(cmpOr(err, readErr), outErr); err != nil {
			if total.Imported > 0 && !dryRun {
				err = fmt.Errorf("%w (%d tokens were imported before it)", err, total.Imported)
			}
			return ledgerError(err)
		}
	}
	if perToken {
		if err := rw.close(); err != nil {
			return err
		}
	} else if err := a.writeImportSummary(total, dryRun); err != nil {
		return err
	}
	if total.Rejected > 0 {
		if !a.format.Structured() {
			fmt.Fprintf(a.stderr, "tokenaudit: %d of %d lines were not tokens\n", total.Rejected, total.Read)
		}
		return &silentError{code: exitMalformed}
	}
	return nil
}

// writeImportSummary writes what import did, as a sentence, a Markdown
// table or a JSON object.
func (a *app) writeImportSummary(r audit.ImportResult, dryRun bool) error {
	switch a.format {
	case output.JSON:
		return output.WriteJSON(a.stdout, importSummary{DryRun: dryRun, ImportResult: r})
	case output.Markdown:
		s := &output.Sheet{Header: []string{"read", "imported", "known", "repeated", "rejected"}}
		s.Append(fmt.Sprint(r.Read), fmt.Sprint(r.Imported), fmt.Sprint(r.Known), fmt.Sprint(r.Repeated), fmt.Sprint(r.Rejected))
		return s.Write(a.stdout, output.Markdown)
	}
	verb := "imported"
	if dryRun {
		verb = "would import"
	}
	_, err := fmt.Fprintf(a.stdout, "Read %s: %s %d, %d already in the ledger, %d repeated, %d rejected.\n",
		countTokens(r.Read, "token", ""), verb, r.Imported, r.Known, r.Repeated, r.Rejected)
	return err
}
