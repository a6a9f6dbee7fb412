package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/report"
)

// Checks: `dagger check` runs them (CI runs them through ci/test.sh too): pybundle's self-test
// on its own sources and on the sample backend.

// UnitTests runs pybundle's engine-free tests (pipeline/, images/, cmd/) with the race detector
// in the Go image.
//
// +check
// +cache="session"
func (m *Pybundle) UnitTests(
	ctx context.Context,
	// pybundle's own source.
	// +defaultPath="/"
	// +ignore=["**", "!go.mod", "!go.sum", "!pipeline/**", "!images/**", "!cmd/**", "!testdata/backend/**", "!testdata/broken/**", "!testdata/app/**", "!testdata/corpus/**", "!README.md"]
	repo *dagger.Directory,
) error {
	run := m.debian(dag.Container().From(m.GoImage), "pybundle-apt-go-test", images.GoTestPackages).
		WithMountedCache("/go/pkg/mod", dag.CacheVolume("pybundle-go-mod")).
		WithMountedCache("/root/.cache/go-build", dag.CacheVolume("pybundle-go-build")).
		WithDirectory("/src", repo).
		WithWorkdir("/src").
		WithEnvVariable("CGO_ENABLED", "1").
		WithEnvVariable("GOFLAGS", "-mod=mod").
		WithExec([]string{"go", "test", "-race", "-short", "-count=1", "./pipeline/...", "./images/...", "./cmd/..."},
			dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := run.ExitCode(ctx)
	if err != nil || code == 0 {
		return err
	}
	// The failures alone: the whole output is pages of "ok" lines, and an error's reader (a
	// terminal, a CI log cut to its tail) should see which test failed and why.
	out, _ := run.Stdout(ctx)
	stderr, _ := run.Stderr(ctx)
	failures := diagnose.GoTestFailures(out+"\n"+stderr, 60)
	return fmt.Errorf("unit tests failed (go test exit %d):\n%s", code, strings.Join(failures, "\n"))
}

// SampleBuild builds the sample backend for the engine's platform and requires every check of
// its report entry to pass: compile, verify in a clean container without Python, health.
//
// +check
// +cache="session"
func (m *Pybundle) SampleBuild(
	ctx context.Context,
	// The sample backend.
	// +defaultPath="/testdata/backend"
	source *dagger.Directory,
) error {
	b, err := m.backend(ctx, buildRequest{source: source, options: optionArgs{platforms: hostPlatform(ctx).String()}})
	if err != nil {
		return err
	}
	rep, err := report.Parse([]byte(b.Report))
	if err != nil {
		return err
	}
	if len(rep.Entries) != 1 || !rep.OK() {
		return fmt.Errorf("sample build: the report does not vouch for it:\n%s", b.Summary)
	}
	return nil
}

// GuardRefusesMissingModules builds a backend whose lazily imported module is missing and
// requires the build to fail at compile time naming it, not to ship a broken executable.
//
// +check
// +cache="session"
func (m *Pybundle) GuardRefusesMissingModules(
	ctx context.Context,
	// A backend that imports services.billing by string, without the module.
	// +defaultPath="/testdata/broken/missing-lazy"
	source *dagger.Directory,
) error {
	// Tracing off: the trace runs the backend from source first and would stop at the same
	// missing module before PyInstaller; this check is about the compile stage's own guard.
	_, err := m.backend(ctx, buildRequest{source: source, options: optionArgs{platforms: hostPlatform(ctx).String(), options: []string{"trace=false"}}})
	var de *diagnose.Error
	switch {
	case err == nil:
		return errors.New("a backend missing a lazily imported module was built: the build-time guard did not fire")
	case !errors.As(err, &de) || de.Stage != "compile" || !strings.Contains(de.Error(), "services.billing"):
		return fmt.Errorf("want a compile error naming services.billing, got: %w", err)
	}
	return nil
}
