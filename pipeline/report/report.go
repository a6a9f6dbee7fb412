// Package report collects one entry per built target (size, digest, start-up
// time, glibc floor, versions, checks) into the document a release ships with.
//
// The report is deterministic: entries are sorted by target and mode, fields
// have a fixed order, maps are emitted sorted, and nothing time-of-day is
// recorded, so two identical builds give identical reports except for the
// measured durations (duration_ms and the start-up times).
package report

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/pybundle/pybundle/pipeline/collect"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/trace"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// Check is one named check and its outcome; it is the verify stage's type so
// its results go into a report as they are (health adds a "health" check).
type Check = verify.Check

// Entry is one target's result.
type Entry struct {
	Target   string `json:"target"`   // platform, e.g. "linux/amd64"
	Mode     string `json:"mode"`     // "onefile" | "onedir"
	Artifact string `json:"artifact"` // path inside dist/

	SizeBytes int64  `json:"size_bytes"`
	SHA256    string `json:"sha256"` // the executable's
	// BundleSHA256 digests the whole bundle (Manifest.SHA256); Manifest lists every file.
	BundleSHA256 string           `json:"bundle_sha256,omitempty"`
	Manifest     *verify.Manifest `json:"manifest,omitempty"`
	// SBOM is the target's CycloneDX document (path inside dist/) and SBOMSHA256 its digest.
	SBOM       string `json:"sbom,omitempty"`
	SBOMSHA256 string `json:"sbom_sha256,omitempty"`

	// StartupMS is the (median) time to a healthy /api/health; nil when not
	// measured. Min and max are set for benchmarks of several runs.
	StartupMS    *float64 `json:"startup_ms"`
	StartupMinMS *float64 `json:"startup_min_ms,omitempty"`
	StartupMaxMS *float64 `json:"startup_max_ms,omitempty"`
	Emulated     bool     `json:"emulated"` // measured under QEMU: not comparable with native times

	GlibcFloor   string `json:"glibc_floor"`
	RuntimeGlibc string `json:"runtime_glibc"`
	// RunsOn is the bundle's start on each runtime of the matrix, oldest glibc first.
	RunsOn []RunsOn `json:"runs_on,omitempty"`

	Python      string `json:"python"`
	PyInstaller string `json:"pyinstaller"`
	// Bootloader is the PyInstaller bootloader the bundle starts with: "static" (pybundle's,
	// libpython linked in, no libpython3.13.so in the bundle) or "stock" (PyInstaller's).
	Bootloader    string            `json:"bootloader,omitempty"`
	Packages      map[string]string `json:"packages,omitempty"` // pinned builder packages → version
	HiddenImports []string          `json:"hidden_imports,omitempty"`
	// Start is how the backend is started ("main.py", "-m app", "app.main:app"), and why.
	Start string `json:"start,omitempty"`
	// OwnModules counts the backend's own modules collected.
	OwnModules int `json:"own_modules,omitempty"`
	// Data is the data collected from the source (count, bytes, the largest files).
	Data *collect.Summary `json:"data,omitempty"`
	// Trace is what tracing the backend from source added.
	Trace *trace.Additions `json:"trace,omitempty"`

	DurationMS int64   `json:"duration_ms"`
	Checks     []Check `json:"checks"`
	Builder    string  `json:"builder"` // "dagger" | "runner:<host>"
}

// key identifies an entry: one build per target and mode.
func (e Entry) key() string { return e.Target + " " + e.Mode }

// OK reports whether the entry has checks and every one passed: an entry with no checks
// vouches for nothing.
func (e Entry) OK() bool {
	if len(e.Checks) == 0 {
		return false
	}
	for _, c := range e.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// The tool that writes reports. Reports merge only when both name the same version: entries
// of different pybundle versions are not comparable.
const (
	ToolName    = "pybundle"
	ToolVersion = "0.2.0"
)

// New is an empty report of this tool and version.
func New() Report { return Report{Tool: ToolName, Version: ToolVersion, Entries: []Entry{}} }

// Report is the whole document.
type Report struct {
	Tool    string  `json:"tool"`    // "pybundle"
	Version string  `json:"version"` // the tool's version, not the app's
	Entries []Entry `json:"entries"`
	// Packages holds the package stage's checks per electron-builder output.
	Packages []Package `json:"packages,omitempty"`
}

// Package is one electron-builder output (or the packaged app's start) and its checks.
type Package struct {
	Target      string  `json:"target"`
	Name        string  `json:"name"` // e.g. peft-desktop_0.1.0_amd64.deb
	Kind        string  `json:"kind"` // dir | tar.gz | deb | … | start
	BackendPath string  `json:"backend_path,omitempty"`
	Checks      []Check `json:"checks"`
}

// OK reports whether every check of every entry passed.
func (r Report) OK() bool {
	for _, e := range r.Entries {
		if !e.OK() {
			return false
		}
	}
	for _, p := range r.Packages {
		for _, c := range p.Checks {
			if !c.OK {
				return false
			}
		}
	}
	return true
}

// Add inserts e keeping the entries sorted by Target, then Mode (after any
// equal ones: Merge and Parse are where duplicates are refused). Its
// HiddenImports are sorted too, as a set they have no meaningful order.
func (r *Report) Add(e Entry) {
	if e.HiddenImports != nil {
		e.HiddenImports = slices.Clone(e.HiddenImports)
		slices.Sort(e.HiddenImports)
	}
	i, _ := slices.BinarySearchFunc(r.Entries, e, func(have, want Entry) int {
		if c := compare(have, want); c != 0 {
			return c
		}
		return -1 // place after equal keys
	})
	r.Entries = slices.Insert(r.Entries, i, e)
}

func compare(a, b Entry) int {
	if c := strings.Compare(a.Target, b.Target); c != 0 {
		return c
	}
	return strings.Compare(a.Mode, b.Mode)
}

// Merge combines two reports, e.g. a macOS runner's results into the Linux report. Both must
// name the same tool and version: a report without them, or of another pybundle version, is
// refused. A target and mode present in both is an error naming it and both builders.
func Merge(a, b Report) (Report, error) {
	for _, r := range []Report{a, b} {
		if r.Tool != ToolName || r.Version == "" {
			return Report{}, fmt.Errorf("report: not a %s report (tool %q, version %q)", ToolName, r.Tool, r.Version)
		}
	}
	if a.Version != b.Version {
		return Report{}, fmt.Errorf("report: cannot merge version %q with version %q", a.Version, b.Version)
	}
	out := Report{Tool: a.Tool, Version: a.Version, Entries: []Entry{}}
	seen := map[string]Entry{}
	for _, e := range slices.Concat(a.Entries, b.Entries) {
		t, err := target.Parse(e.Target)
		if err != nil {
			return Report{}, fmt.Errorf("report: entry %q: %v", e.Target, err)
		}
		e.Target = t.String() // Linux/AMD64 and linux/amd64 are one target
		if prev, dup := seen[e.key()]; dup {
			return Report{}, fmt.Errorf("report: duplicate entry for target %s mode %s (builders %q and %q)", e.Target, e.Mode, prev.Builder, e.Builder)
		}
		seen[e.key()] = e
		out.Add(e)
	}
	out.Packages = slices.Concat(a.Packages, b.Packages)
	return out, nil
}

// JSON encodes the report indented, with a trailing newline (a file that diffs
// cleanly).
func (r Report) JSON() ([]byte, error) {
	if r.Entries == nil {
		r.Entries = []Entry{}
	}
	pkgs := append([]Package(nil), r.Packages...)
	sort.SliceStable(pkgs, func(i, j int) bool {
		if pkgs[i].Target != pkgs[j].Target {
			return pkgs[i].Target < pkgs[j].Target
		}
		return pkgs[i].Name < pkgs[j].Name
	})
	r.Packages = pkgs
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return append(b, '\n'), nil
}

// Parse decodes a report and puts it in canonical order. Unknown fields are
// ignored so an older pybundle can read a newer runner's report; duplicate
// entries are an error, as in Merge.
func Parse(b []byte) (Report, error) {
	var in Report
	if err := json.Unmarshal(b, &in); err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	return Merge(Report{Tool: in.Tool, Version: in.Version}, in)
}

// Table renders a readable, aligned summary with one line per entry:
// TARGET MODE SIZE SHA256 STARTUP GLIBC PYTHON PYINSTALLER CHECKS; then, when entries have
// runs-on rows, one line per entry and runtime (TARGET MODE RUNS ON GLIBC RESULT); then the
// packages.
func (r Report) Table() string {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TARGET\tMODE\tSIZE\tSHA256\tSTARTUP\tGLIBC\tPYTHON\tPYINSTALLER\tCHECKS")
	for _, e := range r.Entries {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			dash(e.Target), dash(e.Mode), mib(e.SizeBytes), dash(short(e.SHA256)), startup(e),
			dash(e.GlibcFloor), dash(e.Python), dash(e.PyInstaller), checks(e.Checks))
	}
	w.Flush()
	r.writeRunsOnTable(&sb)
	if len(r.Packages) > 0 {
		sb.WriteString("\n")
		w = tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "TARGET\tPACKAGE\tKIND\tBACKEND\tCHECKS")
		for _, p := range r.Packages {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", dash(p.Target), dash(p.Name), dash(p.Kind), dash(p.BackendPath), checks(p.Checks))
		}
		w.Flush()
	}
	return sb.String()
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// startup shows native times in ms and emulated ones in seconds, marked, so
// nobody compares a QEMU time with a native one.
func startup(e Entry) string {
	switch {
	case e.StartupMS == nil:
		return "-"
	case e.Emulated:
		return fmt.Sprintf("%.1f s (emulated)", *e.StartupMS/1000)
	}
	return fmt.Sprintf("%.0f ms", *e.StartupMS)
}

func checks(cs []Check) string {
	var failed []string
	for _, c := range cs {
		if !c.OK {
			failed = append(failed, c.Name)
		}
	}
	if len(cs) == 0 {
		return "-"
	}
	if len(failed) == 0 {
		return fmt.Sprintf("%d/%d ok", len(cs), len(cs))
	}
	return fmt.Sprintf("%d/%d FAIL: %s", len(cs)-len(failed), len(cs), strings.Join(failed, ","))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// MaxSize bounds a report.json read from a folder or a runner: far above any real one.
const MaxSize = 16 << 20

// Verified returns the entry of target t, which must exist and have passed every check: only
// a backend the report vouches for is packaged (Property 4: build → verify → package).
func (r Report) Verified(t target.Target) (Entry, error) {
	var have []string
	for _, e := range r.Entries {
		if e.Target != t.String() {
			have = append(have, e.Target)
			continue
		}
		if !e.OK() {
			var bad []string
			for _, c := range e.Checks {
				if !c.OK {
					bad = append(bad, c.Name)
				}
			}
			if len(e.Checks) == 0 {
				bad = []string{"none run"}
			}
			return e, fmt.Errorf("the backend for %s did not pass verification (failed: %s): refusing to package it", t, strings.Join(bad, ", "))
		}
		return e, nil
	}
	if len(have) == 0 {
		have = []string{"none"}
	}
	return Entry{}, fmt.Errorf("no verified backend for %s in report.json (it has: %s): build it with --platforms %s (or pybundle-runner build on that machine) and pass that output",
		t, strings.Join(have, ", "), t)
}
