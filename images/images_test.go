package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

const backportsLine = `echo "deb $mirror trixie-backports main" > /etc/apt/sources.list.d/trixie-backports.list`

// installArgs returns the arguments of the script's apt-get install line, unquoted.
func installArgs(t *testing.T, script string) []string {
	t.Helper()
	const prefix = "apt-get install -y -qq --no-install-recommends "
	var found []string
	for _, l := range strings.Split(script, "\n") {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			assert.Assert(t, found == nil, "two install lines in:\n%s", script)
			for _, a := range strings.Fields(rest) {
				assert.Assert(t, strings.HasPrefix(a, "'") && strings.HasSuffix(a, "'"), "unquoted argument %q", a)
				found = append(found, strings.Trim(a, "'"))
			}
		}
	}
	assert.Assert(t, found != nil, "no install line in:\n%s", script)
	return found
}

func shSyntax(t *testing.T, script string) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput()
	assert.NilError(t, err, "sh -n: %s\nscript:\n%s", out, script)
}

func TestAptInstallScript(t *testing.T) {
	extra, err := ParseExtra([]string{"libpq5", "python3-numpy=1:2.2.4-*"})
	assert.NilError(t, err)

	tests := []struct {
		name          string
		pkgs          []Package
		wantBackports int
		wantArgs      []string // sorted
	}{
		{
			name:          "builder packages",
			pkgs:          BuilderPackages,
			wantBackports: 1,
			wantArgs: []string{
				"pyinstaller-hooks-contrib=2026.*",
				"pyinstaller=6.22.2+ds-1~bpo13+1",
				"python3-fastapi=0.115.11-*",
				"python3-pydantic=2.10.6-*",
				"python3-pyinstaller=6.22.2+ds-1~bpo13+1",
				"python3-uvicorn=0.32.0-*",
				"python3.13=3.13.5-*",
			},
		},
		{
			name:          "builder packages with extras",
			pkgs:          append(slices.Clone(BuilderPackages), extra...),
			wantBackports: 1,
			wantArgs: []string{
				"libpq5",
				"pyinstaller-hooks-contrib=2026.*",
				"pyinstaller=6.22.2+ds-1~bpo13+1",
				"python3-fastapi=0.115.11-*",
				"python3-numpy=1:2.2.4-*",
				"python3-pydantic=2.10.6-*",
				"python3-pyinstaller=6.22.2+ds-1~bpo13+1",
				"python3-uvicorn=0.32.0-*",
				"python3.13=3.13.5-*",
			},
		},
		{
			name:          "no backports package",
			pkgs:          []Package{{Name: "python3.13", Version: "3.13.5-*"}, {Name: "libpq5"}},
			wantBackports: 0,
			wantArgs:      []string{"libpq5", "python3.13=3.13.5-*"},
		},
		{
			name:          "one backports package",
			pkgs:          []Package{{Name: "pyinstaller", Version: "6.22.2+ds-1~bpo13+1", Suite: "trixie-backports"}},
			wantBackports: 1,
			wantArgs:      []string{"pyinstaller=6.22.2+ds-1~bpo13+1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := AptInstallScript(tc.pkgs)

			assert.Check(t, strings.HasPrefix(script, "set -eu\n"), script)
			assert.Equal(t, strings.Count(script, "trixie-backports main"), tc.wantBackports, script)
			assert.Equal(t, strings.Count(script, backportsLine+"\n"), tc.wantBackports, script)
			// Backports are pinned per package, never enabled wholesale with -t.
			assert.Check(t, !strings.Contains(script, " -t "), script)
			assert.Check(t, is.Contains(script, "--no-install-recommends"))

			// Sources come before the update, the update before the install, cleanup last.
			lines := strings.Split(strings.TrimSuffix(script, "\n"), "\n")
			update := slices.Index(lines, "apt-get update -qq")
			assert.Assert(t, update > 0, script)
			if tc.wantBackports > 0 {
				assert.Check(t, slices.Index(lines, backportsLine) < update, script)
			}
			assert.Check(t, strings.HasPrefix(lines[update+1], "apt-get install "), script)
			assert.Equal(t, lines[len(lines)-1], "rm -rf /var/lib/apt/lists/*")

			args := installArgs(t, script)
			assert.DeepEqual(t, args, tc.wantArgs)
			assert.Check(t, slices.IsSorted(args), "%v", args)

			shSyntax(t, script)
		})
	}
}

// Every pinned package is installed as name=version.
func TestAptInstallScriptPinsEveryPackage(t *testing.T) {
	args := installArgs(t, AptInstallScript(BuilderPackages))
	assert.Equal(t, len(args), len(BuilderPackages))
	for _, p := range BuilderPackages {
		assert.Check(t, p.Version != "", "%s is not pinned", p.Name)
		assert.Check(t, slices.Contains(args, p.Name+"="+p.Version), "%s=%s missing from %v", p.Name, p.Version, args)
	}
}

// The script does not depend on the order of the packages.
func TestAptInstallScriptDeterministic(t *testing.T) {
	pkgs := append(slices.Clone(BuilderPackages), Package{Name: "libpq5"}, Package{Name: "python3-numpy", Version: "1:2.2.4-*"})
	want := AptInstallScript(pkgs)
	for i := range 20 {
		p := slices.Clone(pkgs)
		// Deterministic permutations: rotate and reverse.
		p = append(p[i%len(p):], p[:i%len(p)]...)
		if i%2 == 1 {
			slices.Reverse(p)
		}
		assert.Equal(t, AptInstallScript(p), want, "permutation %d", i)
	}
	// And not on map iteration order when several suites are enabled.
	multi := append(slices.Clone(pkgs), Package{Name: "libfoo1", Version: "1.0-1", Suite: "trixie-proposed-updates"})
	first := AptInstallScript(multi)
	for range 20 {
		assert.Equal(t, AptInstallScript(multi), first)
	}
	assert.Check(t, strings.Index(first, "trixie-backports main") < strings.Index(first, "trixie-proposed-updates main"), first)
	shSyntax(t, first)
}

func TestParseExtra(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []Package
		wantErr string
	}{
		{name: "nil", in: nil, want: nil},
		{name: "blank entries skipped", in: []string{"", "  "}, want: nil},
		{name: "name only", in: []string{"libpq5"}, want: []Package{{Name: "libpq5"}}},
		{name: "name and version with epoch and glob", in: []string{"python3-numpy=1:2.2.4-*"},
			want: []Package{{Name: "python3-numpy", Version: "1:2.2.4-*"}}},
		{name: "trimmed and in order", in: []string{" libpq5 ", "libgomp1=14.2.0-19", "lib.x+y-z"},
			want: []Package{{Name: "libpq5"}, {Name: "libgomp1", Version: "14.2.0-19"}, {Name: "lib.x+y-z"}}},
		{name: "shell injection", in: []string{"foo; rm -rf /"}, wantErr: "invalid Debian package"},
		{name: "upper case and underscore", in: []string{"Bad_Name"}, wantErr: "invalid Debian package"},
		{name: "space in version", in: []string{"x=1 2"}, wantErr: "invalid Debian package"},
		{name: "quote in version", in: []string{"libpq5=1'; rm -rf / #"}, wantErr: "invalid Debian package"},
		{name: "command substitution in version", in: []string{"libpq5=$(id)"}, wantErr: "invalid Debian package"},
		{name: "one-letter name", in: []string{"x"}, wantErr: "invalid Debian package"},
		{name: "leading dash", in: []string{"-oAPT::x=1"}, wantErr: "invalid Debian package"},
		{name: "empty name", in: []string{"=1.0"}, wantErr: "invalid Debian package"},
		{name: "one bad entry fails all", in: []string{"libpq5", "Bad_Name"}, wantErr: `"Bad_Name"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseExtra(tc.in)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				assert.Check(t, got == nil)
				return
			}
			assert.NilError(t, err)
			assert.DeepEqual(t, got, tc.want)
		})
	}
}

// Whatever ParseExtra accepts makes a script that sh parses.
func TestParseExtraScriptSyntax(t *testing.T) {
	pkgs, err := ParseExtra([]string{"libpq5", "python3-numpy=1:2.2.4-*", "libgomp1=14.2.0-19", "x11-common=1:7.7+*"})
	assert.NilError(t, err)
	shSyntax(t, AptInstallScript(append(slices.Clone(BuilderPackages), pkgs...)))
}

func TestParseDpkgQuery(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{
			name: "dpkg-query output",
			in: "libc6 2.41-12\npython3.13 3.13.5-2\npython3-fastapi 0.115.11-1\n" +
				"pyinstaller 6.22.2+ds-1~bpo13+1\npyinstaller-hooks-contrib 2026.1-1~bpo13+1\n",
			want: map[string]string{
				"libc6":                     "2.41-12",
				"python3.13":                "3.13.5-2",
				"python3-fastapi":           "0.115.11-1",
				"pyinstaller":               "6.22.2+ds-1~bpo13+1",
				"pyinstaller-hooks-contrib": "2026.1-1~bpo13+1",
			},
		},
		{
			name: "junk ignored",
			in: "dpkg-query: no packages found matching python3-starlette\n" +
				"\n" +
				"python3-uvicorn\n" +
				"libc6 2.41-12 extra\n" +
				"   \n" +
				"python3-pydantic 2.10.6-1\r\n" +
				"  python3-uvicorn   0.32.0-1  \n",
			want: map[string]string{
				"python3-pydantic": "2.10.6-1",
				"python3-uvicorn":  "0.32.0-1",
			},
		},
		{name: "no trailing newline", in: "libc6 2.41-12", want: map[string]string{"libc6": "2.41-12"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.DeepEqual(t, ParseDpkgQuery(tc.in), tc.want)
		})
	}
}

// The builder's pins and the report agree with the PyInstaller version constant.
func TestBuilderPackages(t *testing.T) {
	byName := map[string]Package{}
	for _, p := range BuilderPackages {
		_, dup := byName[p.Name]
		assert.Check(t, !dup, "%s pinned twice", p.Name)
		byName[p.Name] = p
		assert.Check(t, debName.MatchString(p.Name), "bad name %q", p.Name)
		assert.Check(t, p.Version != "", "%s is not pinned", p.Name)
		assert.Check(t, p.Suite == "" || p.Suite == "trixie-backports", "%s from %q", p.Name, p.Suite)
	}
	for _, name := range []string{"pyinstaller", "python3-pyinstaller"} {
		p, ok := byName[name]
		assert.Assert(t, ok, "%s not in BuilderPackages", name)
		assert.Check(t, strings.HasPrefix(p.Version, PyInstallerVersion+"+"), "%s=%s, want %s", name, p.Version, PyInstallerVersion)
		assert.Equal(t, p.Suite, "trixie-backports")
	}
	assert.Equal(t, PipRequirement, "pyinstaller=="+PyInstallerVersion)
	assert.Check(t, slices.Contains(ReportedPackages, "pyinstaller"))
}

func TestPackageArg(t *testing.T) {
	tests := []struct {
		p    Package
		want string
	}{
		{Package{Name: "python3.13", Version: "3.13.5-*"}, "python3.13=3.13.5-*"},
		{Package{Name: "pyinstaller", Version: "6.22.2+ds-1~bpo13+1", Suite: "trixie-backports"}, "pyinstaller=6.22.2+ds-1~bpo13+1"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.p.Arg(), tc.want)
	}
}

func TestPipPlan(t *testing.T) {
	for _, tc := range []struct {
		name, req string
		extra     []string
		hashed    bool
		err       string
	}{
		{"no pin: pybundle adds it", "fastapi\nuvicorn\n", []string{PipRequirement}, false, ""},
		{"pinned to ours", "fastapi\nPyInstaller == 6.22.2\n", nil, false, ""},
		{"pinned to another", "pyinstaller==6.10.0\n", nil, false, "pins pyinstaller==6.10.0"},
		{"hashed with pin", "fastapi==0.115.11 --hash=sha256:aa\npyinstaller==6.22.2 \\\n  --hash=sha256:bb\n", nil, true, ""},
		{"hashed without pin", "fastapi==0.115.11 --hash=sha256:aa\n", nil, true, "must also list pyinstaller==6.22.2"},
		{"comment is not a pin", "# pyinstaller==1.0\nfastapi\n", []string{PipRequirement}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra, hashed, err := PipPlan(tc.req)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			assert.NilError(t, err)
			assert.DeepEqual(t, extra, tc.extra)
			assert.Equal(t, hashed, tc.hashed)
		})
	}
}

func TestPipInstallScript(t *testing.T) {
	online := PipInstallScript("/tmp/req.txt", []string{PipRequirement}, false, "")
	shSyntax(t, online)
	assert.Check(t, strings.Contains(online, "python3 -m venv --system-site-packages "+VenvDir))
	assert.Check(t, strings.Contains(online, "'-r' '/tmp/req.txt' 'pyinstaller==6.22.2'"))
	assert.Check(t, !strings.Contains(online, "--no-index"))

	offline := PipInstallScript("/tmp/req.txt", nil, true, "/wheels")
	shSyntax(t, offline)
	assert.Check(t, strings.Contains(offline, "'--require-hashes' '--no-index' '--find-links' '/wheels'"))
}

func TestDpkgQueryScript(t *testing.T) {
	s := DpkgQueryScript()
	shSyntax(t, s)
	for _, p := range ReportedPackages {
		assert.Check(t, strings.Contains(s, " "+p), p)
	}
	assert.Check(t, strings.HasSuffix(s, "|| true"), "missing packages must not fail the report")
}

// The backports suite comes from the mirror the image's own sources name: deb822 first, then
// one-line entries (with options), never a host name of ours.
func TestMirrorScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"deb822", map[string]string{"sources.list.d/debian.sources": "Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie trixie-updates\n\nTypes: deb\nURIs: http://security.example/debian-security\n"}, "http://mirror.example/debian"},
		{"one line", map[string]string{"sources.list": "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://local:3142/debian bookworm main\n"}, "http://local:3142/debian"},
		{"list.d", map[string]string{"sources.list.d/a.list": "deb https://m.example/debian trixie main\n"}, "https://m.example/debian"},
		{"none", map[string]string{"sources.list": "# nothing\n"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			etc := t.TempDir()
			for name, text := range tc.files {
				p := filepath.Join(etc, name)
				assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
				assert.NilError(t, os.WriteFile(p, []byte(text), 0o644))
			}
			// set -eu, as AptInstallScript runs it: errexit reaches into the command substitution.
			out, err := exec.Command(sh, "-c", "set -eu\n"+MirrorScript(etc)+`echo "$mirror"`).CombinedOutput()
			if tc.want == "" {
				assert.ErrorContains(t, err, "exit status 1")
				assert.Assert(t, is.Contains(string(out), "no Debian mirror found"))
				return
			}
			assert.NilError(t, err, string(out))
			assert.Equal(t, strings.TrimSpace(string(out)), tc.want)
		})
	}
}

func TestParseInstaller(t *testing.T) {
	for in, want := range map[string]Installer{"": Debian, "debian": Debian, " PIP ": Pip, "compat": Compat} {
		got, err := ParseInstaller(in)
		assert.NilError(t, err)
		assert.Equal(t, got, want)
	}
	_, err := ParseInstaller("conda")
	assert.ErrorContains(t, err, `unknown installer "conda": want debian, pip, compat`)
	assert.Equal(t, Pip.Python(), VenvDir+"/bin/python")
	assert.Equal(t, Debian.Python(), "/usr/bin/python3")
	assert.Equal(t, Compat.Python(), VenvDir+"/bin/python", "the compat path's venv, like pip's")
}

func TestDebianName(t *testing.T) {
	for dist, want := range map[string]string{"fastapi": "python3-fastapi", "PyYAML": "python3-yaml", "Flask_SQLAlchemy": "python3-flask-sqlalchemy", "python.dotenv": "python3-dotenv"} {
		assert.Equal(t, DebianName(dist), want, dist)
	}
}

func TestDebianPackagesFor(t *testing.T) {
	reqs := Requirements("# the backend\nfastapi==0.115.*\nuvicorn[standard]>=0.30 ; python_version>'3.9'\nJinja2\nPyYAML~=6.0\n" +
		"-r base.txt\n--hash=sha256:00\nhttps://example.invalid/x.whl\npython_dotenv\nSQLAlchemy[asyncio]\npyinstaller==6.22.2\njinja2\n")
	assert.DeepEqual(t, reqs, []string{"fastapi", "uvicorn", "jinja2", "pyyaml", "python-dotenv", "sqlalchemy", "pyinstaller"})
	var names []string
	for _, p := range DebianPackagesFor(reqs) {
		names = append(names, p.Arg())
	}
	assert.DeepEqual(t, names, []string{"python3-jinja2=", "python3-yaml=", "python3-dotenv=", "python3-sqlalchemy="})
}

func TestAptFailure(t *testing.T) {
	assert.Assert(t, is.Contains(AptFailure("Reading package lists...\nE: Unable to locate package python3-leftpad\n"), "Debian has no package python3-leftpad"))
	assert.Equal(t, AptFailure("E: Sub-process /usr/bin/dpkg returned an error code (1)"), "apt-get install failed")
}
