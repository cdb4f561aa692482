package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// onceValue is a flag's value that may be set once per command line: a
// second --cdata would otherwise silently replace the first, and a
// command meant for one customer would act on another.
type onceValue struct {
	pflag.Value
	name  string
	first string
	set   bool
}

func (v *onceValue) Set(s string) error {
	if v.set {
		if v.Value.Type() == "bool" {
			return fmt.Errorf("--%s is already given: give it once", v.name)
		}
		return fmt.Errorf("--%s is already given as %q: give it once", v.name, v.first)
	}
	v.set, v.first = true, s
	return v.Value.Set(s)
}

// Type is the wrapped value's, so that help shows the same placeholder.
func (v *onceValue) Type() string { return v.Value.Type() }

// repeatable reports whether a flag's type takes a list (string slices,
// arrays, counts), where giving it again adds to it.
func repeatable(v pflag.Value) bool {
	t := v.Type()
	return strings.HasSuffix(t, "Slice") || strings.HasSuffix(t, "Array") || t == "count"
}

// refuseRepeatedFlags makes every single-value flag of cmd and of the
// commands under it refuse a second occurrence. It is the one place that
// does so, for every command.
func refuseRepeatedFlags(cmd *cobra.Command) {
	wrap := func(f *pflag.Flag) {
		if _, done := f.Value.(*onceValue); !done && !repeatable(f.Value) {
			f.Value = &onceValue{Value: f.Value, name: f.Name}
		}
	}
	cmd.PersistentFlags().VisitAll(wrap)
	cmd.Flags().VisitAll(wrap)
	for _, c := range cmd.Commands() {
		refuseRepeatedFlags(c)
	}
}
