package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	sshdispatch "github.com/pybundle/pybundle/pipeline/dispatch"
	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/target"
)

// Paths inside the dispatching container. The key is mounted outside the source's folder, and
// pipeline/source follows no link out of that folder: no source file can name it.
const (
	jobDir        = "/job"
	runnerKeyPath = "/run/pybundle/runner-key"
)

// runnerArgs are Build's runner arguments as given.
type runnerArgs struct {
	specs      []string
	key        *dagger.Secret
	knownHosts *dagger.File
	timeout    string
}

// runners are the runner arguments, checked.
type runners struct {
	routes     map[target.Target]sshdispatch.Runner
	key        *dagger.Secret
	knownHosts *dagger.File
	timeout    time.Duration
}

// plan routes the targets (sshdispatch.Route) and checks the runner arguments before anything
// runs: a missing key or a bad timeout is an error now, not after the Linux builds.
func (a runnerArgs) plan(targets []target.Target) (runners, error) {
	rs := runners{key: a.key, knownHosts: a.knownHosts}
	fail := func(reason string) (runners, error) {
		return rs, &diagnose.Error{Stage: "plan", Target: plan.Names(targets), Reason: reason}
	}
	routes, err := sshdispatch.Route(targets, a.specs)
	if err != nil {
		return fail(err.Error())
	}
	rs.routes = routes
	if len(routes) == 0 {
		return rs, nil
	}
	if a.key == nil {
		return fail("--runner-key is required with --runner: the private key for the runners' SSH login, as a secret (e.g. --runner-key file:$HOME/.ssh/pybundle_runner)")
	}
	d, err := time.ParseDuration(a.timeout)
	if err != nil || d <= 0 {
		return fail(fmt.Sprintf("--runner-timeout %q: want a positive Go duration such as 45m", a.timeout))
	}
	rs.timeout = d
	return rs, nil
}

// sshClient is the container the dispatch runs in: Debian with OpenSSH's client.
func (m *Pybundle) sshClient() *dagger.Container {
	return m.debian(dag.Container().From(m.BaseImage), "pybundle-apt-ssh", images.SSHClientPackages)
}

// dispatch builds b on its runner: `pybundle-probe dispatch` copies the source, the plan's
// options and pybundle-runner (cross-compiled for the target) over SSH, runs the build there
// and brings dist/ and report.json back, checked against the runner's report. It returns the
// runner's report (merged by backend) and the target's dist folder.
func (m *Pybundle) dispatch(ctx context.Context, p *planned, b plan.Build, rs runners) (report.Report, *dagger.Directory, error) {
	t := b.Target()
	r := rs.routes[t]
	opts := p.Options
	opts.Platforms = []target.Target{t}
	// A remote machine is not content-addressed: every call dispatches (the ID also names the
	// job's folder on the runner, so concurrent builds never share one).
	id := fmt.Sprintf("%s-%d", t.Slug(), time.Now().UnixNano())
	job := sshdispatch.Job{
		Runner: r, Target: t.String(), ID: id, Key: runnerKeyPath,
		Binary: jobDir + "/" + t.ExecutableName("pybundle-runner"), Source: jobDir + "/src", Out: jobDir + "/out",
		Options: opts, Artifact: b.Bundle.Artifact(), Timeout: rs.timeout,
	}
	ctr := m.sshClient().
		WithFile(probePath, m.probe(hostPlatform(ctx)), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithFile(job.Binary, m.goBinary("./cmd/pybundle-runner", t), dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithDirectory(job.Source, p.src).
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
	text, err := out.File("report.json").Contents(ctx)
	if err != nil {
		return report.Report{}, nil, fail("no report.json came back: "+err.Error(), nil)
	}
	rep, err := report.Parse([]byte(text))
	if err != nil {
		return report.Report{}, nil, fail(err.Error(), nil)
	}
	return rep, out.Directory("dist/" + b.Bundle.Dir()), nil
}
