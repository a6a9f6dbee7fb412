package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/report"
)

// runnerPackageScript runs `pybundle-runner package` three times in the electron-builder
// container — the verified dist, a dist whose report has no entry for linux/amd64, a dist whose
// backend was changed after verification — and keeps each run's exit status, output and
// electron-builder output folder under /work/out/<case>.
const runnerPackageScript = `#!/bin/sh
set -u
run() {
  name=$1 dist=$2
  mkdir -p /work/out/$name
  pybundle-runner package --app /work/app --dist "$dist" --targets dir,tar.gz --electron-dist /work/electron \
    >/work/out/$name/stdout 2>/work/out/$name/stderr
  echo $? >/work/out/$name/exit-code
  if [ -d /work/app/dist ]; then cp -a /work/app/dist /work/out/$name/dist; fi
  rm -rf /work/app/dist
}
run ok /work/dist
run no-entry /work/dist-no-entry
run tampered /work/dist-tampered
`

// TestRunnerPackage: the native runner's package stage, for real, on Linux: the Linux build of
// pybundle-runner runs inside the module's electron-builder container (Debian + Node.js +
// electron-builder 26.17.0 on PATH from /opt/pybundle/electron-builder; testdata/app has no
// dependencies of its own, so there is no npm ci, as in the module's package) with the Electron
// stand-in. It packages dir and tar.gz around the backend `build` verified, checks both with
// pipeline/pack (the tar.gz extracted in Go), starts the unpacked app under xvfb-run with
// PEFT_SELFTEST=1 and writes report.json. A dist without an entry for the target and a backend
// changed after verification are refused before electron-builder runs.
func TestRunnerPackage(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	dist := builtDist(t)
	buildRep := runnerPackageReport(t, filepath.Join(dist, "report.json"))
	assert.Equal(t, buildRep.Entries[0].Target, "linux/amd64")
	verifiedSHA := buildRep.Entries[0].SHA256

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "pybundle-runner")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/pybundle-runner")
	build.Dir = repoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	out, err := build.CombinedOutput()
	assert.NilError(t, err, string(out))

	noEntry := filepath.Join(tmp, "dist-no-entry")
	copyTree(t, dist, noEntry)
	r := runnerPackageReport(t, filepath.Join(noEntry, "report.json"))
	r.Entries[0].Target = "linux/arm64"
	js, err := r.JSON()
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(noEntry, "report.json"), js, 0o644))

	tampered := filepath.Join(tmp, "dist-tampered")
	copyTree(t, dist, tampered)
	f, err := os.OpenFile(filepath.Join(tampered, "linux-amd64", "peft_engine", "peft_engine"), os.O_APPEND|os.O_WRONLY, 0)
	assert.NilError(t, err)
	_, err = f.Write([]byte{0})
	assert.NilError(t, err)
	assert.NilError(t, f.Close())

	script := filepath.Join(tmp, "run.sh")
	assert.NilError(t, os.WriteFile(script, []byte(runnerPackageScript), 0o644))
	res := filepath.Join(tmp, "out")
	mustDagger(t, long, "electron-builder",
		"with-directory", "--path", "/work/app", "--source", "testdata/app",
		"with-directory", "--path", "/work/electron", "--source", standIn,
		"with-directory", "--path", "/work/dist", "--source", dist,
		"with-directory", "--path", "/work/dist-no-entry", "--source", noEntry,
		"with-directory", "--path", "/work/dist-tampered", "--source", tampered,
		"with-file", "--path", "/usr/local/bin/pybundle-runner", "--source", bin, "--permissions", "493",
		"with-file", "--path", "/work/run.sh", "--source", script,
		"with-exec", "--args", "sh,/work/run.sh",
		"directory", "--path", "/work/out", "export", "--path", res)

	t.Run("verified backend", func(t *testing.T) {
		code, stdout, stderr := runnerPackageCase(t, filepath.Join(res, "ok"))
		assert.Equal(t, code, "0", stderr)
		// electron-builder writes into a staging folder beside dist/ (relative to the app, so it
		// leaves it out of the app), published as dist/ only once every check passed.
		assert.Check(t, is.Regexp(`electron-builder --linux dir tar.gz --x64 --publish never -c.directories.output=pybundle-staging-dist-[0-9]+ -c.electronDist=/work/electron`, stderr))
		assert.Check(t, !strings.Contains(stderr, "npx"))

		out := filepath.Join(res, "ok", "dist")
		exe := filepath.Join(out, "linux-unpacked", "resources", "backend", "peft_engine", "peft_engine")
		st, err := os.Stat(exe)
		assert.NilError(t, err)
		assert.Equal(t, st.Mode().Perm(), os.FileMode(0o755))
		assert.Equal(t, fileSHA256(t, exe), verifiedSHA, "the packaged backend is the one build verified")
		_, err = os.Stat(filepath.Join(out, "peft-desktop-0.1.0.tar.gz"))
		assert.NilError(t, err)

		rep := runnerPackageReport(t, filepath.Join(out, "report.json"))
		assert.Check(t, rep.OK())
		assert.DeepEqual(t, rep.Entries, buildRep.Entries)
		summary, err := os.ReadFile(filepath.Join(out, "summary.txt"))
		assert.NilError(t, err)
		assert.Equal(t, string(summary), stdout)

		seen := map[string]bool{}
		for _, p := range rep.Packages {
			assert.Check(t, is.Equal(p.Target, "linux/amd64"))
			seen[p.Name+" "+p.Kind] = true
			checks := map[string]report.Check{}
			for _, c := range p.Checks {
				checks[c.Name] = c
				assert.Check(t, c.OK, "%s %s: %s: %s", p.Name, p.Kind, c.Name, c.Detail)
			}
			if p.Kind == "start" {
				assert.Check(t, is.Contains(checks["start"].Detail, "packaged app reached a healthy backend"))
				assert.Check(t, is.Contains(checks["start"].Detail, "under xvfb-run; no process of the app (peft_engine included) left after quit"))
				continue
			}
			for _, c := range []string{"resources", "location", "mode", "outside-asar", "sha256", "win-config"} {
				assert.Check(t, checks[c].OK, "%s: check %s present and passed", p.Name, c)
			}
			assert.Check(t, is.Contains(checks["sha256"].Detail, verifiedSHA+", the verified backend"))
			assert.Check(t, strings.HasSuffix(p.BackendPath, "resources/backend/peft_engine/peft_engine"), p.BackendPath)
		}
		assert.DeepEqual(t, seen, map[string]bool{"linux-unpacked dir": true, "peft-desktop-0.1.0.tar.gz tar.gz": true, "linux-unpacked start": true})
	})

	for _, tc := range []struct{ name, want string }{
		{"no-entry", "pybundle-runner: package linux/amd64: report.json: no verified backend for linux/amd64 in report.json (it has: linux/arm64)"},
		{"tampered", "pybundle-runner: package linux/amd64: linux-amd64/peft_engine/peft_engine: check sha256 failed: the backend has sha256 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runnerPackageCase(t, filepath.Join(res, tc.name))
			assert.Equal(t, code, "1", stderr)
			assert.Check(t, is.Contains(stderr, tc.want))
			assert.Check(t, is.Equal(stdout, ""))
			assert.Check(t, !strings.Contains(stderr, "electron-builder --linux"), "refused before electron-builder ran")
			_, err := os.Stat(filepath.Join(res, tc.name, "dist"))
			assert.Check(t, os.IsNotExist(err), "no outputs, no report.json")
		})
	}
}

func runnerPackageReport(t *testing.T, p string) report.Report {
	t.Helper()
	b, err := os.ReadFile(p)
	assert.NilError(t, err)
	r, err := report.Parse(b)
	assert.NilError(t, err)
	return r
}

// runnerPackageCase reads one case of runnerPackageScript: exit status, stdout, stderr.
func runnerPackageCase(t *testing.T, dir string) (code, stdout, stderr string) {
	t.Helper()
	read := func(n string) string {
		b, err := os.ReadFile(filepath.Join(dir, n))
		assert.NilError(t, err)
		return string(b)
	}
	return strings.TrimSpace(read("exit-code")), read("stdout"), read("stderr")
}
