package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
)

// maxIssueCount bounds --count, so that a typo does not hand out a
// thousand credentials that never expire.
const maxIssueCount = 100

// issueRecord is the JSON form of an issued token. It is the only place a
// raw token is ever printed.
type issueRecord struct {
	Token       string `json:"token"`
	Fingerprint string `json:"fingerprint"`
	CData       string `json:"cdata"`
	Seq         int64  `json:"seq"`
}

func (a *app) issueCommand() *cobra.Command {
	var (
		af    apiFlags
		lf    ledgerFlags
		cdata string
		count int
	)
	cmd := &cobra.Command{
		Use:   "issue --cdata TEXT [--count N]",
		Short: "Issue a token through the ledger and print it",
		Long: `Issue a token through the Woleet API, recording it in the ledger before
printing it. --cdata says whom the token is for (at most 64 characters); it
is written into the token, where anyone holding the token can read it.

The token alone goes to standard output, one per line, so that
T=$(tokenaudit issue --cdata acme) works; what was recorded goes to standard
error. --format json or jsonl prints {"token", "fingerprint", "cdata", "seq"}
(one JSON document for one token, JSON lines for several), and csv prints
those columns. TOKENAUDIT_FORMAT does not apply here: only a --format on
the command line changes what issue prints.

It fails closed: the request is recorded before the API is asked, and the
token is recorded before it is printed. If the ledger cannot record it, the
token is revoked again, nothing is printed and the exit status is 5 (as for
any action of the API the ledger could not record). An API error is exit
status 6; when the API may have issued a token without answering, that is
recorded, and "tokenaudit reconcile" finds the token.

Printing a token is part of handing it out. A token whose write fails
(a full disk, a closed pipe) is revoked again, recorded so, and the rest of
--count is not issued: the exit status is 1, or 5 if the ledger could not
record the revocation. When standard output is a pipe, each token counts as
handed out once the reader has read it: a reader that goes away first
(tokenaudit issue --count 3 | head -c 10) gets it revoked. A standard
output that is closed or /dev/null is refused before anything is issued.

Woleet tokens never expire: each one printed is a credential until
"tokenaudit revoke" revokes it.

--count issues several tokens for the same cdata (at most ` + strconv.Itoa(maxIssueCount) + `). If one
fails, those issued before it have been printed and recorded.`,
		Example: `  T=$(tokenaudit issue --cdata acme)
  tokenaudit issue --cdata "ci: deploy-bot" --format json
  tokenaudit issue --cdata load-test --count 5 > tokens.txt`,
		Args:        noArgs,
		Annotations: map[string]string{annotationNoEnvFormat: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("cdata") {
				return withHint(usageErrorf("say whom the token is for with --cdata"),
					`--cdata "" issues a token without cdata, which nobody can later attribute`)
			}
			if count < 1 || count > maxIssueCount {
				return usageErrorf("--count %d: want 1 to %d", count, maxIssueCount)
			}
			s, err := a.openSession(af, lf, true)
			if err != nil {
				return err
			}
			defer s.Close()
			return a.issue(cmd, s, cdata, count)
		},
	}
	cmd.Flags().StringVar(&cdata, "cdata", "", "whom the token is for: written into the token (at most 64 characters)")
	cmd.Flags().IntVar(&count, "count", 1, "how many tokens to issue")
	af.register(cmd)
	lf.register(cmd)
	return cmd
}

// issue issues count tokens and prints each as soon as it is recorded.
// Printing is part of handing a token out: a token whose write fails, or
// that the reader of a pipe never reads, is revoked again and the rest are
// not issued (see deliver.go).
func (a *app) issue(cmd *cobra.Command, s *auditSession, cdata string, count int) error {
	ctx := cmd.Context()
	if stdoutNowhere(a.stdoutFile) {
		return withHint(usageErrorf("%w: nothing was issued", errNowhere),
			"redirect standard output to a file, or capture it: T=$(tokenaudit issue --cdata …)")
	}
	if a.ignoreSIGPIPE != nil {
		a.ignoreSIGPIPE()
	}
	var cw *output.CSVWriter
	if a.format == output.CSV {
		cw = output.NewCSVWriter(a.stdout)
		cw.Write([]string{"token", "fingerprint", "cdata", "seq"})
	}
	opaque := 0 // tokens issued that are not JWTs
	defer func() { a.warnNotJWT(opaque) }()
	for i := range count {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped after %d of %d tokens: %w", i, count, err)
		}
		res, err := s.auditor.Issue(ctx, audit.IssueOptions{CData: cdata})
		if err != nil {
			err = s.apiError(err)
			if i > 0 {
				err = fmt.Errorf("token %d of %d: %w (the %d before it were printed and recorded)", i+1, count, err, i)
			}
			return err
		}
		if recordedNotJWT(res.Event) {
			opaque++
		}
		rec := issueRecord{Token: res.Token.Token, Fingerprint: res.Event.Fingerprint, CData: res.Event.CData, Seq: res.Event.Seq}
		var werr error
		switch a.format {
		case output.JSON:
			if count == 1 {
				werr = output.WriteJSON(a.stdout, rec)
			} else {
				werr = output.WriteJSONLine(a.stdout, rec)
			}
		case output.JSONL:
			werr = output.WriteJSONLine(a.stdout, rec)
		case output.CSV:
			cw.Write([]string{rec.Token, rec.Fingerprint, rec.CData, strconv.FormatInt(rec.Seq, 10)})
			werr = cw.Flush()
		default:
			_, werr = fmt.Fprintln(a.stdout, rec.Token)
		}
		if werr == nil {
			werr = a.delivered(ctx)
		}
		if werr != nil {
			return a.undelivered(ctx, s, rec, i, count, werr)
		}
		fmt.Fprintf(a.stderr, "tokenaudit: issued sha256:%s for cdata %s (ledger seq %d)\n",
			shortFP(rec.Fingerprint), quoteCData(rec.CData), rec.Seq)
	}
	return nil
}

// quoteCData quotes a cdata for a message, escaping what a terminal would
// interpret (control and format characters, invalid UTF-8).
func quoteCData(cdata string) string { return strconv.Quote(cdata) }
