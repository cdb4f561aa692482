package main

import (
	"bytes"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
	"github.com/tokenaudit/tokenaudit/jwtinspect"
)

func (a *app) cdataCommand() *cobra.Command {
	return a.tokenInputCommand(&cobra.Command{
		Use:   "cdata [TOKEN | - | @FILE]...",
		Short: "Print each token's cdata: whom it was issued to",
		Long: `Print the cdata claim of each token, one line per token, in input order.

A token without a cdata claim prints an empty line, so that line N of the
output always belongs to token N of the input, and does not change the exit
status. A cdata that is not a JSON string prints as its compact JSON text. In
the default format, control characters in a cdata are escaped (\n, \x1b, …)
so that one token is always one line; --format json or jsonl prints
{"cdata": …, "fingerprint": …} with the exact value (null when absent).

` + tokenInputHelp,
		Example: `  tokenaudit cdata < token.txt
  tokenaudit cdata @issued.txt | sort | uniq -c`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var opaque atomic.Int64 // tokens taken as opaque, by every worker
			defer func() { a.warnNotJWT(int(opaque.Load())) }()
			return a.stream(cmd.Context(), args, stateless(func(it tokenstream.Item) ([]byte, error) {
				cdata, ok, err := jwtinspect.CData(it.Token)
				if err != nil && opaqueToken(it.Token) {
					opaque.Add(1) // a token with no cdata
				} else if err != nil {
					return nil, err
				}
				return a.renderPair(it, "cdata", optional(cdata, ok))
			}))
		},
	})
}

func (a *app) fingerprintCommand() *cobra.Command {
	return a.tokenInputCommand(&cobra.Command{
		Use:   "fingerprint [TOKEN | - | @FILE]...",
		Short: "Print each token's fingerprint, the identity tokenaudit records",
		Long: `Print each token's fingerprint: "sha256:" and the lowercase hex SHA-256 of
the token's exact compact bytes. It is how the ledger, reports and tables
name a token without revealing it (tables show the first 12 hex digits).
A line that is neither a well-formed JWT nor an opaque token is an error
(exit status 2), so a typo is not silently fingerprinted.

` + tokenInputHelp,
		Example: `  tokenaudit fingerprint < token.txt
  tokenaudit events --fingerprint "$(tokenaudit fingerprint < token.txt)"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var opaque atomic.Int64 // tokens taken as opaque, by every worker
			defer func() { a.warnNotJWT(int(opaque.Load())) }()
			return a.stream(cmd.Context(), args, stateless(func(it tokenstream.Item) ([]byte, error) {
				if _, _, err := jwtinspect.CData(it.Token); err != nil {
					if !opaqueToken(it.Token) {
						return nil, err
					}
					opaque.Add(1)
				}
				return a.renderPair(it, "fingerprint", nil)
			}))
		},
	})
}

// pairRecord is the JSON form of the cdata and fingerprint commands.
type pairRecord struct {
	CData       *string `json:"cdata"`
	Fingerprint string  `json:"fingerprint"`
}

// renderPair renders one result of the cdata or fingerprint command: field
// is what the plain format prints.
func (a *app) renderPair(it tokenstream.Item, field string, cdata *string) ([]byte, error) {
	if field == "cdata" && !a.format.Structured() {
		return a.renderCData(cdata)
	}
	fp := jwtinspect.Fingerprint(it.Token)
	switch a.format {
	case output.JSON, output.JSONL:
		if field == "fingerprint" {
			return marshalLine(struct {
				Fingerprint string `json:"fingerprint"`
			}{fp}, false)
		}
		return marshalLine(pairRecord{CData: cdata, Fingerprint: fp}, false)
	case output.CSV:
		return []byte(fp + "\n"), nil
	}
	return []byte(fp + "\n"), nil
}

// renderCData renders a cdata in the plain and CSV formats, which do not
// show the fingerprint.
func (a *app) renderCData(cdata *string) ([]byte, error) {
	if a.format == output.CSV {
		var buf bytes.Buffer
		w := output.NewCSVWriter(&buf)
		w.Write([]string{deref(cdata)})
		err := w.Flush()
		return buf.Bytes(), err
	}
	return []byte(output.Clean(deref(cdata)) + "\n"), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
