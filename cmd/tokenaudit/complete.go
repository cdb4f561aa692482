package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
)

// maxCompletions bounds the values a completion offers.
const maxCompletions = 50

// completionTimeout bounds the ledger lookup of one completion: a shell
// waits for it at every Tab.
const completionTimeout = 2 * time.Second

// completeFromLedger completes a command's --cdata and --fingerprint
// values from the tokens of its ledger (live ones only, with liveOnly),
// read-only, at most maxCompletions of each, and never anything when the
// ledger cannot be read: completion must not fail loudly.
func (a *app) completeFromLedger(cmd *cobra.Command, lf *ledgerFlags, liveOnly bool) {
	state := audit.State("")
	if liveOnly {
		state = audit.StateActive
	}
	tokens := func(f audit.TokenFilter) []audit.Token {
		l, err := a.openLedger(*lf, false)
		if err != nil {
			return nil
		}
		defer l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		f.State, f.Newest = state, true
		var out []audit.Token
		for t, err := range l.Tokens(ctx, f) {
			if err != nil {
				break
			}
			out = append(out, t)
		}
		return out
	}
	if cmd.Flags().Lookup("cdata") != nil {
		_ = cmd.RegisterFlagCompletionFunc("cdata", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			var out []string
			for _, t := range tokens(audit.TokenFilter{CData: prefix, CDataPrefix: prefix != "", Limit: 20 * maxCompletions}) {
				if t.CData != "" && !slices.Contains(out, t.CData) && len(out) < maxCompletions {
					out = append(out, t.CData)
				}
			}
			slices.Sort(out)
			return out, cobra.ShellCompDirectiveNoFileComp
		})
	}
	if cmd.Flags().Lookup("fingerprint") != nil {
		_ = cmd.RegisterFlagCompletionFunc("fingerprint", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			f := audit.TokenFilter{Limit: maxCompletions}
			hexPrefix := strings.TrimPrefix(strings.ToLower(prefix), "sha256:")
			if len(hexPrefix) >= audit.MinFingerprintPrefix {
				f.Fingerprint = hexPrefix
			} else {
				f.Limit = 20 * maxCompletions // the newest tokens, filtered below
			}
			var out []string
			for _, t := range tokens(f) {
				short := shortFP(t.Fingerprint)
				if strings.HasPrefix(short, hexPrefix) && len(out) < maxCompletions {
					out = append(out, short+"\t"+t.CData)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		})
	}
}
