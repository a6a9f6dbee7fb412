package main

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/target"
)

// The facade's enums are Dagger's spelling of closed sets defined in pipeline/ and images/:
// every member must be a value those accept, and every value they accept a member.
func TestEnumsMatchTheirDefinitions(t *testing.T) {
	for _, m := range []Mode{ModeOnedir, ModeOnefile} {
		got, err := layout.ParseMode(string(m))
		assert.NilError(t, err)
		assert.Equal(t, string(got), string(m))
	}
	assert.DeepEqual(t, []layout.Mode{layout.Mode(ModeOnedir), layout.Mode(ModeOnefile)}, []layout.Mode{layout.OneDir, layout.OneFile})
	for _, i := range []Installer{InstallerDebian, InstallerPip, InstallerCompat} {
		got, err := images.ParseInstaller(string(i))
		assert.NilError(t, err)
		assert.Equal(t, string(got), string(i))
	}
	assert.Equal(t, InstallerPip.python(), images.Pip.Python())
	assert.Equal(t, len(images.Installers), 3, "every installer is a member")
}

// What a function's arguments give becomes plan arguments; what was not given is left to
// plan.Defaults (one definition of every default).
func TestOptionArgs(t *testing.T) {
	o := plan.Defaults()
	assert.NilError(t, o.Apply(optionArgs{}.args()...))
	assert.DeepEqual(t, o, plan.Defaults())

	o = plan.Defaults()
	assert.NilError(t, o.Apply(optionArgs{platforms: "linux/arm64", mode: ModeOnefile, name: "engine", entry: "app/main.py",
		hiddenImports: []string{"a.b"}, noSlim: true, budget: "9s"}.args()...))
	assert.Equal(t, o.Platforms[0].String(), "linux/arm64")
	assert.Equal(t, o.Mode, layout.OneFile)
	assert.Equal(t, o.Name, "engine")
	assert.Equal(t, o.Entry, "app/main.py")
	assert.DeepEqual(t, o.HiddenImports, []string{"a.b"})
	assert.Equal(t, o.Slim, false)
	assert.Equal(t, o.Budget.String(), "9s")

	o = plan.Defaults()
	assert.NilError(t, o.Apply(optionArgs{options: []string{"warmup=/api/a,/api/b", "trace=false", "data=conf:conf"}}.args()...))
	assert.DeepEqual(t, o.WarmUp, []string{"/api/a", "/api/b"})
	assert.Equal(t, o.Trace, false)
	assert.Equal(t, len(o.Data), 1)
	o = plan.Defaults()
	assert.ErrorContains(t, o.Apply(optionArgs{options: []string{"colour=red", "warmup"}}.args()...), `unknown option "colour"`)

	o = plan.Defaults()
	assert.ErrorContains(t, o.Apply(optionArgs{budget: "soon"}.args()...), `budget: "soon"`)
	assert.Equal(t, givenPlatforms(optionArgs{platforms: "darwin/arm64"}.args()), "darwin/arm64")
	assert.Equal(t, givenPlatforms(optionArgs{}.args()), "linux/amd64")
}

func TestGlobEscape(t *testing.T) {
	for in, want := range map[string]string{
		"main.py":            "main.py",
		"data/[draft]*.json": `data/\[draft\]\*.json`,
		`odd\name?.txt`:      `odd\\name\?.txt`,
	} {
		assert.Equal(t, globEscape(in), want)
		ok, err := filepath.Match(globEscape(in), in)
		assert.NilError(t, err)
		assert.Assert(t, ok, "%q matches only itself", in)
	}
}

// package's arguments are checked before any container: a Linux target, targets the
// container can build.
func TestPackagePlan(t *testing.T) {
	tg, tl, err := packagePlan("linux/amd64", "")
	assert.NilError(t, err)
	assert.Equal(t, tg.String(), "linux/amd64")
	assert.DeepEqual(t, tl, []string{"dir", "tar.gz", "deb"})
	_, tl, err = packagePlan("linux/arm64", "DEB, rpm ,7z")
	assert.NilError(t, err)
	assert.DeepEqual(t, tl, []string{"deb", "rpm", "7z"})
	for _, tc := range []struct{ platform, targets, want string }{
		{"windows/amd64", "", "plan windows/amd64: windows/amd64 needs a native runner"},
		{"linux/s390x", "", "package linux/s390x: unknown platform"},
		{"linux/amd64", "dir,nsis", `package linux/amd64: unknown linux target "nsis"`},
		{"linux/amd64", "snap", `package linux/amd64: package target "snap" needs snapcraft`},
		{"linux/amd64", " , ", "package linux/amd64: no targets given"},
	} {
		_, _, err := packagePlan(tc.platform, tc.targets)
		assert.ErrorContains(t, err, tc.want)
		var de *diagnose.Error
		assert.Assert(t, errors.As(err, &de), "one diagnose.Error: %v", err)
	}
}

// The runner arguments are checked before anything runs.
func TestRunnerArgsPlan(t *testing.T) {
	linux := []target.Target{{OS: "linux", Arch: "amd64"}}
	rs, err := runnerArgs{timeout: "45m"}.plan(linux)
	assert.NilError(t, err)
	assert.Equal(t, len(rs.routes), 0, "Linux targets stay in Dagger without a runner")

	win := []target.Target{{OS: "windows", Arch: "amd64"}}
	_, err = runnerArgs{timeout: "45m"}.plan(win)
	assert.ErrorContains(t, err, "plan windows/amd64:")
	assert.ErrorContains(t, err, "needs a native runner")
	_, err = runnerArgs{specs: []string{"ssh://ci@winbox"}, timeout: "45m"}.plan(win)
	assert.ErrorContains(t, err, "--runner-key is required")
	_, err = runnerArgs{specs: []string{"ssh://winbox"}, timeout: "45m"}.plan(win)
	assert.ErrorContains(t, err, "give the login: ssh://user@winbox")
	_, err = runnerArgs{specs: []string{`ssh://ci@winbox?python=py" %26 calc.exe %26 "`}, timeout: "45m"}.plan(win)
	assert.ErrorContains(t, err, "quotes, % and line breaks are not allowed")
}

// The facade stays thin: no function of the root package is over 80 lines (argument
// declarations included: Dagger needs each function's own), so logic goes to pipeline/.
func TestFacadeFunctionsAreShort(t *testing.T) {
	files, err := filepath.Glob("*.go")
	assert.NilError(t, err)
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "dagger.gen.go" {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		assert.NilError(t, err)
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				assert.Check(t, n <= 80, "%s: %s is %d lines", f, fd.Name.Name, n)
			}
		}
	}
	assert.Check(t, is.Len(files, len(files))) // the glob found the package
}
