// Package runson decides where a Linux bundle is started besides the runtime it was built for
// (the runtime matrix), judges each start, and words the report's runs-on rows.
//
// A trixie-built bundle needs glibc 2.38, so "it starts in a clean trixie container" says
// nothing about the Debian 12 or Ubuntu 22.04 desktops an Electron app is installed on. The
// matrix starts the same bundle on older runtimes too (verify and health there) and records
// what happened: a bundle that does not run on an older system is a fact of the report, not a
// build failure, unless it must run there — its own builder's runtime, or one whose glibc the
// glibc target (the `glibc` key) covers.
//
// The executors only run containers: which runtimes, how a start is judged and what the
// report says are decided here, without an engine.
package runson

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// Default are the runtimes a bundle is started on besides its base image: Debian 11 (glibc
// 2.31) and Debian 12 (2.36), with the base (debian:trixie-slim, 2.41) the three Debian
// releases in support. The oldest is what a demanding user asks about first: Ubuntu 22.04 LTS
// (2.35) and RHEL 9 (2.34) sit between them, so a bundle that runs on Debian 11 runs there
// too as far as glibc goes. Offline, ci/engine publishes both under these public names.
var Default = []string{"debian:bullseye-slim", "debian:bookworm-slim"}

// Runtime is one image of the matrix.
type Runtime struct {
	// Image is a container image reference, e.g. debian:bullseye-slim.
	Image string
	// Base is the builder's own runtime (the module's base image): the bundle must run there,
	// and its start is the build's own verify and health, not a second one.
	Base bool
}

// Matrix is the runtimes a bundle is started on: the base image first, then the given images
// (Default when none are given), each once. Giving the base image alone checks only it. An
// empty or blank reference, or one with spaces or commas (a list pasted as one value), is an
// error naming it, before anything runs.
func Matrix(base string, given []string) ([]Runtime, error) {
	if given == nil {
		given = Default
	}
	out := []Runtime{{Image: base, Base: true}}
	for _, img := range given {
		if img == "" || strings.ContainsAny(img, " \t\r\n,") {
			return nil, fmt.Errorf("runtimes: %q is not an image reference (one image per value, e.g. debian:bullseye-slim)", img)
		}
		if !slices.ContainsFunc(out, func(r Runtime) bool { return r.Image == img }) {
			out = append(out, Runtime{Image: img})
		}
	}
	return out, nil
}

// SkipEmulated is why a target built under emulation is started on its base runtime alone: a
// start under QEMU takes ~40 s against ~1 s native, its timings say nothing about a real
// machine, and the offline registry has the older runtimes for linux/amd64 only. A native
// engine of that architecture (or a linux runner) starts it on the whole matrix.
const SkipEmulated = "emulated target: started on its base runtime only (a native engine of this architecture runs the whole matrix)"

// Skip says whether rt is left out for a target, and why ("" = started there). The base is
// never left out: it is the build's own check.
func (rt Runtime) Skip(emulated bool) string {
	if emulated && !rt.Base {
		return SkipEmulated
	}
	return ""
}

// Skipped is the row of a runtime left out, with why.
func Skipped(rt Runtime, why string) report.RunsOn {
	return report.RunsOn{Runtime: rt.Image, Skipped: why, Detail: "not started: " + why}
}

// VerifyOptions are verify's settings on rt, from the build's own (plan.Build.VerifyOptions):
// the same bundle and modules, but the glibc target is judged once, by the build's own verify,
// so another runtime's row says only whether the bundle runs there.
func (rt Runtime) VerifyOptions(o verify.Options) verify.Options {
	if !rt.Base {
		o.GlibcTarget = ""
	}
	return o
}

// Start is what an executor found starting the bundle on one runtime: verify's result there
// and health's (nil when it was not started).
type Start struct {
	Verify verify.Result
	Health *health.Result
}

// maxFloorFrom bounds the files a row names as holding its floor (the bundle's verify result
// has them all).
const maxFloorFrom = 20

// Judge is rt's row from the start there. OK means verify's checks passed (but no-python: a
// runtime that happens to have Python still answers whether the bundle runs) and the backend
// reached health. Required when rt is the base, or when the glibc target is set and the
// runtime's glibc is at least the target: the user said the bundle must run there. A failed
// row names, from verify's static data, the first glibc version the runtime lacks in the
// order a start meets the files (the executable, libpython, the rest) and the file needing
// it, and the newest version it lacks with the files needing that (what holds the floor);
// then what the real start said (the loader's message).
func Judge(rt Runtime, glibcTarget string, s Start) report.RunsOn {
	v := s.Verify
	row := report.RunsOn{Runtime: rt.Image, Name: v.OS, Glibc: v.RuntimeGlibc, Required: required(rt, glibcTarget, v.RuntimeGlibc)}
	if len(v.GlibcMissing) > 0 {
		first := v.GlibcMissing[0]
		row.Missing, row.MissingFrom = "GLIBC_"+first.Versions[len(first.Versions)-1], first.File
		floor := ""
		for _, n := range v.GlibcMissing {
			if top := n.Versions[len(n.Versions)-1]; verify.CompareVersions(top, floor) > 0 {
				floor = top
			}
		}
		row.Floor = "GLIBC_" + floor
		for _, n := range v.GlibcMissing {
			if n.Versions[len(n.Versions)-1] == floor && len(row.FloorFrom) < maxFloorFrom {
				row.FloorFrom = append(row.FloorFrom, n.File)
			}
		}
	}
	failed := failedCheck(v)
	h := s.Health
	row.OK = failed == nil && h != nil && h.OK
	if row.OK {
		ms := h.MedianMS
		row.StartupMS = &ms
		row.Detail = fmt.Sprintf("healthy after %.0f ms", h.MedianMS)
		if h.Emulated {
			row.Detail += " (emulated)"
		}
		return row
	}
	var parts []string
	if row.Missing != "" {
		parts = append(parts, fmt.Sprintf("glibc %s lacks %s, needed first by %s; the newest it lacks, %s, is needed by %s; %d file(s) need a glibc newer than %s",
			v.RuntimeGlibc, row.Missing, row.MissingFrom, row.Floor, strings.Join(row.FloorFrom, ", "), len(v.GlibcMissing), v.RuntimeGlibc))
	} else if failed != nil {
		parts = append(parts, fmt.Sprintf("check %s failed: %s", failed.Name, failed.Detail))
	}
	switch {
	case h == nil:
		parts = append(parts, "not started")
	case !h.OK:
		start := "the start: " + or(h.Reason, "failed")
		if l := loaderLine(h.LogTail); l != "" {
			start += ": " + l
		}
		parts = append(parts, start)
	}
	row.Detail = strings.Join(parts, "; ")
	return row
}

// required says whether the bundle must run on rt: its own base, or a runtime whose glibc
// the glibc target covers (a runtime of unknown glibc is covered by nothing).
func required(rt Runtime, glibcTarget, glibc string) bool {
	return rt.Base || (glibcTarget != "" && glibc != "" && verify.CompareVersions(glibc, glibcTarget) >= 0)
}

// failedCheck is verify's first failed check that says the bundle does not run here (nil if
// none): every check but no-python, which judges the runtime, not the bundle.
func failedCheck(v verify.Result) *verify.Check {
	for _, c := range v.Checks {
		if !c.OK && c.Name != verify.CheckNoPython {
			return &c
		}
	}
	if len(v.Checks) == 0 {
		return &verify.Check{Name: "verify", Detail: "no check ran"}
	}
	return nil
}

// maxLoaderLine bounds the loader's line quoted in a row.
const maxLoaderLine = 300

// pythonException matches the last line of a Python traceback: "OSError: …", "ModuleNotFoundError: …".
var pythonException = regexp.MustCompile(`^[A-Za-z_][\w.]*(Error|Exception|Exit):`)

// loaderLine is the line of a failed start's output that says why it failed: the dynamic
// loader's (or PyInstaller bootloader's) "version `GLIBC_2.38' not found (required by …)",
// else the last Python exception, else the last line mentioning an error or something not
// found, else the last line.
func loaderLine(tail []string) string {
	pick := ""
	for _, match := range []func(string) bool{
		func(l string) bool { return strings.Contains(l, "GLIBC_") && strings.Contains(l, "not found") },
		func(l string) bool { return pythonException.MatchString(strings.TrimSpace(l)) },
		func(l string) bool {
			l = strings.ToLower(l)
			return strings.Contains(l, "error") || strings.Contains(l, "not found")
		},
		func(l string) bool { return strings.TrimSpace(l) != "" },
	} {
		for i := len(tail) - 1; i >= 0 && pick == ""; i-- {
			if match(tail[i]) {
				pick = tail[i]
			}
		}
	}
	pick = strings.TrimSpace(pick)
	if r := []rune(pick); len(r) > maxLoaderLine {
		pick = string(r[:maxLoaderLine-1]) + "…"
	}
	return pick
}

// Sort orders rows oldest glibc first (rows of unknown glibc, skipped ones, first), then by
// image: report.json stays deterministic and reads from the oldest system up.
func Sort(rows []report.RunsOn) []report.RunsOn {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b report.RunsOn) int {
		if c := verify.CompareVersions(a.Glibc, b.Glibc); c != 0 {
			return c
		}
		return strings.Compare(a.Runtime, b.Runtime)
	})
	return out
}

// Failure is the first required row that failed and the build error's reason for it (ok
// false when every required row passed): a bundle that must run somewhere and does not
// fails the build.
func Failure(rows []report.RunsOn, glibcTarget string) (row report.RunsOn, reason string, failed bool) {
	for _, r := range rows {
		if !r.Required || r.OK || r.Skipped != "" {
			continue
		}
		why := "its builder's own runtime"
		if glibcTarget != "" && r.Glibc != "" && verify.CompareVersions(r.Glibc, glibcTarget) >= 0 {
			why = fmt.Sprintf("glibc %s and the glibc target is %s", r.Glibc, glibcTarget)
		}
		return r, fmt.Sprintf("does not run on %s (%s, glibc %s), which it must (%s): %s", or(r.Name, r.Runtime), r.Runtime, or(r.Glibc, "unknown"), why, r.Detail), true
	}
	return report.RunsOn{}, "", false
}

// or is s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
