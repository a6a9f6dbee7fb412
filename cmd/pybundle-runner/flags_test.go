package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/target"
)

func TestParseBuildDefaults(t *testing.T) {
	src := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	c, err := parseBuild([]string{"--source", src, "--out", out}, "darwin", "arm64", io.Discard)
	assert.NilError(t, err)
	assert.Equal(t, c.Source, src)
	assert.Equal(t, c.Out, out)
	assert.Equal(t, c.Target, target.Target{OS: "darwin", Arch: "arm64"})
	assert.Equal(t, c.Options.Mode, layout.OneDir)
	assert.Equal(t, c.Options.Name, "peft_engine")
	assert.Equal(t, c.Options.Entry, "", "found, not assumed")
	assert.Equal(t, c.Options.Trace, true)
	assert.DeepEqual(t, c.Options.Platforms, []target.Target{{OS: "darwin", Arch: "arm64"}})
	assert.Equal(t, c.Pin.String(), "3.13")
	assert.Equal(t, c.Venv, filepath.Join(out, ".venv"))
	assert.Equal(t, c.VenvSet, false)
	assert.Equal(t, c.Requirements, filepath.Join(src, "requirements.txt"))
	assert.Equal(t, c.Wheelhouse, "")
	assert.Equal(t, c.Options.Budget, 5*time.Second)
	assert.Equal(t, c.SkipHealth, false)
	assert.Equal(t, c.Options.Slim, true)
	assert.Assert(t, is.Len(c.Options.HiddenImports, 0))
}

func TestParseBuildAllFlags(t *testing.T) {
	src, wheels, base := t.TempDir(), t.TempDir(), t.TempDir()
	c, err := parseBuild([]string{
		"--source", src, "--out", filepath.Join(base, "o"), "--platform", "windows/x64",
		"--mode", "OneFile", "--name", "engine", "--entry", "app/server.py",
		"--python", `py -3.13`, "--python-version", "3.13.5", "--venv", filepath.Join(base, "v"),
		"--requirements", filepath.Join(base, "req.txt"), "--wheelhouse", wheels,
		"--budget", "750ms", "--skip-health", "--hidden-imports", "a.b, c ,", "--slim=false",
	}, "windows", "amd64", io.Discard)
	assert.NilError(t, err)
	assert.Equal(t, c.Target, target.Target{OS: "windows", Arch: "amd64"})
	assert.Equal(t, c.Options.Mode, layout.OneFile)
	assert.Equal(t, c.Options.Name, "engine")
	assert.Equal(t, c.Options.Entry, "app/server.py")
	assert.Equal(t, c.Python, "py -3.13")
	assert.Equal(t, c.Pin.String(), "3.13.5")
	assert.Equal(t, c.Venv, filepath.Join(base, "v"))
	assert.Equal(t, c.VenvSet, true)
	assert.Equal(t, c.Requirements, filepath.Join(base, "req.txt"))
	assert.Equal(t, c.Wheelhouse, wheels)
	assert.Equal(t, c.Options.Budget, 750*time.Millisecond)
	assert.Equal(t, c.SkipHealth, true)
	assert.DeepEqual(t, c.Options.HiddenImports, []string{"a.b", "c"})
	assert.Equal(t, c.Options.Slim, false)
}

func TestParseBuildRelativePathsBecomeAbsolute(t *testing.T) {
	dir := t.TempDir()
	assert.NilError(t, os.Mkdir(filepath.Join(dir, "backend"), 0o755))
	t.Chdir(dir)
	c, err := parseBuild([]string{"--source", "backend", "--out", "out"}, "linux", "amd64", io.Discard)
	assert.NilError(t, err)
	resolved := func(p string) string {
		r, err := filepath.EvalSymlinks(filepath.Dir(p))
		assert.NilError(t, err)
		return filepath.Join(r, filepath.Base(p))
	}
	assert.Equal(t, resolved(c.Source), resolved(filepath.Join(dir, "backend")))
	assert.Equal(t, resolved(c.Out), resolved(filepath.Join(dir, "out")))
}

func TestParseBuildErrors(t *testing.T) {
	src := t.TempDir()
	file := filepath.Join(src, "main.py")
	assert.NilError(t, os.WriteFile(file, []byte("print(1)\n"), 0o644))
	out := filepath.Join(t.TempDir(), "out")
	base := []string{"--source", src, "--out", out}
	for _, tc := range []struct {
		name string
		args []string
		host string
		want string
	}{
		{"no source", []string{"--out", out}, "linux/amd64", "--source and --out are required"},
		{"no out", []string{"--source", src}, "linux/amd64", "--source and --out are required"},
		{"missing source", []string{"--source", filepath.Join(src, "nope"), "--out", out}, "linux/amd64", "no such file or directory"},
		{"source is a file", []string{"--source", file, "--out", out}, "linux/amd64", "not a directory"},
		{"out is the source", []string{"--source", src, "--out", src}, "linux/amd64", "must not be the source folder or contain it"},
		{"out contains the source", []string{"--source", src, "--out", filepath.Dir(src)}, "linux/amd64", "must not be the source folder or contain it"},
		{"venv is the source", append(base, "--venv", src), "linux/amd64", "--venv"},
		{"bad mode", append(base, "--mode", "onezip"), "linux/amd64", `invalid mode "onezip"`},
		{"cross-OS", append(base, "--platform", "darwin/arm64"), "linux/amd64", "PyInstaller is not a cross-compiler; this runner is linux/amd64 and builds linux targets only (build darwin/arm64 on a darwin runner)"},
		{"windows from mac", append(base, "--platform", "windows/amd64"), "darwin/arm64", "build windows/amd64 on a windows runner"},
		{"unknown platform", append(base, "--platform", "linux/s390x"), "linux/amd64", "unknown platform"},
		{"unsupported host", base, "windows/arm64", "--platform auto: this machine is windows/arm64, which pybundle cannot build for"},
		{"old pin", append(base, "--python-version", "3.9"), "linux/amd64", "--python-version: 3.9 is too old: pybundle needs Python 3.10 or newer"},
		{"bad pin", append(base, "--python-version", "three"), "linux/amd64", `want X.Y or X.Y.Z`},
		{"zero budget", append(base, "--budget", "0s"), "linux/amd64", `budget: "0s": must be positive`},
		{"bad budget", append(base, "--budget", "fast"), "linux/amd64", `budget: "fast": want a Go duration such as 5s`},
		{"bad slim", append(base, "--slim=maybe"), "linux/amd64", `slim: strconv.ParseBool: parsing "maybe"`},
		{"options file missing", append(base, "--options", filepath.Join(src, "none.json")), "linux/amd64", "--options: "},
		{"options file unknown key", append(base, "--options", file), "linux/amd64", "--options " + file + ": invalid character"},
		{"missing wheelhouse", append(base, "--wheelhouse", filepath.Join(src, "wheels")), "linux/amd64", "--wheelhouse"},
		{"positional", append(base, "extra"), "linux/amd64", `unexpected argument "extra"`},
		{"unknown flag", append(base, "--fast"), "linux/amd64", "flag provided but not defined: -fast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hostOS, hostArch, _ := strings.Cut(tc.host, "/")
			_, err := parseBuild(tc.args, hostOS, hostArch, io.Discard)
			assert.ErrorContains(t, err, tc.want)
			var u *errUsage
			assert.Assert(t, errors.As(err, &u), "want a usage error (exit 2), got %T", err)
		})
	}
}

// Found by review: --source /x/proj/work/src --out /x/alias with alias -> proj passed the text
// comparison, and the copy step would have removed the source.
func TestParseBuildOutThroughAnAlias(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "proj", "work", "src")
	assert.NilError(t, os.MkdirAll(src, 0o755))
	assert.NilError(t, os.Symlink(filepath.Join(base, "proj"), filepath.Join(base, "alias")))
	_, err := parseBuild([]string{"--source", src, "--out", filepath.Join(base, "alias")}, "linux", "amd64", io.Discard)
	assert.ErrorContains(t, err, "must not be the source folder or contain it")
	_, err = parseBuild([]string{"--source", filepath.Join(base, "alias", "work", "src"), "--out", filepath.Join(base, "proj", "work")}, "linux", "amd64", io.Discard)
	assert.ErrorContains(t, err, "must not be the source folder or contain it")
}

// Options given as JSON (a dispatched job's) are the base the flags override.
func TestParseBuildOptionsFile(t *testing.T) {
	src := t.TempDir()
	opts := filepath.Join(t.TempDir(), "options.json")
	o := plan.Defaults()
	o.Mode, o.Name, o.HiddenImports = layout.OneFile, "engine", []string{"x.y"}
	b, err := json.Marshal(o)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(opts, b, 0o644))
	c, err := parseBuild([]string{"--source", src, "--out", filepath.Join(t.TempDir(), "o"), "--options", opts, "--name", "other"}, "linux", "amd64", io.Discard)
	assert.NilError(t, err)
	assert.Equal(t, c.Options.Mode, layout.OneFile)
	assert.Equal(t, c.Options.Name, "other", "a flag overrides the file")
	assert.DeepEqual(t, c.Options.HiddenImports, []string{"x.y"})
	assert.DeepEqual(t, c.Options.Platforms, []target.Target{{OS: "linux", Arch: "amd64"}}) // the runner builds its own target

	assert.NilError(t, os.WriteFile(opts, []byte(`{"mode": "onefile", "colour": "red"}`), 0o644))
	_, err = parseBuild([]string{"--source", src, "--out", filepath.Join(t.TempDir(), "o"), "--options", opts}, "linux", "amd64", io.Discard)
	assert.ErrorContains(t, err, `unknown field "colour"`)
	assert.NilError(t, os.WriteFile(opts, []byte(`{"mode": "onezip"}`), 0o644))
	_, err = parseBuild([]string{"--source", src, "--out", filepath.Join(t.TempDir(), "o"), "--options", opts}, "linux", "amd64", io.Discard)
	assert.ErrorContains(t, err, `invalid mode "onezip"`)
}

func TestParseBuildHelp(t *testing.T) {
	_, err := parseBuild([]string{"-h"}, "linux", "amd64", io.Discard)
	assert.Assert(t, errors.Is(err, errHelp))
}

func TestResolvePlatform(t *testing.T) {
	for _, tc := range []struct {
		in, host, want string
	}{
		{"auto", "linux/amd64", "linux/amd64"},
		{"", "darwin/arm64", "darwin/arm64"},
		{"AUTO", "windows/amd64", "windows/amd64"},
		{"mac/x64", "darwin/arm64", "darwin/amd64"}, // Rosetta: another arch, same OS
		{"win32/x64", "windows/amd64", "windows/amd64"},
		{"linux/aarch64", "linux/amd64", "linux/arm64"},
	} {
		hostOS, hostArch, _ := strings.Cut(tc.host, "/")
		got, err := resolvePlatform(tc.in, hostOS, hostArch)
		assert.NilError(t, err, tc.in)
		assert.Equal(t, got.String(), tc.want, tc.in)
	}
}

func TestParseEnv(t *testing.T) {
	out := t.TempDir()
	c, err := parseEnv([]string{"--out", out, "--python-version", "3.12"}, "linux", "arm64", io.Discard)
	assert.NilError(t, err)
	assert.Equal(t, c.Target.String(), "linux/arm64")
	assert.Equal(t, c.Pin.String(), "3.12")
	assert.Equal(t, c.Venv, filepath.Join(out, ".venv"))

	c, err = parseEnv(nil, "linux", "amd64", io.Discard)
	assert.NilError(t, err)
	assert.Equal(t, c.Venv, "", "no --out, no --venv: no venv to look at")

	_, err = parseEnv([]string{"--platform", "windows/amd64"}, "linux", "amd64", io.Discard)
	assert.ErrorContains(t, err, "not a cross-compiler")
}

func TestWithin(t *testing.T) {
	sep := string(filepath.Separator)
	root := filepath.Join(sep, "a", "b")
	assert.Assert(t, within(filepath.Join(root, "c"), root))
	assert.Assert(t, within(filepath.Join(root, "c", "d"), root))
	assert.Assert(t, !within(root, root))
	assert.Assert(t, !within(filepath.Join(sep, "a", "bc"), root))
	assert.Assert(t, !within(filepath.Join(sep, "a"), root))
	assert.Assert(t, !within(filepath.Join(root, "..c"), filepath.Join(root, "c")))
}
