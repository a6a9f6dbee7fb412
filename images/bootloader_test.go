package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestBootloaderDir(t *testing.T) {
	for _, tc := range []struct{ arch, want, wantErr string }{
		{"amd64", "/usr/lib/python3/dist-packages/PyInstaller/bootloader/Linux-64bit-intel", ""},
		{"arm64", "/usr/lib/python3/dist-packages/PyInstaller/bootloader/Linux-64bit-arm", ""},
		{"riscv64", "", "no static bootloader for linux/riscv64"},
	} {
		got, err := BootloaderDir(tc.arch)
		if tc.wantErr != "" {
			assert.Check(t, is.ErrorContains(err, tc.wantErr))
			assert.Check(t, is.ErrorContains(err, "bootloader=stock"))
			_, err := BootloaderScript(tc.arch)
			assert.Check(t, is.ErrorContains(err, tc.wantErr))
			continue
		}
		assert.Check(t, err)
		assert.Check(t, is.Equal(got, tc.want))
	}
}

// The build script: valid sh, checks PyInstaller's folder for its arch, takes everything from
// the builder and its apt sources (no host name), links as the note says, proves it with a run.
func TestBootloaderScript(t *testing.T) {
	for arch, platform := range map[string]string{"amd64": "Linux-64bit-intel", "arm64": "Linux-64bit-arm"} {
		s, err := BootloaderScript(arch)
		assert.NilError(t, err)
		assert.Check(t, !strings.Contains(s, "@"), "every placeholder replaced")
		for _, want := range []string{
			`[ "$platform" = "` + platform + `" ]`,
			"${source:Package} ${source:Version}",
			"deb-src",
			"apt-get source --print-uris",
			"/usr/lib/apt/apt-helper download-file",
			"patch -d pyi -p1 -F0 --batch --forward < " + BootloaderPatch,
			"Modules/_hacl",
			"gcc -no-pie",
			"-Wl,--whole-archive \"$lib\" -Wl,--no-whole-archive",
			"-Wl,--dynamic-list=exports.list",
			"-Wl,-Bstatic -lexpat -Wl,-Bdynamic -lz",
			"-DLAUNCH_DEBUG",
			"libc.so.*|libm.so.*|libz.so.*|ld-linux*)",
			"import pydantic_core._pydantic_core",
			`assert "libpython" not in f.read()`,
			"> " + BootloaderOut + "/" + BootloaderInfo,
		} {
			assert.Check(t, is.Contains(s, want), arch)
		}
		for _, host := range []string{"debian.org", "http://", "https://"} {
			assert.Check(t, !strings.Contains(s, host), "%s: no mirror host in the script: %s", arch, host)
		}
		if sh, err := exec.LookPath("sh"); err == nil {
			out, err := exec.Command(sh, "-n", "-c", s).CombinedOutput()
			assert.Check(t, err, "sh -n: %s", out)
		}
	}
}

// deb-src entries come from the image's own sources, one-line (options kept) and deb822 alike.
func TestDebSrcScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	etc := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(etc, "sources.list.d"), 0o755))
	write := func(name, text string) {
		assert.NilError(t, os.WriteFile(filepath.Join(etc, name), []byte(text), 0o644))
	}
	write("sources.list", "# comment\ndeb http://mirror.example/debian trixie main\ndeb-src http://mirror.example/debian trixie main\n")
	write("sources.list.d/backports.list", "deb [signed-by=/k.gpg] http://mirror.example/debian trixie-backports main\n")
	write("sources.list.d/debian.sources", "Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie trixie-updates\nComponents: main\n\n"+
		"Types: deb\nURIs: http://security.example/debian-security\nSuites: trixie-security\nComponents: main\n")
	for run := 0; run < 2; run++ { // twice: the second run must not feed on the first one's output
		out, err := exec.Command(sh, "-eu", "-c", DebSrcScript(etc)).CombinedOutput()
		assert.NilError(t, err, string(out))
	}
	list, err := os.ReadFile(filepath.Join(etc, "sources.list.d", "pybundle-src.list"))
	assert.NilError(t, err)
	assert.Equal(t, string(list), "deb-src http://mirror.example/debian trixie main\ndeb-src [signed-by=/k.gpg] http://mirror.example/debian trixie-backports main\n")
	deb822, err := os.ReadFile(filepath.Join(etc, "sources.list.d", "pybundle-src-debian.sources"))
	assert.NilError(t, err)
	assert.Equal(t, strings.Count(string(deb822), "Types: deb-src\n"), 2)
	assert.Check(t, !strings.Contains(string(deb822), "Types: deb\n"))
	assert.Check(t, is.Contains(string(deb822), "URIs: http://security.example/debian-security"))
	entries, err := os.ReadDir(filepath.Join(etc, "sources.list.d"))
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 4, "backports.list, debian.sources and one of each kind added")
}

// The patch is a well-formed unified diff (a malformed one would fail only in the builder) of
// the one place the bootloader loads Python, and it opens the executable itself.
func TestPyiDylibPythonPatch(t *testing.T) {
	p := PyiDylibPythonPatch
	assert.Check(t, is.Contains(p, "--- a/bootloader/src/pyi_dylib_python.c\n+++ b/bootloader/src/pyi_dylib_python.c\n"))
	hunk := regexp.MustCompile(`(?m)^@@ -(\d+),(\d+) \+(\d+),(\d+) @@\n`)
	m := hunk.FindStringSubmatchIndex(p)
	assert.Assert(t, m != nil, "no hunk header")
	oldN, _ := strconv.Atoi(p[m[4]:m[5]])
	newN, _ := strconv.Atoi(p[m[8]:m[9]])
	var gotOld, gotNew int
	for _, l := range strings.Split(strings.TrimSuffix(p[m[1]:], "\n"), "\n") {
		switch {
		case l == "" || l[0] == ' ':
			gotOld++
			gotNew++
		case l[0] == '-':
			gotOld++
		case l[0] == '+':
			gotNew++
		default:
			t.Fatalf("not a hunk line: %q", l)
		}
	}
	assert.Check(t, is.Equal(gotOld, oldN))
	assert.Check(t, is.Equal(gotNew, newN))
	assert.Check(t, is.Contains(p, "-    dylib->handle = dlopen(dll_fullpath, dlopen_flags);\n"))
	assert.Check(t, is.Contains(p, "+    dylib->handle = dlopen(NULL, dlopen_flags);\n"))
	assert.Equal(t, strings.Count(p, "@@ -"), 1, "one hunk")
}
