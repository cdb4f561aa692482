package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/internal/output"
)

// env is everything a command may touch outside its arguments: streams,
// environment variables, the clock and what the streams are connected to.
// Tests and main build it; nothing reads os.* directly.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	stdinTTY       bool
	stdoutTTY      bool
	stderrTTY      bool
}

// systemEnv is the env of a real process.
func systemEnv() *env {
	tty := func(f *os.File) bool { return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()) }
	return &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		getenv:    os.Getenv,
		now:       time.Now,
		stdinTTY:  tty(os.Stdin),
		stdoutTTY: tty(os.Stdout),
		stderrTTY: tty(os.Stderr),
	}
}

// app holds the global options every command shares.
type app struct {
	*env
	formatFlag string
	format     output.Format
}

// style returns the colours to use on stdout: only on a terminal, never with
// NO_COLOR set (https://no-color.org) or TERM=dumb.
func (a *app) style() output.Style {
	return output.Style{Enabled: a.stdoutTTY && a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb"}
}

// version is the module version the binary was built from, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// run runs one command line and returns the process's exit status.
func run(ctx context.Context, args []string, e *env) int {
	a := &app{env: e}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var silent *silentError
	if !errors.As(err, &silent) {
		printError(e.stderr, err)
	}
	return exitCode(err)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "tokenaudit",
		Short: "Issue, revoke, inspect and audit Woleet API tokens",
		Long: `tokenaudit issues and revokes Woleet API tokens through an append-only,
tamper-evident ledger, reports which tokens are live and who holds them, and
inspects any JWT offline.

Woleet tokens never expire: every token handed out stays a live credential
until it is revoked. tokenaudit never prints, logs or stores a token it did
not just issue; it identifies tokens by their SHA-256 fingerprint.

Exit status: 0 success · 1 usage or I/O error · 2 malformed token ·
3 signature not valid · 4 token not valid at this time (expired or not yet
valid) · 5 ledger integrity failure · 6 API error.

Environment: WOLEET_API_URL, WOLEET_API_TOKEN (bearer) or WOLEET_USERNAME and
WOLEET_PASSWORD (basic), TOKENAUDIT_DB (the ledger), TOKENAUDIT_FORMAT,
NO_COLOR; for signed checkpoints (see "tokenaudit ledger"),
TOKENAUDIT_CHECKPOINT_KEY (the signing key's file),
TOKENAUDIT_CHECKPOINT_EVERY (sign every N events written) and
TOKENAUDIT_CHECKPOINT_VERIFIER (a trusted verifier key, or its file).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			f := a.formatFlag
			if !cmd.Flags().Changed("format") && f == "" {
				f = a.getenv("TOKENAUDIT_FORMAT")
			}
			format, err := output.ParseFormat(f)
			if err != nil {
				if !cmd.Flags().Changed("format") {
					err = fmt.Errorf("TOKENAUDIT_FORMAT: %w", err)
				}
				return usageErrorf("%v", err)
			}
			a.format = format
			return nil
		},
	}
	root.SetVersionTemplate("tokenaudit {{.Version}}\n")
	root.PersistentFlags().StringVar(&a.formatFlag, "format", "",
		"output format: table, json, jsonl, csv or markdown (default table, or $TOKENAUDIT_FORMAT)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err: err, cmd: cmd}
	})
	root.CompletionOptions.HiddenDefaultCmd = false
	_ = root.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		names := make([]string, len(output.Formats))
		for i, f := range output.Formats {
			names[i] = string(f)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})

	root.AddCommand(
		a.versionCommand(),
		a.inspectCommand(),
		a.cdataCommand(),
		a.fingerprintCommand(),
		a.verifyCommand(),
		a.issueCommand(),
		a.revokeCommand(),
		a.eventsCommand(),
		a.tokensCommand(),
		a.reportCommand(),
		a.reconcileCommand(),
		a.importCommand(),
		a.ledgerCommand(),
		a.demoCommand(),
		a.emulatorCommand(),
	)
	return root
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tokenaudit's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(a.stdout, "tokenaudit %s\n", version())
			return err
		},
	}
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}
