package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// NoPythonSkipped is the no-python check's detail on a runner. The runner host has Python by
// definition (it builds with it), so "the bundle starts on a machine without Python" cannot be
// shown here; verify.Run is given an empty, non-nil PythonSearchDirs (it searches nothing and
// passes) and the runner records the check as skipped, OK, with this detail. The proof that a
// bundle is self-contained stays the Linux targets' clean container; on macOS/Windows the
// imports check still runs the frozen app with only its own bundle.
const NoPythonSkipped = "skipped: native runner: Python present by design"

// nativeChecks turns verify's checks into the report's, adapted to a runner on goos:
//
//   - no-python: replaced by NoPythonSkipped (see there).
//   - glibc on darwin/windows: verify treats files that are not ELF (Mach-O, PE) as having no
//     GLIBC_x.y needs, so the check passes there ("no GLIBC_x.y needs in N file(s)"); it is
//     kept, with the reason appended.
//   - executable on windows: verify requires a Unix execute bit, which Go never reports for a
//     file on Windows, so the check fails and verify stops before imports and glibc. That is a
//     limitation of pipeline/verify, not of the bundle; the detail says so.
func nativeChecks(goos string, cs []verify.Check) []report.Check {
	out := make([]report.Check, 0, len(cs))
	for _, c := range cs {
		switch {
		case c.Name == verify.CheckNoPython:
			c = verify.Check{Name: c.Name, OK: true, Detail: NoPythonSkipped}
		case c.Name == verify.CheckGlibc && c.OK && goos != "linux":
			c.Detail += fmt.Sprintf(" (%s executables are not ELF: no glibc involved)", goos)
		case c.Name == verify.CheckExecutable && !c.OK && goos == "windows" && strings.Contains(c.Detail, "no execute bit"):
			c.Detail += "; Windows has no execute bit (Go reports files as rw-rw-rw-): pipeline/verify must judge Windows executables by their .exe name, so verify stopped before the imports and glibc checks"
		}
		out = append(out, c)
	}
	return out
}

// healthCheck is the report's health check, worded as the module words it.
func healthCheck(h *health.Result, skipped bool) report.Check {
	switch {
	case skipped:
		return report.Check{Name: "health", OK: true, Detail: "skipped: --skip-health"}
	case h == nil:
		return report.Check{Name: "health", OK: false, Detail: "not run: verify failed"}
	case !h.OK:
		return report.Check{Name: "health", OK: false, Detail: h.Reason}
	}
	return report.Check{Name: "health", OK: true, Detail: fmt.Sprintf("first 200 after %.0f ms (budget %.0f ms)", h.MedianMS, h.BudgetMS)}
}

// entryInput is everything a report entry is made of.
type entryInput struct {
	GOOS          string
	Target        target.Target
	Options       spec.Options // with defaults applied
	Layout        layout
	Verify        verify.Result
	Health        *health.Result // nil: not run (skipped, or verify failed)
	HealthSkipped bool
	PyInstaller   string
	Packages      map[string]string
	Duration      time.Duration
	Host          string
}

// makeEntry builds the report entry the module's buildOne writes, for a runner.
func makeEntry(in entryInput) report.Entry {
	e := report.Entry{
		Target:        in.Target.String(),
		Mode:          string(in.Options.Mode),
		Artifact:      in.Layout.ArtifactRel,
		SizeBytes:     in.Verify.SizeBytes,
		SHA256:        in.Verify.SHA256,
		GlibcFloor:    in.Verify.GlibcFloor,
		RuntimeGlibc:  in.Verify.RuntimeGlibc,
		Python:        in.Verify.Python,
		PyInstaller:   in.PyInstaller,
		Packages:      in.Packages,
		HiddenImports: in.Options.HiddenImports,
		DurationMS:    in.Duration.Milliseconds(),
		Checks:        nativeChecks(in.GOOS, in.Verify.Checks),
		Builder:       "runner:" + in.Host,
	}
	if in.Health != nil && len(in.Health.Runs) > 0 {
		ms := in.Health.MedianMS
		e.StartupMS = &ms
		e.Emulated = in.Health.Emulated
	}
	e.Checks = append(e.Checks, healthCheck(in.Health, in.HealthSkipped))
	return e
}
