package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/tokenaudit/tokenaudit/internal/output"
	"github.com/tokenaudit/tokenaudit/internal/tokenstream"
)

// env is everything a command may touch outside its arguments: streams,
// environment variables, the clock and what the streams are connected to.
// Tests and main build it; nothing reads os.* directly.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	// notify, when not nil, returns a context cancelled on Ctrl-C or
	// SIGTERM, for the commands that watch signals (see watchesSignals).
	notify    func(context.Context) (context.Context, context.CancelFunc)
	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	// stdoutFile is the process's standard output, for the checks that
	// "issue" makes on where its tokens go (see deliver.go); nil in tests
	// that run commands in this process.
	stdoutFile *os.File
	// ignoreSIGPIPE, when not nil, makes a write to a closed pipe fail with
	// EPIPE instead of ending the process, for "issue", which must revoke
	// a token that nobody read, and "events --follow", which stops.
	ignoreSIGPIPE func()
	// stdoutGone, when not nil, reports that standard output's reader has
	// gone away (a closed pipe), for "events --follow" to stop while idle.
	stdoutGone func() bool
}

// systemEnv is the env of a real process.
func systemEnv() *env {
	tty := func(f *os.File) bool { return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()) }
	return &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		getenv: os.Getenv,
		now:    time.Now,
		notify: func(ctx context.Context) (context.Context, context.CancelFunc) {
			return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		},
		stdinTTY:      tty(os.Stdin),
		stdoutTTY:     tty(os.Stdout),
		stderrTTY:     tty(os.Stderr),
		stdoutFile:    os.Stdout,
		ignoreSIGPIPE: func() { signal.Ignore(syscall.SIGPIPE) },
		stdoutGone:    stdoutGone(os.Stdout),
	}
}

// annotationNoEnvFormat marks a command that TOKENAUDIT_FORMAT does not
// apply to: its format is the one on its own command line. TOKENAUDIT_FORMAT
// is for listings; "issue" prints the bare token, so that
// T=$(tokenaudit issue …) holds a token whatever the environment says.
const annotationNoEnvFormat = "tokenaudit/no-env-format"

// app holds the global options every command shares.
type app struct {
	*env
	formatFlag string
	format     output.Format
	stopNotify context.CancelFunc // set when the command watches signals

	// maxTokenSize bounds a token read by app.stream (--max-token-size).
	maxTokenSize tokenSize
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
	root := a.rootCommand(args)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if a.stopNotify != nil {
		a.stopNotify()
	}
	if err == nil {
		return exitOK
	}
	var silent *silentError
	if !errors.As(err, &silent) {
		printError(e.stderr, err)
	}
	return exitCode(err)
}

// subcommands lists the commands under the root, in the order help shows
// them, each with the function that builds it.
func (a *app) subcommands() []namedCommand {
	return []namedCommand{
		{"version", a.versionCommand},
		{"inspect", a.inspectCommand},
		{"cdata", a.cdataCommand},
		{"fingerprint", a.fingerprintCommand},
		{"verify", a.verifyCommand},
		{"issue", a.issueCommand},
		{"revoke", a.revokeCommand},
		{"events", a.eventsCommand},
		{"tokens", a.tokensCommand},
		{"report", a.reportCommand},
		{"reconcile", a.reconcileCommand},
		{"check", a.checkCommand},
		{"rotate", a.rotateCommand},
		{"import", a.importCommand},
		{"ledger", a.ledgerCommand},
		{"demo", a.demoCommand},
		{"emulator", a.emulatorCommand},
	}
}

// namedCommand is a subcommand, not built yet.
type namedCommand struct {
	name  string
	build func() *cobra.Command
}

// invokedCommand returns the name of the subcommand args name and its
// index in args, or "" and -1 when there is none (no command, only root
// flags) or it is not one of ours ("help", "completion", cobra's completion
// requests, a typo).
func invokedCommand(args []string, commands []namedCommand) (string, int) {
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "--format":
			i++ // the root's only flag that takes a value as the next argument
		case strings.HasPrefix(arg, "-"):
		default:
			if slices.ContainsFunc(commands, func(c namedCommand) bool { return c.name == arg }) {
				return arg, i
			}
			return "", -1
		}
	}
	return "", -1
}

// watchesSignals reports whether cmd, run with the positional arguments
// args, needs Ctrl-C (SIGINT) and SIGTERM turned into a cancelled context,
// so that it can stop cleanly: flush a stream's output, record an API
// call's outcome in the ledger, shut the emulator down. An offline command
// given its tokens as arguments does not: it ends within a millisecond and
// writes nothing but its output, so it keeps the default reaction (the
// process ends) and saves the goroutine and the thread that watching takes.
func watchesSignals(cmd *cobra.Command, args []string) bool {
	switch cmd.Name() {
	case "inspect", "cdata", "fingerprint", "verify":
		if cmd.Parent() != nil && cmd.Parent().Parent() == nil { // not "ledger verify"
			return len(args) == 0 || slices.ContainsFunc(args, tokenstream.IsStream)
		}
	}
	return true
}

// rootCommand builds the command tree for args. Building every command and
// its flags is most of what a short command such as "tokenaudit cdata TOKEN"
// costs once the process is running, so when args name one of our
// subcommands only that one is built; help, completion and anything
// unknown get the whole tree.
func (a *app) rootCommand(args []string) *cobra.Command {
	commands := a.subcommands()
	invoked, _ := invokedCommand(args, commands)
	root := a.newRoot()
	for _, c := range commands {
		if invoked == "" || c.name == invoked {
			root.AddCommand(c.build())
		}
	}
	refuseRepeatedFlags(root)
	if invoked == "" {
		root.Version = version() // --version is a flag of the root only
	} else {
		root.CompletionOptions.DisableDefaultCmd = true // not "completion"
	}
	return root
}

// newRoot builds the root command with its persistent flags.
func (a *app) newRoot() *cobra.Command {
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
valid) · 5 ledger integrity failure · 6 API error · 7 a policy of
"tokenaudit check" is violated · 130 interrupted (Ctrl-C)
(see "tokenaudit help exit-codes").

Environment: WOLEET_API_URL and the credentials, WOLEET_API_TOKEN (bearer) or
WOLEET_USERNAME and WOLEET_PASSWORD (basic); TOKENAUDIT_DB (the ledger),
TOKENAUDIT_FORMAT, NO_COLOR and the TOKENAUDIT_CHECKPOINT_* variables of
signed checkpoints (see "tokenaudit help environment").

Tokens are given as arguments, on standard input or in files: see
"tokenaudit help tokens".`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			f := a.formatFlag
			if !cmd.Flags().Changed("format") && f == "" && cmd.Annotations[annotationNoEnvFormat] == "" {
				f = a.getenv("TOKENAUDIT_FORMAT")
			}
			format, err := output.ParseFormat(f)
			if err != nil {
				if !cmd.Flags().Changed("format") {
					err = fmt.Errorf("TOKENAUDIT_FORMAT: %w", err)
				}
				return usageErrorf("%v", err)
			}
			if format == output.HTML && cmd.Name() != "report" {
				if !cmd.Flags().Changed("format") {
					format = output.Table // TOKENAUDIT_FORMAT=html is meant for the report
				} else {
					return usageErrorf("--format html: only \"tokenaudit report\" writes HTML")
				}
			}
			a.format = format
			if a.notify != nil && watchesSignals(cmd, args) {
				ctx, stop := a.notify(cmd.Context())
				cmd.SetContext(ctx)
				a.stopNotify = stop
			}
			return nil
		},
	}
	root.SetVersionTemplate("tokenaudit {{.Version}}\n")
	root.SetHelpCommand(a.helpCommand())
	root.PersistentFlags().StringVar(&a.formatFlag, "format", "",
		"output format: table, json, jsonl, csv, markdown or html (report only) (default table, or $TOKENAUDIT_FORMAT)")
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
