package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	sshdispatch "github.com/pybundle/pybundle/pipeline/dispatch"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/target"
)

// Paths inside the dispatching container.
const (
	jobDir        = "/job"
	runnerKeyPath = "/run/pybundle/runner-key"
)

// runnerSettings are Build's runner arguments, checked.
type runnerSettings struct {
	routes     map[target.Target]sshdispatch.Runner
	key        *dagger.Secret
	knownHosts *dagger.File
	timeout    time.Duration
}

// planRunners routes the targets (pipeline/dispatch.Route) and checks the runner arguments
// before anything runs: a missing key is an error now, not after the Linux builds.
func planRunners(targets []target.Target, runner []string, key *dagger.Secret, knownHosts *dagger.File, timeout string) (runnerSettings, error) {
	rs := runnerSettings{key: key, knownHosts: knownHosts}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.String()
	}
	fail := func(reason string) (runnerSettings, error) {
		return rs, &diagnose.Error{Stage: "plan", Target: strings.Join(names, ","), Reason: reason}
	}
	routes, err := sshdispatch.Route(targets, runner)
	if err != nil {
		return fail(err.Error())
	}
	rs.routes = routes
	if len(routes) == 0 {
		return rs, nil
	}
	if key == nil {
		return fail("--runner-key is required with --runner: the private key for the runners' SSH login, as a secret (e.g. --runner-key file:$HOME/.ssh/pybundle_runner)")
	}
	d, err := time.ParseDuration(timeout)
	if err != nil || d <= 0 {
		return fail(fmt.Sprintf("--runner-timeout %q: want a positive Go duration such as 45m", timeout))
	}
	rs.timeout = d
	return rs, nil
}

// sshClient is the container the dispatch runs in: Debian with OpenSSH's client.
func (m *Pybundle) sshClient() *dagger.Container {
	return dag.Container().From(m.BaseImage).
		WithMountedCache("/var/cache/apt/archives", dag.CacheVolume("pybundle-apt-ssh"), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
		WithExec([]string{"sh", "-c", images.AptInstallScript(images.SSHClientPackages)}).
		WithoutMount("/var/cache/apt/archives")
}

// dispatchOne builds target t on its runner: the inputs are checked here first (the same plan
// as a Dagger build), then `pybundle-probe dispatch` copies the source and pybundle-runner
// (cross-compiled for t) over SSH, runs the build there and brings dist/ and report.json back,
// checked against the runner's report. It returns the runner's report (merged by Build) and
// the target's dist folder.
func (m *Pybundle) dispatchOne(ctx context.Context, source *dagger.Directory, t target.Target, rs runnerSettings, mode, name, entry string, hidden []string, noSlim bool, budget string) (report.Report, *dagger.Directory, error) {
	r := rs.routes[t]
	_, o, err := m.plan(ctx, source, t.String(), mode, name, entry, hidden, noSlim)
	if err != nil {
		return report.Report{}, nil, err
	}
	args := []string{"--mode", string(o.Mode), "--name", o.Name, "--entry", o.Entry, "--budget", budget}
	if len(hidden) > 0 { // only the user's extras: the runner scans the source itself
		args = append(args, "--hidden-imports", strings.Join(hidden, ","))
	}
	if noSlim {
		args = append(args, "--no-slim")
	}
	// A remote machine is not content-addressed: every call dispatches (the ID also names the
	// job's folder on the runner, so concurrent builds never share one).
	id := fmt.Sprintf("%s-%d", t.Slug(), time.Now().UnixNano())
	job := sshdispatch.Job{
		Runner: r, Target: t.String(), ID: id, Key: runnerKeyPath,
		Binary: jobDir + "/" + t.ExecutableName("pybundle-runner"), Source: jobDir + "/src", Out: jobDir + "/out",
		Args: args, Artifact: artifactRel(t, o), Timeout: rs.timeout,
	}
	ctr := m.sshClient().
		WithFile(probePath, m.probe(hostPlatform(ctx)), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithFile(job.Binary, m.goBinary("./cmd/pybundle-runner", t), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithDirectory(job.Source, source).
		WithMountedSecret(runnerKeyPath, rs.key, dagger.ContainerWithMountedSecretOpts{Mode: 0o400})
	if rs.knownHosts != nil {
		job.KnownHosts = jobDir + "/known_hosts"
		ctr = ctr.WithFile(job.KnownHosts, rs.knownHosts)
	}
	js, err := json.Marshal(job)
	if err != nil {
		return report.Report{}, nil, err
	}
	run := ctr.WithNewFile(jobDir+"/job.json", string(js)).
		WithEnvVariable("PYBUNDLE_DISPATCH", id).
		WithExec([]string{probePath, "dispatch", "--job", jobDir + "/job.json"}, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	fail := func(reason string, tail []string) error {
		return &diagnose.Error{Stage: "runner", Target: t.String(), File: r.Address(), Reason: reason, Tail: tail}
	}
	code, err := run.ExitCode(ctx)
	if err != nil {
		return report.Report{}, nil, fail("the dispatch container failed: "+err.Error(), nil)
	}
	stdout, _ := run.Stdout(ctx)
	var res sshdispatch.Result
	if jerr := json.Unmarshal([]byte(stdout), &res); jerr != nil || code > 1 {
		stderr, _ := run.Stderr(ctx)
		return report.Report{}, nil, fail(fmt.Sprintf("pybundle-probe dispatch exited %d", code), diagnose.Tail(stderr, 15))
	}
	if !res.OK {
		if res.Error != nil {
			return report.Report{}, nil, res.Error
		}
		return report.Report{}, nil, fail("the dispatch failed without a reason (a pybundle bug)", nil)
	}
	out := run.Directory(job.Out)
	b, err := out.File("report.json").Contents(ctx)
	if err != nil {
		return report.Report{}, nil, fail("no report.json came back: "+err.Error(), nil)
	}
	rep, err := report.Parse([]byte(b))
	if err != nil {
		return report.Report{}, nil, fail(err.Error(), nil)
	}
	return rep, out.Directory("dist/" + t.Slug()), nil
}

// runnerError is the answer of the single-stage functions (builder, compile, package…) for a
// target only a native runner can build: they run in Dagger alone, `build` dispatches.
func runnerError(ts []target.Target) error {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	return &diagnose.Error{Stage: "plan", Target: strings.Join(names, ","),
		Reason: "PyInstaller is not a cross-compiler and Dagger runs Linux containers only: build these targets with `build --runner ssh://user@host --runner-key …` (a native macOS/Windows runner), or run pybundle-runner on that machine (README: Native runners)"}
}
