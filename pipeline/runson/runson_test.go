package runson

import (
	"fmt"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// TestMatrix: the default matrix is Debian 11 and 12 beside the base, a given list replaces it,
// each image once, and a malformed reference fails before anything runs.
func TestMatrix(t *testing.T) {
	const base = "debian:trixie-slim"
	for _, tc := range []struct {
		name    string
		given   []string
		want    []Runtime
		wantErr string
	}{
		{"default: Debian 11 and 12 beside the base", nil, []Runtime{
			{Image: base, Base: true}, {Image: "debian:bullseye-slim"}, {Image: "debian:bookworm-slim"}}, ""},
		{"the base alone", []string{base}, []Runtime{{Image: base, Base: true}}, ""},
		{"an empty list is the base alone", []string{}, []Runtime{{Image: base, Base: true}}, ""},
		{"given ones, each once, the base not repeated", []string{"ubuntu:22.04", base, "ubuntu:22.04", "debian:bullseye-slim"}, []Runtime{
			{Image: base, Base: true}, {Image: "ubuntu:22.04"}, {Image: "debian:bullseye-slim"}}, ""},
		{"empty reference", []string{""}, nil, `runtimes: "" is not an image reference`},
		{"a list pasted as one value", []string{"debian:bullseye-slim,debian:bookworm-slim"}, nil, "one image per value"},
		{"spaces", []string{"debian: bullseye"}, nil, `"debian: bullseye"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Matrix(base, tc.given)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.DeepEqual(t, got, tc.want)
		})
	}
}

// TestSkipAndVerifyOptions: an emulated target keeps only its base runtime, and only the
// build's own verify judges the glibc target.
func TestSkipAndVerifyOptions(t *testing.T) {
	base, old := Runtime{Image: "debian:trixie-slim", Base: true}, Runtime{Image: "debian:bullseye-slim"}
	assert.Equal(t, base.Skip(true), "", "the base is the build's own check, emulated or not")
	assert.Equal(t, old.Skip(false), "")
	assert.Equal(t, old.Skip(true), SkipEmulated)
	row := Skipped(old, SkipEmulated)
	assert.Equal(t, row.Runtime, "debian:bullseye-slim")
	assert.Check(t, !row.OK && row.Skipped == SkipEmulated && !row.Required)

	o := verify.Options{Artifact: "/opt/app/x", GlibcTarget: "2.31", Modules: []string{"m"}}
	assert.Equal(t, base.VerifyOptions(o).GlibcTarget, "2.31", "judged by the build's own verify")
	got := old.VerifyOptions(o)
	assert.Equal(t, got.GlibcTarget, "", "another runtime's row says only whether it runs there")
	assert.DeepEqual(t, got.Modules, o.Modules)
}

// passed is a verify result with every check passed on a runtime of glibc g.
func passed(g, osName string) verify.Result {
	return verify.Result{OK: true, RuntimeGlibc: g, OS: osName, GlibcFloor: "2.38", Checks: []verify.Check{
		{Name: verify.CheckExists, OK: true}, {Name: verify.CheckNoPython, OK: true},
		{Name: verify.CheckImports, OK: true}, {Name: verify.CheckGlibc, OK: true}}}
}

// tooOld is the verify result of a trixie-built bundle on a runtime of glibc g: imports and
// glibc failed, the files needing more than g as verify orders them.
func tooOld(g, osName string, missing ...verify.GlibcNeed) verify.Result {
	v := passed(g, osName)
	v.OK = false
	v.Checks[2] = verify.Check{Name: verify.CheckImports, Detail: "exit status 255 and no PYBUNDLE_CHECK line"}
	v.Checks[3] = verify.Check{Name: verify.CheckGlibc, Detail: "needs GLIBC_2.38 (from _internal/libpython3.13.so.1.0) but the runtime has glibc " + g}
	v.GlibcMissing = missing
	return v
}

// loaderFailure is a bundle whose bootloader runs but whose libpython the loader refuses.
var loaderFailure = &health.Result{OK: false, Reason: "backend exited with code 255 during start-up", LogTail: []string{
	"[PYI-1:ERROR] Failed to load Python shared library '/opt/app/peft_engine/_internal/libpython3.13.so.1.0': dlopen: /lib/x86_64-linux-gnu/libm.so.6: version `GLIBC_2.38' not found (required by /opt/app/peft_engine/_internal/libpython3.13.so.1.0)",
}}

// bootloaderFailure is a trixie bootloader started on bullseye, as the loader says it.
var bootloaderFailure = &health.Result{OK: false, Reason: "backend exited with code 1 during start-up", LogTail: []string{
	"/opt/app/peft_engine/peft_engine: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by /opt/app/peft_engine/peft_engine)",
}}

// healthy is a health result that reached health after ms.
func healthy(ms float64) *health.Result {
	return &health.Result{OK: true, MedianMS: ms, Runs: []health.Run{{}}}
}

// TestJudge: how a start on one runtime becomes a row — required or a fact, the first missing
// version and what holds the floor from verify's data, and the loader's words from the start.
func TestJudge(t *testing.T) {
	base := Runtime{Image: "debian:trixie-slim", Base: true}
	bullseye, bookworm := Runtime{Image: "debian:bullseye-slim"}, Runtime{Image: "debian:bookworm-slim"}
	// As verify orders them: the executable, libpython, then by name.
	bullseyeMissing := []verify.GlibcNeed{
		{File: "peft_engine", Versions: []string{"2.34"}},
		{File: "_internal/libpython3.13.so.1.0", Versions: []string{"2.32", "2.33", "2.34", "2.35", "2.38"}},
		{File: "_internal/libssl.so.3", Versions: []string{"2.33", "2.34"}},
		{File: "_internal/pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so", Versions: []string{"2.33", "2.34", "2.38"}},
	}
	bullseyeRow := func(required bool) report.RunsOn {
		return report.RunsOn{Runtime: "debian:bullseye-slim", Name: "Debian 11 (bullseye)", Glibc: "2.31", Required: required,
			Missing: "GLIBC_2.34", MissingFrom: "peft_engine", Floor: "GLIBC_2.38",
			FloorFrom: []string{"_internal/libpython3.13.so.1.0", "_internal/pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so"}}
	}
	for _, tc := range []struct {
		name        string
		rt          Runtime
		target      string
		start       Start
		want        report.RunsOn
		wantDetail  []string
		wantNoMatch string
	}{
		{name: "the base, healthy", rt: base, start: Start{passed("2.41", "Debian 13 (trixie)"), healthy(812.4)},
			want: report.RunsOn{Runtime: "debian:trixie-slim", Name: "Debian 13 (trixie)", Glibc: "2.41", OK: true, Required: true, StartupMS: ptr(812.4),
				Detail: "healthy after 812 ms"}},
		{name: "bullseye: the executable stops first, libpython and pydantic hold the floor, the loader quoted", rt: bullseye,
			start: Start{tooOld("2.31", "Debian 11 (bullseye)", bullseyeMissing...), bootloaderFailure},
			want:  bullseyeRow(false),
			wantDetail: []string{
				"glibc 2.31 lacks GLIBC_2.34, needed first by peft_engine; the newest it lacks, GLIBC_2.38, is needed by _internal/libpython3.13.so.1.0, _internal/pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so; 4 file(s) need a glibc newer than 2.31",
				"; the start: backend exited with code 1 during start-up: /opt/app/peft_engine/peft_engine: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by /opt/app/peft_engine/peft_engine)",
			}},
		{name: "bullseye under a glibc target of 2.31 is required", rt: bullseye, target: "2.31",
			start: Start{tooOld("2.31", "Debian 11 (bullseye)", bullseyeMissing...), bootloaderFailure},
			want:  bullseyeRow(true), wantDetail: []string{"lacks GLIBC_2.34"}},
		{name: "bookworm under a target of 2.38 is not required; the first missing is the floor", rt: bookworm, target: "2.38",
			start: Start{tooOld("2.36", "Debian 12 (bookworm)", verify.GlibcNeed{File: "_internal/libpython3.13.so.1.0", Versions: []string{"2.38"}},
				verify.GlibcNeed{File: "_internal/libuuid.so.1", Versions: []string{"2.38"}}), loaderFailure},
			want: report.RunsOn{Runtime: "debian:bookworm-slim", Name: "Debian 12 (bookworm)", Glibc: "2.36",
				Missing: "GLIBC_2.38", MissingFrom: "_internal/libpython3.13.so.1.0", Floor: "GLIBC_2.38", FloorFrom: []string{"_internal/libpython3.13.so.1.0", "_internal/libuuid.so.1"}},
			wantDetail: []string{"glibc 2.36 lacks GLIBC_2.38, needed first by _internal/libpython3.13.so.1.0; the newest it lacks, GLIBC_2.38, is needed by _internal/libpython3.13.so.1.0, _internal/libuuid.so.1; 2 file(s)",
				"version `GLIBC_2.38' not found (required by /opt/app/peft_engine/_internal/libpython3.13.so.1.0)"}},
		{name: "a compat build runs on bullseye", rt: bullseye, target: "2.31", start: Start{passed("2.31", "Debian 11 (bullseye)"), healthy(950)},
			want: report.RunsOn{Runtime: "debian:bullseye-slim", Name: "Debian 11 (bullseye)", Glibc: "2.31", OK: true, Required: true, StartupMS: ptr(950),
				Detail: "healthy after 950 ms"}},
		{name: "a runtime with Python still counts", rt: Runtime{Image: "python:3.13-slim"}, start: Start{func() verify.Result {
			v := passed("2.41", "Debian 13 (trixie)")
			v.OK, v.Checks[1] = false, verify.Check{Name: verify.CheckNoPython, Detail: "Python interpreter present"}
			return v
		}(), healthy(700)},
			want: report.RunsOn{Runtime: "python:3.13-slim", Name: "Debian 13 (trixie)", Glibc: "2.41", OK: true, StartupMS: ptr(700), Detail: "healthy after 700 ms"}},
		{name: "glibc fine, the start fails for another reason", rt: bookworm, start: Start{passed("2.36", "Debian 12 (bookworm)"), &health.Result{
			Reason: "backend exited with code 1 during start-up", LogTail: []string{"Traceback (most recent call last):", "OSError: libgomp.so.1: cannot open shared object file: No such file or directory", "[PYI-9:ERROR] Failed to execute script 'main'"}}},
			want:       report.RunsOn{Runtime: "debian:bookworm-slim", Name: "Debian 12 (bookworm)", Glibc: "2.36"},
			wantDetail: []string{"the start: backend exited with code 1 during start-up: OSError: libgomp.so.1: cannot open shared object file"}, wantNoMatch: "needs GLIBC"},
		{name: "an import check failure without a glibc cause", rt: bookworm, start: Start{func() verify.Result {
			v := passed("2.36", "Debian 12 (bookworm)")
			v.OK, v.Checks[2] = false, verify.Check{Name: verify.CheckImports, Detail: "services.users: No module named 'services'"}
			return v
		}(), healthy(800)},
			want:       report.RunsOn{Runtime: "debian:bookworm-slim", Name: "Debian 12 (bookworm)", Glibc: "2.36"},
			wantDetail: []string{"check imports failed: services.users: No module named 'services'"}},
		{name: "not started", rt: bookworm, start: Start{Verify: passed("2.36", "")},
			want: report.RunsOn{Runtime: "debian:bookworm-slim", Glibc: "2.36", Detail: "not started"}},
		{name: "no glibc at all (musl): nothing required, nothing claimed", rt: Runtime{Image: "alpine:3.20"}, target: "2.31", start: Start{func() verify.Result {
			v := passed("", "Alpine 3.20.1")
			v.OK, v.Checks[3] = false, verify.Check{Name: verify.CheckGlibc, Detail: "needs GLIBC_2.38 but the runtime's glibc is unknown: no glibc libc.so.6 found"}
			return v
		}(), &health.Result{Reason: "cannot start", LogTail: []string{"exec /opt/app/peft_engine/peft_engine: no such file or directory"}}},
			want:       report.RunsOn{Runtime: "alpine:3.20", Name: "Alpine 3.20.1"},
			wantDetail: []string{"check glibc failed: needs GLIBC_2.38 but the runtime's glibc is unknown", "the start: cannot start: exec /opt/app/peft_engine/peft_engine: no such file or directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Judge(tc.rt, tc.target, tc.start)
			detail := got.Detail
			if len(tc.wantDetail) > 0 {
				got.Detail = ""
			}
			assert.DeepEqual(t, got, tc.want)
			for _, w := range tc.wantDetail {
				assert.Check(t, is.Contains(detail, w))
			}
			if tc.wantNoMatch != "" {
				assert.Check(t, !strings.Contains(detail, tc.wantNoMatch), detail)
			}
		})
	}
}

// TestFloorFromIsBounded: a bundle with many files above the runtime keeps the row small but
// counts them all.
func TestFloorFromIsBounded(t *testing.T) {
	var missing []verify.GlibcNeed
	for i := range 30 {
		missing = append(missing, verify.GlibcNeed{File: fmt.Sprintf("_internal/lib%02d.so", i), Versions: []string{"2.38"}})
	}
	row := Judge(Runtime{Image: "debian:bullseye-slim"}, "", Start{tooOld("2.31", "Debian 11", missing...), loaderFailure})
	assert.Equal(t, len(row.FloorFrom), maxFloorFrom)
	assert.Equal(t, row.MissingFrom, "_internal/lib00.so")
	assert.Check(t, is.Contains(row.Detail, "30 file(s) need a glibc newer than 2.31"))
}

// TestLoaderLine: the line quoted from a failed start is the one that says why.
func TestLoaderLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail []string
		want string
	}{
		{"the glibc line wins over later ones", []string{"a", "x: version `GLIBC_2.38' not found (required by y)", "[PYI:ERROR] later"}, "x: version `GLIBC_2.38' not found (required by y)"},
		{"else the last Python exception", []string{"Traceback (most recent call last):", "  File \"x.py\", line 1", "ImportError: boom", "[PYI-9:ERROR] Failed to execute script 'main'"}, "ImportError: boom"},
		{"else the last error", []string{"starting", "fatal error: boom", "done"}, "fatal error: boom"},
		{"else the last line", []string{"one", "two  ", "  "}, "two"},
		{"nothing", nil, ""},
		{"bounded", []string{strings.Repeat("e", 400) + " error"}, strings.Repeat("e", maxLoaderLine-1) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, loaderLine(tc.tail), tc.want)
		})
	}
}

// TestSort: rows read from the oldest runtime up, deterministically.
func TestSort(t *testing.T) {
	rows := []report.RunsOn{
		{Runtime: "debian:trixie-slim", Glibc: "2.41"},
		{Runtime: "debian:bookworm-slim", Glibc: "2.36"},
		{Runtime: "ubuntu:22.04", Glibc: "2.35"},
		{Runtime: "debian:bullseye-slim", Skipped: SkipEmulated},
		{Runtime: "debian:bullseye-slim", Glibc: "2.31"},
		{Runtime: "alpine:3.20"},
	}
	var got []string
	for _, r := range Sort(rows) {
		got = append(got, r.Runtime+" "+r.Glibc)
	}
	assert.DeepEqual(t, got, []string{"alpine:3.20 ", "debian:bullseye-slim ", "debian:bullseye-slim 2.31", "ubuntu:22.04 2.35", "debian:bookworm-slim 2.36", "debian:trixie-slim 2.41"})
	assert.Equal(t, rows[0].Runtime, "debian:trixie-slim", "the input is left as it was")
}

// TestFailure: only a required runtime the bundle does not run on fails the build.
func TestFailure(t *testing.T) {
	ok := report.RunsOn{Runtime: "debian:trixie-slim", Name: "Debian 13 (trixie)", Glibc: "2.41", OK: true, Required: true}
	oldFact := report.RunsOn{Runtime: "debian:bullseye-slim", Name: "Debian 11 (bullseye)", Glibc: "2.31", Missing: "GLIBC_2.34", Floor: "GLIBC_2.38", Detail: "needs GLIBC_2.38 (libpython)"}
	for _, tc := range []struct {
		name   string
		rows   []report.RunsOn
		target string
		want   string // "" = no failure
	}{
		{"an older runtime that fails is a fact", []report.RunsOn{oldFact, ok}, "", ""},
		{"every row passed", []report.RunsOn{ok}, "", ""},
		{"a skipped row fails nothing", []report.RunsOn{{Runtime: "debian:bullseye-slim", Required: true, Skipped: SkipEmulated}, ok}, "2.31", ""},
		{"covered by the glibc target", []report.RunsOn{func() report.RunsOn { r := oldFact; r.Required = true; return r }(), ok}, "2.31",
			"does not run on Debian 11 (bullseye) (debian:bullseye-slim, glibc 2.31), which it must (glibc 2.31 and the glibc target is 2.31): needs GLIBC_2.38 (libpython)"},
		{"its own runtime", []report.RunsOn{{Runtime: "debian:trixie-slim", Glibc: "2.41", Required: true, Detail: "the start: boom"}}, "",
			"does not run on debian:trixie-slim (debian:trixie-slim, glibc 2.41), which it must (its builder's own runtime): the start: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row, reason, failed := Failure(tc.rows, tc.target)
			assert.Equal(t, failed, tc.want != "")
			assert.Equal(t, reason, tc.want)
			if failed {
				assert.Check(t, row.Required && !row.OK)
			}
		})
	}
}

// ptr is a pointer to f, for the rows' optional times.
func ptr(f float64) *float64 { return &f }
