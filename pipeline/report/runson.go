package report

import (
	"fmt"
	"path"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// RunsOn is a bundle's start on one runtime of the matrix (pipeline/runson decides and judges
// it): a fact about where the bundle runs, a build failure only when Required.
type RunsOn struct {
	// Runtime is the image it was started in, e.g. debian:bullseye-slim.
	Runtime string `json:"runtime"`
	// Name is that system as its os-release names it, e.g. "Debian 11 (bullseye)".
	Name string `json:"name,omitempty"`
	// Glibc is the runtime's glibc.
	Glibc string `json:"glibc,omitempty"`
	// OK: verified and healthy there.
	OK bool `json:"ok"`
	// Required: the bundle must run there (the builder's own runtime, or one the glibc target
	// covers); a report never holds a required row that failed, the build did.
	Required bool `json:"required,omitempty"`
	// Skipped says why the bundle was not started there (OK is false then, and means nothing).
	Skipped   string   `json:"skipped,omitempty"`
	StartupMS *float64 `json:"startup_ms,omitempty"`
	// Missing is the first glibc symbol version the runtime lacks, in the order a start meets
	// the bundle's files (the executable, libpython, the rest), and MissingFrom the file that
	// needs it: where a start there stops ("GLIBC_2.34", "peft_engine").
	Missing     string `json:"missing,omitempty"`
	MissingFrom string `json:"missing_from,omitempty"`
	// Floor is the newest glibc version the bundle needs and the runtime lacks, and FloorFrom
	// the files needing it: what holds the bundle above this runtime ("GLIBC_2.38", libpython…).
	Floor     string   `json:"floor,omitempty"`
	FloorFrom []string `json:"floor_from,omitempty"`
	// Detail is the whole story in words (the loader's message on a failed start).
	Detail string `json:"detail"`
}

// runsOnHeader is the header of the runs-on table, Table's and Markdown's.
var runsOnHeader = []string{"TARGET", "MODE", "RUNS ON", "GLIBC", "RESULT"}

// runsOnRows are the cells of the runs-on table: one row per entry and runtime, nil when no
// entry has any (a runner's entries, a report of an older pybundle): the table is then left out.
func (r Report) runsOnRows() [][]string {
	var rows [][]string
	for _, e := range r.Entries {
		for _, o := range e.RunsOn {
			rows = append(rows, []string{dash(e.Target), dash(e.Mode), dash(or(o.Name, o.Runtime)), dash(o.Glibc), o.Result()})
		}
	}
	return rows
}

// writeRunsOnTable writes Table's runs-on table (nothing without rows).
func (r Report) writeRunsOnTable(sb *strings.Builder) {
	rows := r.runsOnRows()
	if len(rows) == 0 {
		return
	}
	sb.WriteString("\n")
	w := tabwriter.NewWriter(sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(runsOnHeader, "\t"))
	for _, row := range rows {
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	w.Flush()
}

// maxFloorFrom bounds the files a RESULT cell names (the JSON has them all).
const maxFloorFrom = 3

// Result is the row's RESULT cell: "ok, 812 ms"; "no: needs GLIBC_2.38 (libpython3.13.so.1.0,
// libcrypto.so.3, … and 5 more)" when the first version missing is the newest, else "no: needs
// GLIBC_2.34 (peft_engine) first, GLIBC_2.38 (libpython3.13.so.1.0, …)", files by base name;
// "no: " and the detail's start for a failure glibc does not explain; "skipped: " and why.
func (o RunsOn) Result() string {
	switch {
	case o.Skipped != "":
		return "skipped: " + o.Skipped
	case o.OK && o.StartupMS != nil:
		return fmt.Sprintf("ok, %.0f ms", *o.StartupMS)
	case o.OK:
		return "ok"
	case o.Floor != "":
		var names []string
		for _, f := range o.FloorFrom[:min(len(o.FloorFrom), maxFloorFrom)] {
			names = append(names, path.Base(f))
		}
		more := ""
		if len(o.FloorFrom) > maxFloorFrom {
			more = fmt.Sprintf(" and %d more", len(o.FloorFrom)-maxFloorFrom)
		}
		floor := fmt.Sprintf("%s (%s%s)", o.Floor, strings.Join(names, ", "), more)
		if o.Missing == "" || o.Missing == o.Floor {
			return "no: needs " + floor
		}
		return fmt.Sprintf("no: needs %s (%s) first, %s", o.Missing, path.Base(o.MissingFrom), floor)
	}
	return "no: " + clip(firstLine(or(o.Detail, "failed")), 100)
}

// or is s, or def when s is empty: a row without a name shows its image.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// firstLine is s up to its first line break: a table cell is one line.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
