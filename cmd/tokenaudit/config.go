package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/audit"
	"github.com/tokenaudit/tokenaudit/woleet"
)

// apiFlags are the flags of the commands that talk to the Woleet API.
// Secrets are never flag values (flags show in ps): only a file name is.
type apiFlags struct {
	passwordFile string
	apiURL       string
	timeout      time.Duration
}

// defaultAPITimeout bounds each API call, its retries included.
const defaultAPITimeout = time.Minute

func (f *apiFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.passwordFile, "password-file", "",
		"read the Woleet password from this file (instead of $WOLEET_PASSWORD)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", defaultAPITimeout,
		"give up on each API call, retries included, after this long")
	cmd.Flags().StringVar(&f.apiURL, "api-url", "",
		"the Woleet API's base URL (default $WOLEET_API_URL, or https://api.woleet.io/v1)")
}

// credentialsHint tells a user how to give credentials.
const credentialsHint = "set WOLEET_API_TOKEN, or WOLEET_USERNAME and WOLEET_PASSWORD (or --password-file); " +
	"to try tokenaudit without an account, run \"tokenaudit emulator\" or \"tokenaudit demo\""

// apiClient builds the Woleet client from the environment:
// WOLEET_API_URL (default https://api.woleet.io/v1), and either
// WOLEET_API_TOKEN (bearer) or WOLEET_USERNAME with WOLEET_PASSWORD or
// --password-file (basic).
func (a *app) apiClient(f apiFlags) (*woleet.Client, error) {
	opts := []woleet.Option{woleet.WithUserAgent("tokenaudit/" + version())}
	if u := cmp.Or(f.apiURL, a.getenv("WOLEET_API_URL")); u != "" {
		opts = append(opts, woleet.WithBaseURL(u))
	}
	token := strings.TrimSpace(a.getenv("WOLEET_API_TOKEN"))
	user := a.getenv("WOLEET_USERNAME")
	password := a.getenv("WOLEET_PASSWORD")
	if f.passwordFile != "" {
		b, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return nil, fmt.Errorf("--password-file %s is empty", f.passwordFile)
		}
	}
	switch {
	case token != "" && user != "":
		return nil, withHint(errors.New("both WOLEET_API_TOKEN and WOLEET_USERNAME are set"),
			"unset one of them: tokenaudit uses exactly one kind of credentials")
	case token != "":
		opts = append(opts, woleet.WithBearerToken(token))
	case user != "" && password == "":
		return nil, withHint(errors.New("WOLEET_USERNAME is set but no password was given"),
			"set WOLEET_PASSWORD or use --password-file")
	case user != "":
		opts = append(opts, woleet.WithBasicAuth(user, password))
	default:
		return nil, withHint(errors.New("no Woleet API credentials"), credentialsHint)
	}
	c, err := woleet.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("woleet client: %w", err)
	}
	return c, nil
}

// ledgerFlags are the flags of the commands that read or write the ledger.
type ledgerFlags struct {
	db          string
	lockTimeout time.Duration
}

func (f *ledgerFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", "",
		"the ledger file (default $TOKENAUDIT_DB, or $XDG_DATA_HOME/tokenaudit/ledger.db)")
	cmd.Flags().DurationVar(&f.lockTimeout, "lock-timeout", audit.DefaultBusyTimeout,
		"wait this long for another process writing to the ledger")
}

// ledgerPath resolves the ledger's path: --db, then $TOKENAUDIT_DB, then
// $XDG_DATA_HOME/tokenaudit/ledger.db, then ~/.local/share/tokenaudit/ledger.db.
// A path that names a directory is a usage error (see checkLedgerPath).
func (a *app) ledgerPath(f ledgerFlags) (string, error) {
	if f.db != "" {
		return f.db, checkLedgerPath(f.db, "--db")
	}
	if p := a.getenv("TOKENAUDIT_DB"); p != "" {
		return p, checkLedgerPath(p, "TOKENAUDIT_DB")
	}
	if d := a.getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		p := filepath.Join(d, "tokenaudit", "ledger.db")
		return p, checkLedgerPath(p, "the default ledger")
	}
	home := a.getenv("HOME")
	if home == "" {
		return "", withHint(errors.New("cannot find the ledger: HOME is not set"), "give the ledger's path with --db or TOKENAUDIT_DB")
	}
	p := filepath.Join(home, ".local", "share", "tokenaudit", "ledger.db")
	return p, checkLedgerPath(p, "the default ledger")
}

// checkLedgerPath refuses a ledger path that names a directory: it is a
// mistake in the command line or the environment (where says which), not
// a damaged ledger. Whatever else is wrong with the path is for audit.Open
// to say.
func checkLedgerPath(path, where string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return withHint(usageErrorf("%s %s is a directory, not a ledger file", where, path),
			"name the ledger file itself, such as "+filepath.Join(path, "ledger.db"))
	}
	return nil
}
