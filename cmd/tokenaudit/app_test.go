package main

import (
	"io"
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
		if got := invokedCommand(tc.args, commands); got != tc.want {
			t.Errorf("invokedCommand(%q) = %q, want %q", tc.args, got, tc.want)
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
