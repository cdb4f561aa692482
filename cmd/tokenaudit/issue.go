package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/woleet"
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
		af        apiFlags
		lf        ledgerFlags
		cdata     string
		count     int
		cdataFile string
		reason    string
	)
	cmd := &cobra.Command{
		Use:   "issue --cdata TEXT [--count N] | --cdata-file FILE",
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
fails, those issued before it have been printed and recorded.

--cdata-file FILE (- for standard input) issues one token per line of FILE,
the line being the cdata (at most ` + strconv.Itoa(maxIssueFile) + ` lines; blank lines are skipped, and
every line is checked before anything is issued). Each token is printed as
"cdata<TAB>token" on its own line (JSON lines with --format json or jsonl,
CSV rows with --format csv), with a progress bar on a terminal.

--reason TEXT says why, and is recorded as detail.reason.`,
		Example: `  T=$(tokenaudit issue --cdata acme)
  tokenaudit issue --cdata "ci: deploy-bot" --format json
  tokenaudit issue --cdata load-test --count 5 > tokens.txt
  tokenaudit issue --cdata-file customers.txt --reason "onboarding batch 12" > handout.tsv`,
		Args:        noArgs,
		Annotations: map[string]string{annotationNoEnvFormat: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkReason(reason); err != nil {
				return err
			}
			if cmd.Flags().Changed("cdata-file") {
				if cmd.Flags().Changed("cdata") || cmd.Flags().Changed("count") {
					return usageErrorf("--cdata-file gives the cdata of each token: not with --cdata or --count")
				}
				cdatas, err := a.readCDataFile(cdataFile)
				if err != nil {
					return err
				}
				s, err := a.openSession(af, lf, true)
				if err != nil {
					return err
				}
				defer s.Close()
				return a.issue(cmd, s, cdatas, reason, true)
			}
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
			cdatas := make([]string, count)
			for i := range cdatas {
				cdatas[i] = cdata
			}
			return a.issue(cmd, s, cdatas, reason, false)
		},
	}
	cmd.Flags().StringVar(&cdata, "cdata", "", "whom the token is for: written into the token (at most 64 characters)")
	cmd.Flags().IntVar(&count, "count", 1, "how many tokens to issue")
	cmd.Flags().StringVar(&cdataFile, "cdata-file", "", "issue one token per line of this file (- for standard input), the line its cdata")
	registerReason(cmd, &reason)
	af.register(cmd)
	lf.register(cmd)
	return cmd
}

// issue issues a token for each cdata, in order, and prints each as soon as
// it is recorded; perLine prints "cdata<TAB>token" lines (--cdata-file).
// Printing is part of handing a token out: a token whose write fails, or
// that the reader of a pipe never reads, is revoked again and the rest are
// not issued (see deliver.go).
func (a *app) issue(cmd *cobra.Command, s *auditSession, cdatas []string, reason string, perLine bool) error {
	ctx := cmd.Context()
	count := len(cdatas)
	p, err := a.newIssuePrinter(count > 1, perLine)
	if err != nil {
		return err
	}
	bar := &progressBar{w: a.stderr, enabled: perLine && a.stderrTTY, label: "issuing"}
	defer bar.clear()
	opaque := 0 // tokens issued that are not JWTs
	defer func() { a.warnNotJWT(opaque) }()
	for i, cdata := range cdatas {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped after %d of %d tokens: %w", i, count, err)
		}
		res, err := s.auditor.Issue(ctx, audit.IssueOptions{CData: cdata, Reason: reason})
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
		rec := newIssueRecord(res)
		if werr := p.deliver(ctx, rec); werr != nil {
			bar.clear()
			return a.undelivered(ctx, s, rec, i, count, werr)
		}
		if perLine && a.stderrTTY {
			bar.update(i+1, count)
			continue
		}
		fmt.Fprintf(a.stderr, "tokenaudit: issued sha256:%s for cdata %s (ledger seq %d)\n",
			shortFP(res.Event.Fingerprint), quoteCData(res.Event.CData), res.Event.Seq)
	}
	bar.clear()
	if perLine {
		fmt.Fprintf(a.stderr, "tokenaudit: issued %s\n", countTokens(count, "token", ""))
	}
	return nil
}

// issuePrinter prints issued tokens on standard output: the only place a
// raw token is ever printed.
type issuePrinter struct {
	a       *app
	cw      *output.CSVWriter
	many    bool // several tokens: JSON lines rather than one document
	perLine bool // "cdata<TAB>token" lines in the default format
}

// newIssuePrinter starts the output of issued tokens (the CSV header). It
// refuses a standard output that leads nowhere, before anything is issued.
func (a *app) newIssuePrinter(many, perLine bool) (*issuePrinter, error) {
	if stdoutNowhere(a.stdoutFile) {
		return nil, withHint(usageErrorf("%w: nothing was issued", errNowhere),
			"redirect standard output to a file, or capture it: T=$(tokenaudit issue --cdata …)")
	}
	if a.ignoreSIGPIPE != nil {
		a.ignoreSIGPIPE()
	}
	p := &issuePrinter{a: a, many: many, perLine: perLine}
	if a.format == output.CSV {
		p.cw = output.NewCSVWriter(a.stdout)
		p.cw.Write([]string{"token", "fingerprint", "cdata", "seq"})
	}
	return p, nil
}

// newIssueRecord is what is printed of an issued token.
func newIssueRecord(res *audit.IssueResult) issueRecord {
	return issueRecord{Token: res.Token.Token, Fingerprint: res.Event.Fingerprint, CData: res.Event.CData, Seq: res.Event.Seq}
}

// deliver writes one issued token and, on a pipe, waits until it has been
// read (see delivered). An error means the token may have reached nobody.
func (p *issuePrinter) deliver(ctx context.Context, rec issueRecord) error {
	a := p.a
	var werr error
	switch a.format {
	case output.JSON:
		if !p.many {
			werr = output.WriteJSON(a.stdout, rec)
		} else {
			werr = output.WriteJSONLine(a.stdout, rec)
		}
	case output.JSONL:
		werr = output.WriteJSONLine(a.stdout, rec)
	case output.CSV:
		p.cw.Write([]string{rec.Token, rec.Fingerprint, rec.CData, strconv.FormatInt(rec.Seq, 10)})
		werr = p.cw.Flush()
	default:
		if p.perLine {
			_, werr = fmt.Fprintf(a.stdout, "%s\t%s\n", rec.CData, rec.Token)
		} else {
			_, werr = fmt.Fprintln(a.stdout, rec.Token)
		}
	}
	if werr == nil {
		werr = a.delivered(ctx)
	}
	return werr
}

// maxIssueFile bounds the lines of --cdata-file.
const maxIssueFile = 1000

// readCDataFile reads and checks the cdata of --cdata-file, one per line,
// before anything is issued: each at most woleet.MaxCDataLength code
// points of valid UTF-8, with no control character (a tab would break the
// "cdata<TAB>token" lines).
func (a *app) readCDataFile(name string) ([]string, error) {
	var (
		b   []byte
		err error
	)
	if name == "-" {
		b, err = io.ReadAll(io.LimitReader(a.stdin, 1<<20))
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("--cdata-file: %w", err)
	}
	var cdatas []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		where := fmt.Sprintf("--cdata-file %s line %d", name, i+1)
		switch {
		case !utf8.ValidString(line):
			return nil, usageErrorf("%s is not valid UTF-8", where)
		case utf8.RuneCountInString(line) > woleet.MaxCDataLength:
			return nil, usageErrorf("%s is %d characters long: cdata holds at most %d", where, utf8.RuneCountInString(line), woleet.MaxCDataLength)
		case strings.IndexFunc(line, unicode.IsControl) >= 0:
			return nil, usageErrorf("%s holds a control character (%s)", where, output.Clean(line))
		}
		cdatas = append(cdatas, line)
		if len(cdatas) > maxIssueFile {
			return nil, usageErrorf("--cdata-file %s has more than %d lines: split it", name, maxIssueFile)
		}
	}
	if len(cdatas) == 0 {
		return nil, usageErrorf("--cdata-file %s holds no cdata", name)
	}
	return cdatas, nil
}

// quoteCData quotes a cdata for a message, escaping what a terminal would
// interpret (control and format characters, invalid UTF-8).
func quoteCData(cdata string) string { return strconv.Quote(cdata) }
