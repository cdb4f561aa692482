package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// progressBar draws "label [=====     ] 3/10" on one line of a terminal,
// redrawn in place. It draws nothing unless enabled (standard error is a
// terminal), so logs and pipes never see carriage returns.
type progressBar struct {
	w       io.Writer
	enabled bool
	label   string
	drawn   bool
}

// progressWidth is the number of cells of the bar.
const progressWidth = 30

// update draws the bar for done of total.
func (p *progressBar) update(done, total int) {
	if !p.enabled || total <= 0 {
		return
	}
	filled := done * progressWidth / total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("=", filled), strings.Repeat(" ", progressWidth-filled), done, total)
	p.drawn = true
}

// clear erases the bar, so that what follows starts on a clean line.
func (p *progressBar) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// errNotConfirmed says that a question could not be asked: there is no
// terminal to ask it on.
var errNotConfirmed = errors.New("not confirmed")

// confirm asks a yes/no question on the terminal and reports whether the
// answer was yes. Without a terminal on standard input and standard error
// it asks nothing and returns errNotConfirmed. Ctrl-C (ctx ends) cancels
// the question at once, without waiting for Enter: it returns ctx's error.
func (a *app) confirm(ctx context.Context, question string) (bool, error) {
	if !a.stdinTTY || !a.stderrTTY {
		return false, errNotConfirmed
	}
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	type answer struct {
		line string
		err  error
	}
	answered := make(chan answer, 1)
	go func() { // left blocked on the terminal if Ctrl-C comes first
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		answered <- answer{line, err}
	}()
	var ans answer
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.stderr)
		return false, ctx.Err()
	case ans = <-answered:
	}
	if ans.err != nil && ans.line == "" {
		fmt.Fprintln(a.stderr)
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(ans.line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
