package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestInvokedCommand(t *testing.T) {
	commands := (&app{}).subcommands()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"cdata", "tok"}, "cdata"},
		{[]string{"--format", "json", "inspect", "-"}, "inspect"},
		{[]string{"--format=jsonl", "ledger", "verify"}, "ledger"},
		{[]string{"-h", "verify"}, "verify"},
		{[]string{"--format", "cdata"}, ""}, // "cdata" is the format's value
		{[]string{"help", "cdata"}, ""},
		{[]string{"completion", "bash"}, ""},
		{[]string{"__complete", "cd"}, ""},
		{[]string{"bogus", "cdata"}, ""},
		{[]string{"--version"}, ""},
		{nil, ""},
	}
	for _, tc := range tests {
		got, at := invokedCommand(tc.args, commands)
		if got != tc.want || got != "" && tc.args[at] != got || got == "" && at != -1 {
			t.Errorf("invokedCommand(%q) = %q, %d; want %q", tc.args, got, at, tc.want)
		}
	}
}

func TestWatchesSignals(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"cdata", "tok"}, false},
		{[]string{"--format", "json", "inspect", "t1", "t2"}, false},
		{[]string{"verify", "tok", "--key", "k.pem"}, false},
		{[]string{"fingerprint", "tok"}, false},
		{[]string{"cdata"}, true}, // standard input
		{[]string{"inspect", "--format", "json"}, true},
		{[]string{"cdata", "-"}, true},
		{[]string{"fingerprint", "tok", "@tokens.txt"}, true},
		{[]string{"ledger", "verify"}, true},
		{[]string{"version"}, true},
		{[]string{"emulator"}, true},
		{[]string{"issue", "--cdata", "x"}, true},
		{[]string{"revoke", "tok"}, true},
	}
	for _, tc := range tests {
		e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, now: time.Now}
		root := (&app{env: e}).rootCommand(tc.args)
		cmd, args, err := root.Find(tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if got := watchesSignals(cmd, cmd.Flags().Args()); got != tc.want {
			t.Errorf("watchesSignals for %q = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// TestRunWatchesSignals: run installs the watch when the command needs it,
// and stops it when the command ends.
func TestRunWatchesSignals(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		watch bool
	}{
		{[]string{"cdata", woleetStyle(`{"cdata":"x"}`)}, false},
		{[]string{"cdata", "-"}, true},
	} {
		watched, stopped := false, false
		e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, now: time.Now,
			notify: func(ctx context.Context) (context.Context, context.CancelFunc) {
				watched = true
				ctx, cancel := context.WithCancel(ctx)
				return ctx, func() { stopped = true; cancel() }
			}}
		if code := run(context.Background(), tc.args, e); code != 0 {
			t.Fatalf("%q: exit status %d", tc.args, code)
		}
		if watched != tc.watch || stopped != tc.watch {
			t.Errorf("%q: watched %v, stopped %v; want %v", tc.args, watched, stopped, tc.watch)
		}
	}
}

// TestLazyTreeMatchesFullTree: the tree built for one subcommand holds that
// subcommand exactly as the whole tree does: same usage, flags, help and
// subcommands, all the way down.
func TestLazyTreeMatchesFullTree(t *testing.T) {
	e := &env{stdin: nil, stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, now: time.Now}
	full := (&app{env: e}).rootCommand(nil)
	if len(full.Commands()) < len((&app{}).subcommands()) {
		t.Fatalf("the full tree has %d commands", len(full.Commands()))
	}
	for _, c := range (&app{}).subcommands() {
		lazy := (&app{env: e}).rootCommand([]string{c.name, "--help"})
		want, _, err := full.Find([]string{c.name})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := lazy.Find([]string{c.name})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(lazy.Commands()) != 1 {
			t.Errorf("%s: the lazy tree has %d commands", c.name, len(lazy.Commands()))
		}
		if lazy.Version != "" || !lazy.CompletionOptions.DisableDefaultCmd {
			t.Errorf("%s: the lazy root has --version or a completion command", c.name)
		}
		var compare func(got, want *cobra.Command)
		compare = func(got, want *cobra.Command) {
			if got.UsageString() != want.UsageString() || got.Long != want.Long || got.Example != want.Example {
				t.Errorf("%s: usage differs\nlazy:\n%s\nfull:\n%s", want.CommandPath(), got.UsageString(), want.UsageString())
			}
			if len(got.Commands()) != len(want.Commands()) {
				t.Fatalf("%s: %d subcommands, want %d", want.CommandPath(), len(got.Commands()), len(want.Commands()))
			}
			for i := range got.Commands() {
				compare(got.Commands()[i], want.Commands()[i])
			}
		}
		compare(got, want)
	}
}
