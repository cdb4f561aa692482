package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// helpTopic is a page of "tokenaudit help TOPIC" that belongs to no one
// command: what several commands share, said once.
type helpTopic struct {
	name, short, text string
}

// helpTopics lists the topics of "tokenaudit help", in the order the help
// command lists them.
var helpTopics = []helpTopic{
	{"tokens", "how the commands take tokens: arguments, standard input, @FILE", `How inspect, cdata, fingerprint, verify, revoke and import take tokens.

Each argument is a token, "-" for standard input, or @FILE. Standard input
and files hold one token per line; blank lines and lines starting with "#"
are skipped, and surrounding white space and a leading "Bearer " or
"Authorization: Bearer " are removed, so a pasted HTTP header works. With no
argument, tokens are read from standard input.

A token is a JWT, or else an opaque token: every command but verify takes a
line of printable ASCII without white space or dots, that does not start
like a JWT ("eyJ", "{"), as a token known by its fingerprint alone (finding
not-a-jwt), and warns once. Text shaped like a JWT that does not parse is
malformed.

Prefer standard input or a file to an argument: while a command runs, its
arguments are visible to every user of the machine (ps, /proc/PID/cmdline),
and the shell keeps them in its history. A Woleet token never expires.

  tokenaudit inspect < token.txt
  printf '%s\n' "$T" | tokenaudit revoke -      # printf is a shell builtin: no process shows "$T"
  tokenaudit import @legacy-tokens.txt

inspect, cdata, fingerprint and verify refuse a token longer than 64 KiB
(exit status 2): --max-token-size raises the limit, up to 16MiB.

Streams are read in constant memory, in input order. A line that cannot be
read as a token does not stop a stream: it becomes an error record
({"line": N, "source": …, "error": …, "code": …} in JSON lines, a line on
standard error otherwise), and the exit status at the end is the first
failure's.

(The command that lists the tokens the ledger knows is "tokenaudit tokens":
see "tokenaudit tokens --help".)`},
	{"environment", "the environment variables tokenaudit reads", `The environment variables tokenaudit reads.

  WOLEET_API_URL       the API's base URL (default https://api.woleet.io/v1);
                       https only, except to a loopback host
  WOLEET_API_TOKEN     bearer credentials; or:
  WOLEET_USERNAME      basic credentials, with WOLEET_PASSWORD (or the file
  WOLEET_PASSWORD      named by --password-file)
  TOKENAUDIT_DB        the ledger file (default
                       $XDG_DATA_HOME/tokenaudit/ledger.db, or
                       ~/.local/share/tokenaudit/ledger.db); --db overrides it
  TOKENAUDIT_FORMAT    the default --format: table, json, jsonl, csv or markdown
  TOKENAUDIT_CHECKPOINT_KEY
                       sign a checkpoint automatically, with this key file,
                       whenever a command that writes has grown the ledger by
  TOKENAUDIT_CHECKPOINT_EVERY
                       this many events past the newest checkpoint (default 100)
  TOKENAUDIT_CHECKPOINT_VERIFIER
                       the default --verifier of "ledger verify" and
                       "ledger check-proof": a verifier key, or its file
  TOKENAUDIT_POLICY_MAX_AGE, …_MAX_LIVE_PER_CDATA, …_NO_PENDING,
  …_RECONCILE, …_RECONCILED_WITHIN, …_VERIFY, …_CHECKPOINT_WITHIN
                       the policies of "tokenaudit check", when the flag is
                       not given (TOKENAUDIT_POLICY_MAX_AGE=90d)
  XDG_CONFIG_HOME      where "ledger keygen" writes the signing key (default
                       ~/.config/tokenaudit/checkpoint.key)
  NO_COLOR, TERM=dumb  no colour

No secret is ever a flag's value (flags show in ps): passwords, bearer
tokens and HMAC secrets come from the environment or from files.`},
	{"exit-codes", "what each exit status means", `The exit status of every tokenaudit command.

  0  success
  1  usage or I/O error: bad flags, an unreadable file, no credentials, a
     ledger locked, read-only or of a newer schema, a directory as --db
  2  malformed token (the message names the segment and byte offset)
  3  signature not valid (or no key fits, algorithm not allowed, algorithm
     confusion)
  4  token not valid at this time (expired or not yet valid)
  5  ledger integrity failure: tampering, a damaged file, rewritten history,
     or the API acted but the ledger could not record it
  6  API error: unreachable, refused, rate limited (the message names the
     host and the status, never a secret)
  7  a policy of "tokenaudit check" is violated (the violations are
     listed); a ledger that does not verify is 5, which wins over 7
130  interrupted by Ctrl-C (SIGINT) or SIGTERM, after saying what was done
     and, for a bulk revoke, which command finishes it

A stream of tokens exits with the status of its first failure.`},
}

// helpCommand replaces cobra's "help": "help TOPIC" prints one of
// helpTopics, "help COMMAND" the command's help, as cobra's does.
func (a *app) helpCommand() *cobra.Command {
	var names []string
	for _, t := range helpTopics {
		names = append(names, fmt.Sprintf("  %-12s %s", t.name, t.short))
	}
	return &cobra.Command{
		Use:   "help [command | topic]",
		Short: "Help about any command, or a topic: tokens, environment, exit-codes",
		Long: `Help about any command ("tokenaudit help issue" is "tokenaudit issue --help"),
or one of these topics:

` + strings.Join(names, "\n"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				for _, t := range helpTopics {
					if t.name == args[0] {
						_, err := fmt.Fprintln(a.stdout, t.text)
						return err
					}
				}
			}
			target, _, err := cmd.Root().Find(args)
			if err != nil || target == nil || (len(args) > 0 && target == cmd.Root()) {
				return &usageError{err: fmt.Errorf("unknown help topic %q", strings.Join(args, " ")), cmd: cmd}
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []string
			for _, t := range helpTopics {
				out = append(out, t.name+"\t"+t.short)
			}
			for _, c := range cmd.Root().Commands() {
				if c.IsAvailableCommand() && c.Name() != "help" {
					out = append(out, c.Name()+"\t"+c.Short)
				}
			}
			sort.Strings(out)
			return out, cobra.ShellCompDirectiveNoFileComp
		},
	}
}
