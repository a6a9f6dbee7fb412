package dispatch

import (
	"errors"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/target"
)

func TestParseRunner(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Runner
	}{
		{"ssh://pybundle@10.213.0.2", Runner{User: "pybundle", Host: "10.213.0.2", Port: 22}},
		{"  ssh://pybundle@mac-mini.local  ", Runner{User: "pybundle", Host: "mac-mini.local", Port: 22}},
		{"ssh://pybundle@mac-mini.local/", Runner{User: "pybundle", Host: "mac-mini.local", Port: 22}},
		{"ssh://ci@win.example.com:2222", Runner{User: "ci", Host: "win.example.com", Port: 2222}},
		{"ssh://ci@host:1", Runner{User: "ci", Host: "host", Port: 1}},
		{"ssh://ci@host:65535", Runner{User: "ci", Host: "host", Port: 65535}},
		{"ssh://ci@[::1]:2200", Runner{User: "ci", Host: "::1", Port: 2200}},
		{"ssh://ci@[fd00::5]", Runner{User: "ci", Host: "fd00::5", Port: 22}},
		{"ssh://first.last@host", Runner{User: "first.last", Host: "host", Port: 22}},
		{"ssh://ci@host?python=/opt/py313/bin/python3", Runner{User: "ci", Host: "host", Port: 22, Python: "/opt/py313/bin/python3"}},
		{"ssh://ci@host?python=py+-3.13", Runner{User: "ci", Host: "host", Port: 22, Python: "py -3.13"}},
		{"ssh://ci@host?python=py%20-3.13", Runner{User: "ci", Host: "host", Port: 22, Python: "py -3.13"}},
		{"ssh://ci@host?python-version=3.13.1", Runner{User: "ci", Host: "host", Port: 22, PythonVersion: "3.13.1"}},
		{"ssh://ci@host?venv=.cache/pybundle-venv", Runner{User: "ci", Host: "host", Port: 22, Venv: ".cache/pybundle-venv"}},
		{"ssh://ci@host:2200?wheelhouse=/srv/wheels", Runner{User: "ci", Host: "host", Port: 2200, Wheelhouse: "/srv/wheels"}},
		{
			`ssh://ci@win:22?python=C:\Python313\python.exe&python-version=3.13&venv=C:\pybundle\venv&wheelhouse=D:\wheels`,
			Runner{User: "ci", Host: "win", Port: 22, Python: `C:\Python313\python.exe`, PythonVersion: "3.13", Venv: `C:\pybundle\venv`, Wheelhouse: `D:\wheels`},
		},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRunner(tc.in)
			assert.NilError(t, err)
			assert.DeepEqual(t, got, tc.want)
		})
	}
}

func TestParseRunnerErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		msg      []string // each must be in the error
	}{
		{"no scheme", "pybundle@10.0.0.9", []string{"want ssh://user@host[:port]"}},
		{"host only", "mac-mini", []string{"want ssh://"}},
		{"other scheme", "sftp://pybundle@10.0.0.9", []string{"want ssh://"}},
		{"http", "http://pybundle@10.0.0.9:22", []string{"want ssh://"}},
		{"empty", "", []string{"want ssh://"}},
		{"no user", "ssh://10.0.0.9", []string{"give the login", "ssh://user@10.0.0.9"}},
		{"empty user", "ssh://@10.0.0.9", []string{"give the login"}},
		{"no host", "ssh://ci@", []string{"no host"}},
		{"no host with port", "ssh://ci@:22", []string{"no host"}},
		{"port zero", "ssh://ci@host:0", []string{`bad port "0"`}},
		{"port too big", "ssh://ci@host:65536", []string{`bad port "65536"`}},
		{"port not a number", "ssh://ci@host:twentytwo", []string{"not a URL", "port"}},
		{"negative port", "ssh://ci@host:-1", []string{"port"}},
		{"path", "ssh://ci@host/builds", []string{`unexpected path "/builds"`, "?venv="}},
		{"deep path", "ssh://ci@host:22/home/ci/venv", []string{"unexpected path"}},
		{"unknown setting", "ssh://ci@host?pyhton=python3", []string{`unknown setting "pyhton"`, "python, python-version, venv, wheelhouse"}},
		{"unknown setting key", "ssh://ci@host?key=/tmp/id", []string{`unknown setting "key"`}},
		{"duplicated setting", "ssh://ci@host?venv=a&venv=b", []string{"venv given 2 times"}},
		{"duplicated empty", "ssh://ci@host?python=&python=", []string{"python given 2 times"}},
		{"double quote", `ssh://ci@win?python="C:\Program Files\Python\python.exe"`, []string{"quotes, % and line breaks are not allowed", "python="}},
		{"escaped quote", "ssh://ci@win?venv=a%22b", []string{"not allowed"}},
		{"percent", "ssh://ci@win?venv=%25USERPROFILE%25\\venv", []string{"venv=", "not allowed"}},
		{"newline", "ssh://ci@host?venv=a%0Ab", []string{"not allowed"}},
		{"nul", "ssh://ci@host?venv=a%00b", []string{"not allowed"}},
		{"semicolon", "ssh://ci@host?venv=a;b", []string{"bad settings"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRunner(tc.in)
			assert.Assert(t, err != nil, "parsed as %+v", r)
			assert.DeepEqual(t, r, Runner{})
			for _, m := range tc.msg {
				assert.ErrorContains(t, err, m)
			}
		})
	}
}

// A password in the address is refused, and never repeated: the error ends up in CI logs.
// Every error path is tried, including the ones that come before the password check.
func TestParseRunnerHidesPassword(t *testing.T) {
	const secret = "hunter2-S3cret"
	for _, tc := range []struct {
		name, in, msg string
	}{
		{"password", "ssh://ci:" + secret + "@10.0.0.9", "no passwords in the address"},
		{"password and port", "ssh://ci:" + secret + "@10.0.0.9:2222?venv=v", "no passwords"},
		{"empty password", "ssh://ci:@10.0.0.9", "no passwords"},
		{"bad port", "ssh://ci:" + secret + "@10.0.0.9:abc", "not a URL"},
		{"out of range port", "ssh://ci:" + secret + "@10.0.0.9:99999", "no passwords"},
		{"other scheme", "sftp://ci:" + secret + "@10.0.0.9", "want ssh://"},
		{"no user", "ssh://:" + secret + "@10.0.0.9", "give the login"},
		{"no slashes", "ssh:ci:" + secret + "@10.0.0.9", "give the login"},
		{"space in host", "ssh://ci:" + secret + "@10.0.0 .9", "not a URL"},
		{"at in password", "ssh://ci:" + secret + "@x@10.0.0.9:abc", "not a URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRunner(tc.in)
			assert.ErrorContains(t, err, tc.msg)
			assert.Assert(t, !strings.Contains(err.Error(), secret), "error repeats the password: %v", err)
			assert.Assert(t, !strings.Contains(err.Error(), "S3cret"), "error repeats part of the password: %v", err)
		})
	}
	_, err := ParseRunner("ssh://ci:" + secret + "@10.0.0.9")
	assert.ErrorContains(t, err, `"ssh://ci@10.0.0.9"`, "the address is still named, without the password")
}

func TestRedactRaw(t *testing.T) {
	for in, want := range map[string]string{
		"ssh://ci@host":               "ssh://ci@host",
		"ssh://ci:pw@host:22":         "ssh://ci:xxxxx@host:22",
		"ssh://ci:pw@host/a@b":        "ssh://ci:xxxxx@host/a@b",
		"ssh://ci:pw@host?venv=a@b:c": "ssh://ci:xxxxx@host?venv=a@b:c",
		"ssh://ci@host?venv=a:b@c":    "ssh://ci@host?venv=a:b@c",
		"ci:p:w@host":                 "ci:xxxxx@host",
		"ssh://ci:p@ss@host":          "ssh://ci:xxxxx@host",
		"host":                        "host",
		"":                            "",
	} {
		assert.Equal(t, redactRaw(in), want, in)
	}
}

func TestRunnerString(t *testing.T) {
	for _, tc := range []struct {
		r    Runner
		want string
	}{
		{Runner{User: "ci", Host: "10.0.0.9", Port: 22}, "ssh://ci@10.0.0.9:22"},
		{Runner{User: "ci", Host: "::1", Port: 2200}, "ssh://ci@[::1]:2200"},
		{Runner{User: "ci", Host: "h", Port: 22, Venv: "v", Python: "py -3.13"}, "ssh://ci@h:22?python=py+-3.13&venv=v"},
	} {
		assert.Equal(t, tc.r.String(), tc.want)
	}
	assert.Equal(t, Runner{User: "ci", Host: "::1", Port: 2200, Venv: "v"}.Address(), "ssh://ci@[::1]:2200", "Address leaves the settings out")
}

// String is an address ParseRunner reads back as the same runner, whatever the settings hold
// (spaces, backslashes, '&', '=', '#', '+', non-ASCII: everything ParseRunner accepts).
func TestRunnerStringRoundTrip(t *testing.T) {
	runners := []Runner{
		{User: "pybundle", Host: "10.213.0.2", Port: 22},
		{User: "ci", Host: "::1", Port: 2200},
		{User: "ci", Host: "fe80::1", Port: 22, Venv: "v"},
		{User: "first.last", Host: "mac-mini.local", Port: 65535},
		{User: "ci", Host: "win", Port: 22, Python: "py -3.13", PythonVersion: "3.13", Venv: `C:\pybundle venv`, Wheelhouse: `\\server\share\wheels`},
		{User: "ci", Host: "mac", Port: 2222, Python: "/opt/homebrew/bin/python3.13", Venv: "~/.cache/pybundle", Wheelhouse: "/Volumes/Wheels & More/cp313"},
		{User: "ci", Host: "h", Port: 22, Venv: "a=b&c=d#e+f?g"},
		{User: "ci", Host: "h", Port: 22, Wheelhouse: "/srv/räder/ホイール"},
	}
	for _, r := range runners {
		t.Run(r.String(), func(t *testing.T) {
			back, err := ParseRunner(r.String())
			assert.NilError(t, err)
			assert.DeepEqual(t, back, r)
			assert.Equal(t, back.String(), r.String())
		})
	}
	// and from the other side: a parsed address prints as something that parses the same
	for _, s := range []string{
		"ssh://ci@host?venv=v&python=py+-3.13",
		"ssh://ci@[::1]:2200?wheelhouse=%2Fsrv%2Fwheels",
		"ssh://ci@host",
	} {
		r, err := ParseRunner(s)
		assert.NilError(t, err)
		back, err := ParseRunner(r.String())
		assert.NilError(t, err)
		assert.DeepEqual(t, back, r)
	}
}

var (
	linuxAMD64   = target.Target{OS: "linux", Arch: "amd64"}
	linuxARM64   = target.Target{OS: "linux", Arch: "arm64"}
	darwinAMD64  = target.Target{OS: "darwin", Arch: "amd64"}
	darwinARM64  = target.Target{OS: "darwin", Arch: "arm64"}
	windowsAMD64 = target.Target{OS: "windows", Arch: "amd64"}

	allTargets = []target.Target{darwinAMD64, darwinARM64, linuxAMD64, linuxARM64, windowsAMD64}
)

func mustRunner(t *testing.T, s string) Runner {
	t.Helper()
	r, err := ParseRunner(s)
	assert.NilError(t, err)
	return r
}

// routes prints a routing as target → host, so the tables below stay readable.
func routes(m map[target.Target]Runner) map[string]string {
	out := map[string]string{}
	for t, r := range m {
		out[t.String()] = r.Host
	}
	return out
}

func TestRoute(t *testing.T) {
	for _, tc := range []struct {
		name    string
		targets []target.Target
		specs   []string
		want    map[string]string
	}{
		{
			name:    "bare URL takes darwin and windows, linux stays in Dagger",
			targets: allTargets,
			specs:   []string{"ssh://ci@any"},
			want:    map[string]string{"darwin/amd64": "any", "darwin/arm64": "any", "windows/amd64": "any"},
		},
		{
			name:    "linux only: nothing to route",
			targets: []target.Target{linuxAMD64, linuxARM64},
			specs:   []string{"ssh://ci@any"},
			want:    map[string]string{},
		},
		{
			name:    "no specs and no target needing one",
			targets: []target.Target{linuxAMD64},
			want:    map[string]string{},
		},
		{
			name:    "OS patterns",
			targets: allTargets,
			specs:   []string{"darwin=ssh://ci@mac", "windows=ssh://ci@win"},
			want:    map[string]string{"darwin/amd64": "mac", "darwin/arm64": "mac", "windows/amd64": "win"},
		},
		{
			name:    "OS pattern beats the bare URL",
			targets: allTargets,
			specs:   []string{"ssh://ci@any", "windows=ssh://ci@win"},
			want:    map[string]string{"darwin/amd64": "any", "darwin/arm64": "any", "windows/amd64": "win"},
		},
		{
			name:    "target pattern beats OS pattern beats bare URL, in any order",
			targets: allTargets,
			specs:   []string{"darwin/arm64=ssh://ci@m1", "ssh://ci@any", "darwin=ssh://ci@mac"},
			want:    map[string]string{"darwin/amd64": "mac", "darwin/arm64": "m1", "windows/amd64": "any"},
		},
		{
			name:    "a target pattern routes a linux target away from Dagger",
			targets: allTargets,
			specs:   []string{"ssh://ci@any", "linux/arm64=ssh://ci@graviton"},
			want:    map[string]string{"darwin/amd64": "any", "darwin/arm64": "any", "windows/amd64": "any", "linux/arm64": "graviton"},
		},
		{
			name:    "an OS pattern routes every linux target",
			targets: []target.Target{linuxAMD64, linuxARM64},
			specs:   []string{"linux=ssh://ci@box"},
			want:    map[string]string{"linux/amd64": "box", "linux/arm64": "box"},
		},
		{
			name:    "spellings target.Parse knows, OS in any case, blanks",
			targets: allTargets,
			specs:   []string{" Windows=ssh://ci@win ", "", "macos/aarch64=ssh://ci@m1", "darwin/x86_64=ssh://ci@intel", "linux/arm64/v8=ssh://ci@graviton"},
			want:    map[string]string{"darwin/amd64": "intel", "darwin/arm64": "m1", "windows/amd64": "win", "linux/arm64": "graviton"},
		},
		{
			name:    "patterns for targets not being built are ignored",
			targets: []target.Target{linuxAMD64, windowsAMD64},
			specs:   []string{"windows=ssh://ci@win", "darwin=ssh://ci@mac", "darwin/arm64=ssh://ci@m1", "linux/arm64=ssh://ci@graviton"},
			want:    map[string]string{"windows/amd64": "win"},
		},
		{
			name:    "a bare URL with settings is not a pattern",
			targets: []target.Target{windowsAMD64},
			specs:   []string{"ssh://ci@win?venv=C:/v&python=py+-3.13"},
			want:    map[string]string{"windows/amd64": "win"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Route(tc.targets, tc.specs)
			assert.NilError(t, err)
			assert.DeepEqual(t, routes(got), tc.want)
		})
	}
}

func TestRouteKeepsSettings(t *testing.T) {
	got, err := Route([]target.Target{windowsAMD64, darwinARM64}, []string{
		"windows=ssh://ci@win:2222?python=py+-3.13&venv=C:/v",
		"darwin/arm64=ssh://ci@mac?wheelhouse=/srv/w",
	})
	assert.NilError(t, err)
	assert.DeepEqual(t, got[windowsAMD64], Runner{User: "ci", Host: "win", Port: 2222, Python: "py -3.13", Venv: "C:/v"})
	assert.DeepEqual(t, got[darwinARM64], Runner{User: "ci", Host: "mac", Port: 22, Wheelhouse: "/srv/w"})
}

func TestRouteErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		specs []string
		msg   []string
	}{
		{"two bare URLs", []string{"ssh://ci@a", "ssh://ci@b"}, []string{"two runners without a target", "ssh://ci@a:22", "ssh://ci@b:22", "--runner windows/amd64="}},
		{"same OS twice", []string{"windows=ssh://ci@a", "windows=ssh://ci@b"}, []string{"two runners for windows", "ssh://ci@a:22", "ssh://ci@b:22"}},
		{"same OS, other case", []string{"windows=ssh://ci@a", "WINDOWS=ssh://ci@b"}, []string{"two runners for windows"}},
		{"same target twice", []string{"darwin/arm64=ssh://ci@a", "darwin/arm64=ssh://ci@b"}, []string{"two runners for darwin/arm64"}},
		{"same target, two spellings", []string{"linux/arm64=ssh://ci@a", "linux/aarch64=ssh://ci@b"}, []string{"two runners for linux/arm64"}},
		{"unknown OS", []string{"freebsd=ssh://ci@bsd"}, []string{`unknown OS "freebsd"`, "darwin, windows or linux"}},
		{"node OS alias is not an OS pattern", []string{"win32=ssh://ci@win"}, []string{`unknown OS "win32"`}},
		{"unknown target", []string{"windows/arm64=ssh://ci@win"}, []string{"runner windows/arm64=ssh://ci@win:22", "windows/arm64"}},
		{"bad address behind a pattern", []string{"windows=ci@win"}, []string{"want ssh://"}},
		{"bad bare address", []string{"ssh://win"}, []string{"give the login"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Route(allTargets, tc.specs)
			assert.Assert(t, err != nil, "routed: %v", routes(got))
			assert.Assert(t, is.Nil(got))
			for _, m := range tc.msg {
				assert.ErrorContains(t, err, m)
			}
		})
	}
}

func TestRouteMissingRunner(t *testing.T) {
	for _, tc := range []struct {
		name    string
		targets []target.Target
		specs   []string
		missing []string
		verb    string
	}{
		{"no runner at all", allTargets, nil, []string{"darwin/amd64", "darwin/arm64", "windows/amd64"}, "need"},
		{"one missing", []target.Target{linuxAMD64, windowsAMD64}, nil, []string{"windows/amd64"}, "needs"},
		{"OS pattern leaves another OS", allTargets, []string{"darwin=ssh://ci@mac"}, []string{"windows/amd64"}, "needs"},
		{"target pattern leaves the other arch", []target.Target{darwinAMD64, darwinARM64}, []string{"darwin/arm64=ssh://ci@m1"}, []string{"darwin/amd64"}, "needs"},
		{"linux pattern does not serve windows", []target.Target{linuxARM64, windowsAMD64, darwinARM64}, []string{"linux=ssh://ci@box"}, []string{"windows/amd64", "darwin/arm64"}, "need"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Route(tc.targets, tc.specs)
			assert.Assert(t, is.Nil(got))
			var mre *MissingRunnerError
			assert.Assert(t, errors.As(err, &mre), "error %T: %v", err, err)
			assert.DeepEqual(t, mre.Targets, tc.missing)
			msg := err.Error()
			assert.Assert(t, strings.HasPrefix(msg, strings.Join(tc.missing, ", ")+" "+tc.verb+" a native runner"), msg)
			assert.Assert(t, is.Contains(msg, "--runner ssh://user@host"))
			assert.Assert(t, is.Contains(msg, "--runner "+tc.missing[0]+"=ssh://user@host"))
			assert.Assert(t, is.Contains(msg, "--runner-key"))
			assert.Assert(t, is.Contains(msg, "PyInstaller is not a cross-compiler"))
		})
	}
}

func TestMissingRunnerErrorGrammar(t *testing.T) {
	one := (&MissingRunnerError{Targets: []string{"windows/amd64"}}).Error()
	assert.Assert(t, strings.HasPrefix(one, "windows/amd64 needs a native runner"), one)
	two := (&MissingRunnerError{Targets: []string{"darwin/arm64", "windows/amd64"}}).Error()
	assert.Assert(t, strings.HasPrefix(two, "darwin/arm64, windows/amd64 need a native runner"), two)
	assert.Assert(t, is.Contains(two, "--runner darwin/arm64=ssh://user@host"), "the example uses the first target")
}

// Found by review: ssh://ci@fe80::1 parsed as host "fe80:" port 1, ssh://ci@:: as host ":".
func TestParseRunnerIPv6(t *testing.T) {
	for _, bad := range []string{"ssh://ci@fe80::1", "ssh://ci@::", "ssh://ci@fe80::1:2222", "ssh://ci@[fe80:zz]:22"} {
		_, err := ParseRunner(bad)
		assert.Check(t, err != nil, bad)
	}
	_, err := ParseRunner("ssh://ci@fe80::1")
	assert.ErrorContains(t, err, "an IPv6 address goes in brackets: ssh://ci@[fe80::1]:22")
	r, err := ParseRunner("ssh://ci@[fe80::1]:2222")
	assert.NilError(t, err)
	assert.Equal(t, r.Host, "fe80::1")
	assert.Equal(t, r.Port, 2222)
	assert.Equal(t, r.Address(), "ssh://ci@[fe80::1]:2222")
	r, err = ParseRunner("ssh://ci@[::1]")
	assert.NilError(t, err)
	assert.Equal(t, r.Host, "::1")
	assert.Equal(t, r.Port, 22)
}
