// Package diagnose turns the raw output of a failed stage into one error a person can act on:
// it names the stage, the target and, where the output reveals it, the source file and line.
// A build tool that answers "exit code 1" and 400 lines of log is a tool people script around.
package diagnose

import (
	"fmt"
	"regexp"
	"strings"
)

// Error is a stage failure. Its message reads
//
//	compile linux/amd64: main.py:3: SyntaxError: invalid syntax
//
// followed by the last lines of the tool's output.
type Error struct {
	Stage  string   `json:"stage"`          // plan, compile, verify, health, package…
	Target string   `json:"target"`         // linux/amd64
	File   string   `json:"file,omitempty"` // source-relative file, when known
	Line   int      `json:"line,omitempty"`
	Reason string   `json:"reason"`
	Tail   []string `json:"tail,omitempty"` // last lines of the tool's output
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Stage, e.Target)
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if len(e.Tail) > 0 {
		b.WriteString("\n  last output:\n    ")
		b.WriteString(strings.Join(e.Tail, "\n    "))
	}
	return b.String()
}

// Tail returns the last n non-empty lines of s.
func Tail(s string, n int) []string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

var (
	guardRe   = regexp.MustCompile(`PYBUNDLE BUILD CHECK FAILED:\s*(.*)`)
	pyFileRe  = regexp.MustCompile(`File "([^"]+)", line (\d+)`)
	excRe     = regexp.MustCompile(`^(\w+(?:Error|Exception|Exit)): ?(.*)$`)
	hiddenRe  = regexp.MustCompile(`ERROR: Hidden import '([^']+)' not found`)
	scriptRe  = regexp.MustCompile(`(?:script|file) '?([^' ]+\.py)'? (?:not found|does not exist)`)
	lastLineN = 15
)

// Compile explains a failed PyInstaller run. srcRoot is where the source was mounted in the
// builder (e.g. /src): paths under it are reported relative to the user's source folder.
func Compile(target, srcRoot, output string) *Error {
	e := &Error{Stage: "compile", Target: target, Tail: Tail(output, lastLineN)}
	rel := func(p string) string {
		return strings.TrimPrefix(strings.TrimPrefix(p, strings.TrimSuffix(srcRoot, "/")), "/")
	}
	if m := guardRe.FindStringSubmatch(output); m != nil {
		e.Reason = "build check failed: " + strings.TrimSpace(m[1])
		return e
	}
	lines := strings.Split(output, "\n")
	// The innermost frame in the user's source, then the exception line that follows it.
	for i := len(lines) - 1; i >= 0; i-- {
		m := pyFileRe.FindStringSubmatch(lines[i])
		if m == nil || !strings.HasPrefix(m[1], srcRoot) || strings.HasSuffix(m[1], ".spec") {
			continue
		}
		e.File = rel(m[1])
		fmt.Sscan(m[2], &e.Line)
		for _, l := range lines[i+1:] {
			if x := excRe.FindStringSubmatch(strings.TrimSpace(l)); x != nil {
				e.Reason = x[1] + ": " + x[2]
				return e
			}
		}
		e.Reason = "PyInstaller failed while analysing this file"
		return e
	}
	if m := scriptRe.FindStringSubmatch(output); m != nil {
		e.File = rel(m[1])
		e.Reason = "entry point not found"
		return e
	}
	if m := hiddenRe.FindStringSubmatch(output); m != nil {
		e.Reason = "hidden import not found: " + m[1]
		return e
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if x := excRe.FindStringSubmatch(strings.TrimSpace(lines[i])); x != nil {
			e.Reason = x[1] + ": " + x[2]
			return e
		}
	}
	e.Reason = "PyInstaller failed"
	return e
}

// TailBuffer is an io.Writer that keeps only the last Max bytes written to it: a child
// process's output, bounded, for the error that follows its failure.
type TailBuffer struct {
	Max int
	buf []byte
}

func (t *TailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.Max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// Bytes is what was kept.
func (t *TailBuffer) Bytes() []byte { return t.buf }

// GoTestFailures keeps what `go test` printed about failures: every "--- FAIL" line with the
// indented lines under it (the test's own messages), a panic's first lines, and the
// "FAIL <package>" summaries, at most max lines. A failed run of many packages prints pages of
// "ok" lines; the failure is what a check's error should carry.
func GoTestFailures(out string, max int) []string {
	var keep []string
	inFail, panicLines := false, 0
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimLeft(l, " \t")
		switch {
		case strings.HasPrefix(t, "--- FAIL"):
			inFail = true
			keep = append(keep, l)
		case strings.HasPrefix(l, "panic:"):
			inFail, panicLines = false, 12
			keep = append(keep, l)
		case panicLines > 0 && t != "":
			panicLines--
			keep = append(keep, l)
		case strings.HasPrefix(l, "FAIL"):
			inFail = false
			keep = append(keep, l)
		case inFail && t != "" && t != l: // indented: the failing test's own output
			keep = append(keep, l)
		case t == l: // anything else unindented ends a failure's block
			inFail = false
		}
		if len(keep) >= max {
			return append(keep[:max], "…")
		}
	}
	return keep
}
