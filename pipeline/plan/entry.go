package plan

import (
	"fmt"
	"time"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// NoPythonSkipped is the no-python check's detail on a native runner. The runner has Python
// by definition (it builds with it), so "starts on a machine without Python" cannot be shown
// there; the proof stays the Linux targets' clean container, and on the runner the imports
// check still runs the frozen app with only its own bundle.
const NoPythonSkipped = "skipped: native runner: Python present by design"

// Outcome is what an executor found running a Build.
type Outcome struct {
	Verify verify.Result
	// Health is nil when the backend was not started (verify failed, or HealthSkipped).
	Health        *health.Result
	HealthSkipped bool
	PyInstaller   string
	Packages      map[string]string
	Duration      time.Duration
	// Builder names the executor: "dagger:debian", "dagger:pip", "runner:<host>".
	Builder string
	// Native is set on a native runner, where Python is present by design.
	Native bool
	// RunsOn are the runtime matrix's rows (pipeline/runson), when the executor ran one.
	RunsOn []report.RunsOn
}

// Entry is the report entry of b with its outcome; both executors write exactly this.
func (b Build) Entry(out Outcome) report.Entry {
	e := report.Entry{
		Target:        b.Target().String(),
		Mode:          string(b.Bundle.Mode),
		Artifact:      b.Bundle.Artifact(),
		SizeBytes:     out.Verify.SizeBytes,
		SHA256:        out.Verify.SHA256,
		Manifest:      out.Verify.Manifest,
		GlibcFloor:    out.Verify.GlibcFloor,
		RuntimeGlibc:  out.Verify.RuntimeGlibc,
		RunsOn:        out.RunsOn,
		Python:        out.Verify.Python,
		PyInstaller:   out.PyInstaller,
		Bootloader:    string(b.Bootloader),
		Packages:      out.Packages,
		HiddenImports: b.Found,
		OwnModules:    b.OwnModules,
		DurationMS:    out.Duration.Milliseconds(),
		Builder:       out.Builder,
	}
	if out.Verify.Manifest != nil {
		e.BundleSHA256 = out.Verify.Manifest.SHA256
	}
	if b.Start.Kind != "" {
		e.Start = b.Start.String() + " (" + b.Start.Why + ")"
	}
	if b.Data.Files > 0 {
		d := b.Data
		e.Data = &d
	}
	if b.Trace.Python != "" {
		t := b.Trace
		e.Trace = &t
	}
	for _, c := range out.Verify.Checks {
		if out.Native && c.Name == verify.CheckNoPython {
			c = verify.Check{Name: c.Name, OK: true, Detail: NoPythonSkipped}
		}
		e.Checks = append(e.Checks, c)
	}
	if h := out.Health; h != nil && len(h.Runs) > 0 {
		ms := h.MedianMS
		e.StartupMS = &ms
		if len(h.Runs) > 1 {
			lo, hi := h.MinMS, h.MaxMS
			e.StartupMinMS, e.StartupMaxMS = &lo, &hi
		}
		e.Emulated = h.Emulated
	}
	e.Checks = append(e.Checks, healthCheck(out.Health, out.HealthSkipped))
	return e
}

// healthCheck is the report's health check.
func healthCheck(h *health.Result, skipped bool) report.Check {
	switch {
	case skipped:
		return report.Check{Name: CheckHealth, OK: true, Detail: "skipped: --skip-health"}
	case h == nil:
		return report.Check{Name: CheckHealth, OK: false, Detail: "not run: verify failed"}
	case !h.OK:
		return report.Check{Name: CheckHealth, OK: false, Detail: h.Reason}
	}
	detail := fmt.Sprintf("healthy after %.0f ms (budget %.0f ms)", h.MedianMS, h.BudgetMS)
	if h.Path != "" && h.Path != health.DefaultPath {
		detail = fmt.Sprintf("healthy on %s after %.0f ms (budget %.0f ms)", h.Path, h.MedianMS, h.BudgetMS)
	}
	if len(h.Runs) > 0 {
		for _, w := range h.Runs[0].WarmUp {
			detail += fmt.Sprintf("; warm-up GET %s: %d in %.0f ms", w.Path, w.Status, w.MS)
		}
	}
	return report.Check{Name: CheckHealth, OK: true, Detail: detail}
}

// CheckHealth is the name of the health check in a report entry.
const CheckHealth = "health"

// EntryError is the stage error of the first failed check of e (nil if none): verify's checks
// fail stage verify, the health check stage health with the backend's last output.
func EntryError(e report.Entry, h *health.Result) error {
	for _, c := range e.Checks {
		if c.OK {
			continue
		}
		err := &diagnose.Error{Stage: "verify", Target: e.Target, File: e.Artifact,
			Reason: fmt.Sprintf("check %s failed: %s", c.Name, c.Detail)}
		if c.Name == CheckHealth {
			err.Stage, err.Reason = "health", c.Detail
			if h != nil {
				err.Tail = h.LogTail
			}
		}
		return err
	}
	return nil
}
