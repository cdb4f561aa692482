package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tokenaudit/tokenaudit/audit"
)

// The README's quick tour is run by TestREADMETour: every "$ " line of the
// shell blocks between "## A quick tour" and the next "## " heading is a
// command, and the lines after it, up to the next command or the end of
// the block, are what it prints (standard output and standard error, in
// order). The commands run in one shell, in order, in a fresh directory
// that has the repository's testdata, with the tokenaudit built for the
// tests first on PATH and a fresh HOME.
//
// What the README shows is compared with what the commands printed after
// both are normalized by tourNormalize: fingerprints and other hex
// identifiers, tokens, times, ages, ports, process IDs, sizes, the local
// user and host, and the tour's directory are replaced by placeholders,
// and column widths are ignored. Everything else must match exactly. A
// line "…" in the README stands for any number of lines. A command exits 0
// unless it shows its status ("; echo "exit $?"").

// tourStep is one command of the tour and what the README says it prints.
type tourStep struct {
	line    int // in README.md
	command string
	want    []string
}

// tourSteps extracts the quick tour's commands from the README.
func tourSteps(t *testing.T, readme string) []tourStep {
	t.Helper()
	_, tour, ok := strings.Cut(readme, "\n## A quick tour\n")
	if !ok {
		t.Fatal(`README.md has no "## A quick tour" section`)
	}
	start := strings.Count(readme[:len(readme)-len(tour)], "\n") + 1
	if i := strings.Index(tour, "\n## "); i >= 0 {
		tour = tour[:i]
	}
	var steps []tourStep
	const (
		text = iota
		shell
		other // a block of another language: not commands
	)
	in := text
	for i, line := range strings.Split(tour, "\n") {
		switch {
		case strings.HasPrefix(line, "```") && in != text:
			in = text
		case strings.HasPrefix(line, "```"):
			in = other
			if lang := strings.TrimPrefix(line, "```"); lang == "" || lang == "sh" || lang == "console" {
				in = shell
			}
		case in != shell:
		case strings.HasPrefix(line, "$ "):
			steps = append(steps, tourStep{line: start + i, command: strings.TrimPrefix(line, "$ ")})
		case len(steps) == 0:
			t.Fatalf("README.md line %d: output before any command in the quick tour: %q", start+i, line)
		default:
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, line)
		}
	}
	if len(steps) < 20 {
		t.Fatalf("the quick tour has only %d commands", len(steps))
	}
	return steps
}

// tourPlaceholders replaces what changes from run to run with names. The
// order matters: tokens first (they hold hex-like text), then times.
var tourPlaceholders = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`eyJ[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)*…?`), "<token>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "<time>"},
	{regexp.MustCompile(`[0-9a-f]{12,}(…[0-9a-f]+)?`), "<hex>"},
	{regexp.MustCompile(`\b1\d{9}\b`), "<unix time>"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:<port>"},
	{regexp.MustCompile(`process \d+`), "process <pid>"},
	{regexp.MustCompile(`\b\d+(\.\d+)? (B|KiB|MiB)\b`), "<size>"},
	{regexp.MustCompile(`(│ *)\d+[smhd]( *│)`), "$1<age>$2"},
	{regexp.MustCompile(`─+`), "─"},
	{regexp.MustCompile(` +`), " "},
}

// tourNormalize rewrites one line of output for comparison.
func tourNormalize(line string) string {
	for _, p := range tourPlaceholders {
		line = p.re.ReplaceAllString(line, p.with)
	}
	return strings.TrimRight(line, " ")
}

// tourMatch reports whether got matches want, where a want line "…"
// matches any number of lines.
func tourMatch(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "…" {
		for i := 0; i <= len(got); i++ {
			if tourMatch(want[1:], got[i:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && tourNormalize(want[0]) == tourNormalize(got[0]) && tourMatch(want[1:], got[1:])
}

// tourDirs are the directories the README's tour shows: the checkout it
// runs in and HOME.
const (
	tourReadmeDir  = "/home/ops/tokenaudit"
	tourReadmeHome = "/home/ops"
	tourReadmeUser = "ops@host"
)

func TestREADMETour(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "cut", "sed", "sqlite3"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the quick tour uses %s, which is not installed: .ci/run installs it", tool)
			}
			t.Skipf("the quick tour uses %s, which is not installed", tool)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps := tourSteps(t, string(readme))

	home := t.TempDir()
	work := filepath.Join(t.TempDir(), "tokenaudit")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testdata, filepath.Join(work, "testdata")); err != nil {
		t.Fatal(err)
	}

	var script strings.Builder
	script.WriteString("exec 2>&1\ntrap 'kill \"$" + emulatorPIDVar + "\" 2>/dev/null' EXIT\n")
	for i, s := range steps {
		// Any free port, so that the test runs beside anything on 8080.
		cmd := strings.Replace(s.command, "tokenaudit emulator --detach", "tokenaudit emulator --listen 127.0.0.1:0 --detach", 1)
		fmt.Fprintf(&script, "%s\nprintf '\\n@@tour %d %%d@@\\n' \"$?\"\n", cmd, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-c", script.String())
	sh.Dir = work
	sh.Env = []string{"HOME=" + home, "PATH=" + filepath.Dir(binary) + string(os.PathListSeparator) + os.Getenv("PATH"), "LC_ALL=C.UTF-8"}
	sh.WaitDelay = time.Second
	out, err := sh.CombinedOutput()
	// The tour kills its emulator; if the shell was killed first, do it here.
	for _, m := range regexp.MustCompile(`in the background \(process (\d+)\)`).FindAllStringSubmatch(string(out), -1) {
		pid, _ := strconv.Atoi(m[1])
		if p, err := os.FindProcess(pid); err == nil {
			t.Cleanup(func() { p.Signal(syscall.SIGTERM) })
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the tour did not finish in 2 minutes (a command hangs); it printed:\n%s", out)
	}
	if err != nil {
		t.Fatalf("the tour's shell: %v\n%s", err, out)
	}

	text := strings.NewReplacer(work, tourReadmeDir, home, tourReadmeHome, audit.LocalActor(), tourReadmeUser).Replace(string(out))
	// Each command's output ends with "\n@@tour I STATUS@@\n".
	text = "\n" + text
	marks := regexp.MustCompile(`\n@@tour (\d+) (\d+)@@\n`).FindAllStringSubmatchIndex(text, -1)
	if len(marks) != len(steps) {
		t.Fatalf("the tour ran %d of its %d commands; it printed:\n%s", len(marks), len(steps), text)
	}
	from := 0
	outputs := make([][]string, len(steps))
	for i, s := range steps {
		m := marks[i]
		// The marker's own newline ends the output: an output that ends
		// with a newline has one more.
		seg := strings.TrimSuffix(strings.TrimPrefix(text[from:m[0]], "\n"), "\n")
		from = m[1] - 1 // keep the newline that ends the marker
		if n, _ := strconv.Atoi(text[m[2]:m[3]]); n != i {
			t.Fatalf("command %d's output is in the place of command %d's", n, i)
		}
		status, _ := strconv.Atoi(text[m[4]:m[5]])
		var got []string
		if seg != "" {
			got = strings.Split(seg, "\n")
		}
		if status != 0 && !strings.Contains(s.command, "$?") {
			t.Errorf("README.md line %d: %s: exit status %d\n%s", s.line, s.command, status, seg)
		}
		outputs[i] = got
		if !tourMatch(s.want, got) && !*updateREADME {
			t.Errorf("README.md line %d: %s\nthe README shows:\n%s\nit prints:\n%s%s", s.line, s.command,
				indentLines(s.want), indentLines(got), firstDifference(s.want, got))
		}
	}
	if *updateREADME {
		writeTour(t, string(readme), steps, outputs)
	}
}

// updateREADME rewrites the quick tour's outputs in README.md with what the
// commands print (go test -run TestREADMETour -update-readme): for a
// change of behaviour that the README must now show. Only the outputs that
// no longer match are rewritten (an elision "…" is then lost: put it back
// by hand where the output is long).
var updateREADME = flag.Bool("update-readme", false, "rewrite the outputs of README.md's quick tour")

// writeTour writes README.md with each step's output replaced by outputs.
func writeTour(t *testing.T, readme string, steps []tourStep, outputs [][]string) {
	t.Helper()
	lines := strings.Split(readme, "\n")
	var out []string
	next := 0
	for i := 0; i < len(lines); i++ {
		out = append(out, lines[i])
		if next < len(steps) && steps[next].line == i+1 {
			s, got := steps[next], prettyTour(outputs[next])
			if tourMatch(s.want, outputs[next]) {
				got = s.want // still true: unchanged
			}
			out = append(out, got...)
			i += len(s.want)
			next++
		}
	}
	if err := os.WriteFile(filepath.Join("..", "..", "README.md"), []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// prettyTour makes a command's output read as a person's run would: the
// emulator on its default port, a short process ID, tokens cut short, and
// tables aligned again after the local user was replaced by the README's.
func prettyTour(lines []string) []string {
	out := make([]string, 0, len(lines))
	var table [][]string // the cells of the table being read
	flush := func() {
		if len(table) == 0 {
			return
		}
		var widths []int
		for _, row := range table {
			for i, c := range row {
				if i == len(widths) {
					widths = append(widths, 0)
				}
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
		border := func(l, m, r string) string {
			parts := make([]string, len(widths))
			for i, w := range widths {
				parts[i] = strings.Repeat("─", w+2)
			}
			return l + strings.Join(parts, m) + r
		}
		out = append(out, border("┌", "┬", "┐"))
		for i, row := range table {
			cells := make([]string, len(row))
			for j, c := range row {
				cells[j] = " " + c + strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c)) + " "
			}
			out = append(out, "│"+strings.Join(cells, "│")+"│")
			if i == 0 {
				out = append(out, border("├", "┼", "┤"))
			}
		}
		out = append(out, border("└", "┴", "┘"))
		table = nil
	}
	for _, l := range lines {
		l = regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(l, "127.0.0.1:8080")
		l = regexp.MustCompile(`process \d+`).ReplaceAllString(l, "process 4242")
		l = regexp.MustCompile(`(eyJ[A-Za-z0-9_-]{17})[A-Za-z0-9_.-]{20,}`).ReplaceAllString(l, "$1…")
		switch {
		case strings.HasPrefix(l, "│"):
			cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(l, "│"), "│"), "│")
			for i, c := range cells {
				cells[i] = strings.TrimSpace(c)
			}
			table = append(table, cells)
		case strings.HasPrefix(l, "┌"), strings.HasPrefix(l, "├"), strings.HasPrefix(l, "└"):
			if strings.HasPrefix(l, "└") {
				flush()
			}
		default:
			flush()
			out = append(out, l)
		}
	}
	flush()
	return out
}

// firstDifference names the first line where want and got differ once
// normalized, ignoring that "…" may stand for several lines.
func firstDifference(want, got []string) string {
	for i := range max(len(want), len(got)) {
		w, g := "(nothing)", "(nothing)"
		if i < len(want) {
			w = tourNormalize(want[i])
		}
		if i < len(got) {
			g = tourNormalize(got[i])
		}
		if w != g {
			return fmt.Sprintf("first difference, normalized:\n    README: %s\n    output: %s\n", w, g)
		}
	}
	return ""
}

// indentLines renders lines for a failure message.
func indentLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	return b.String()
}

// tokenArgument matches a command line that gives a token-taking command a
// token as an argument (a variable, a command substitution or a token's
// text), where ps shows it.
var tokenArgument = regexp.MustCompile(`tokenaudit (inspect|cdata|fingerprint|verify|revoke|import)\b[^|;<>()]*?\s"?(\$[({A-Za-z_]|eyJ)`)

// readmeCodeLines returns the lines of README.md's code blocks, of every
// language, with their line numbers.
func readmeCodeLines(t *testing.T) map[int]string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := map[int]string{}
	in := false
	for i, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "```") {
			in = !in
		} else if in {
			lines[i+1] = l
		}
	}
	return lines
}

func TestExamplesPassTokensSafely(t *testing.T) {
	if !tokenArgument.MatchString(`$ tokenaudit revoke "$T"`) || !tokenArgument.MatchString(`tokenaudit verify eyJhbGciOi --key k`) ||
		tokenArgument.MatchString(`printf '%s\n' "$T" | tokenaudit revoke -`) || tokenArgument.MatchString(`tokenaudit inspect @acme.token`) {
		t.Fatal("tokenArgument does not tell the forms apart")
	}
	for n, l := range readmeCodeLines(t) {
		if tokenArgument.MatchString(l) {
			t.Errorf("README.md line %d passes a token as an argument, which ps shows: %s", n, l)
		}
	}
	for _, path := range commandPaths(t) {
		help := cli(t, "", nil, append(path, "--help")...).stdout
		for _, l := range strings.Split(help, "\n") {
			if tokenArgument.MatchString(l) {
				t.Errorf("%s --help passes a token as an argument, which ps shows: %s", strings.Join(path, " "), l)
			}
		}
	}
	readme, _ := os.ReadFile(filepath.Join("..", "..", "README.md"))
	_, security, _ := strings.Cut(string(readme), "\n## Security\n")
	security, _, _ = strings.Cut(security, "\n## ")
	for _, want := range []string{"not as arguments", "`ps`", "standard input"} {
		if !strings.Contains(security, want) {
			t.Errorf("the README's Security section does not say why tokens go on standard input (%q)", want)
		}
	}
}

func TestREADMEOpensLedgerReadOnly(t *testing.T) {
	sqlite := regexp.MustCompile(`(^|[\s$|(])sqlite3\s`)
	n := 0
	for line, l := range readmeCodeLines(t) {
		if !sqlite.MatchString(l) {
			continue
		}
		n++
		if !strings.Contains(l, "mode=ro") {
			t.Errorf("README.md line %d runs sqlite3 on the ledger without mode=ro: %s", line, l)
		}
	}
	if n < 2 {
		t.Errorf("README.md shows sqlite3 %d times", n)
	}
	readme, _ := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if !strings.Contains(string(readme), "deletes its `-wal` and `-shm` files") {
		t.Error("README.md does not say why sqlite3 opens the ledger read-only")
	}
}

func TestEmulatorDetachForEval(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	// What the emulator's help and the README do: eval "$(… --detach)",
	// which must return at once, with the emulator serving behind it.
	script := `eval "$(tokenaudit emulator --listen 127.0.0.1:0 --detach --key-file issuer.pem)" || exit 9
echo "first=$` + emulatorPIDVar + ` $WOLEET_API_URL"
tokenaudit issue --cdata detached > t.token || exit 8
tokenaudit verify --key issuer.pem @t.token || exit 7
eval "$(tokenaudit emulator --listen 127.0.0.1:0 --detach --key-file issuer.pem 2>second.txt)" || exit 6
echo "second=$` + emulatorPIDVar + ` $WOLEET_API_URL"`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sh := exec.CommandContext(ctx, "sh", "-c", script)
	sh.Dir = dir
	sh.Env = []string{"HOME=" + dir, "TOKENAUDIT_DB=" + filepath.Join(dir, "l.db"),
		"PATH=" + filepath.Dir(binary) + string(os.PathListSeparator) + os.Getenv("PATH")}
	sh.WaitDelay = time.Second
	out, err := sh.CombinedOutput()
	started := map[string]string{} // pid: URL
	for _, m := range regexp.MustCompile(`(?m)^(?:first|second)=(\d+) (\S+)$`).FindAllStringSubmatch(string(out), -1) {
		started[m[1]] = m[2]
	}
	t.Cleanup(func() {
		for pid := range started {
			n, _ := strconv.Atoi(pid)
			if p, err := os.FindProcess(n); err == nil {
				p.Kill()
			}
		}
	})
	if ctx.Err() != nil {
		t.Fatalf("eval \"$(tokenaudit emulator --detach)\" hangs:\n%s", out)
	}
	if err != nil || len(started) != 2 {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		`tokenaudit: wrote a new ES256 signing key to issuer.pem: "tokenaudit verify --key issuer.pem" verifies the emulator's tokens`,
		"in the background (process ",
		"); stop it with: kill $" + emulatorPIDVar,
		"✓ valid: genuine and valid now (t.token line 1)\n  verified by  issuer.pem (EC P-256)\n  algorithm    ES256",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if second, _ := os.ReadFile(filepath.Join(dir, "second.txt")); bytes.Contains(second, []byte("wrote a new")) {
		t.Errorf("a second emulator with the same --key-file made a new key: %s", second)
	}
	if fi, err := os.Stat(filepath.Join(dir, "issuer.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("issuer.pem: %v %v", fi.Mode(), err)
	}
	// kill $TOKENAUDIT_EMULATOR_PID stops it: its port closes.
	for pid, url := range started {
		n, _ := strconv.Atoi(pid)
		p, _ := os.FindProcess(n)
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("the background emulator is not running: %v", err)
		}
		host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/v1")
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", host, time.Second)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Errorf("the emulator at %s still answers after kill", url)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
