package images

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestCompatCheck(t *testing.T) {
	assert.NilError(t, CompatCheck("amd64"))
	for _, arch := range []string{"arm64", "riscv64"} {
		err := CompatCheck(arch)
		assert.Check(t, is.ErrorContains(err, "the compat builder has a toolchain for linux/amd64 only, not linux/"+arch))
		assert.Check(t, is.ErrorContains(err, "README: The compat builder"))
		_, err = CompatBuildSteps(arch)
		assert.Check(t, err != nil, arch)
	}
}

// The toolchain follows the Debian builder's pins: the same upstream Python and the same
// PyInstaller (one definition of each version).
func TestCompatSourcesFollowTheBuilderPins(t *testing.T) {
	byName := map[string]Package{}
	for _, p := range BuilderPackages {
		byName[p.Name] = p
	}
	srcs := CompatSourcePackages()
	assert.Equal(t, len(srcs), 2)
	assert.Check(t, is.Equal(srcs[0].Source, "python3.13"))
	assert.Check(t, is.DeepEqual(srcs[0].Pin, byName["python3.13"]))
	assert.Check(t, is.Equal(srcs[1].Source, "pyinstaller"))
	assert.Check(t, is.DeepEqual(srcs[1].Pin, byName["python3-pyinstaller"]))
	assert.Check(t, strings.HasPrefix(srcs[1].Pin.Version, PyInstallerVersion+"+ds"), "the source of PyInstaller %s", PyInstallerVersion)
	var hooks Package
	for _, p := range CompatWheelPackages() {
		if p.Name == "pyinstaller-hooks-contrib" {
			hooks = p
		}
	}
	assert.Check(t, is.DeepEqual(hooks, byName["pyinstaller-hooks-contrib"]))
}

// The fetch: valid sh, sources from the image's own apt sources (deb-src, backports on the same
// mirror, no host name), tarballs checked by apt-helper, each source package of its pin.
func TestCompatFetchScript(t *testing.T) {
	s := CompatFetchScript()
	shSyntax(t, s)
	for _, want := range []string{
		"Types: deb-src",
		"deb-src %s trixie-backports main",
		"fetch_source 'python3.13' '3.13.5-*'",
		"fetch_source 'pyinstaller' '6.22.2+ds-1~bpo13+1'",
		"dpkg --compare-versions",
		"/usr/lib/apt/apt-helper download-file",
		"apt-get download -qq -o APT::Sandbox::User=root 'python3-altgraph' 'python3-packaging' 'python3-setuptools' 'pyinstaller-hooks-contrib=2026.*'",
		"sources.txt",
	} {
		assert.Check(t, is.Contains(s, want))
	}
	noHost(t, s)
}

// fetch_source picks the newest version its glob accepts, as Debian orders versions.
func TestFetchSourcePicksTheNewestMatch(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	assert.NilError(t, os.MkdirAll(bin, 0o755))
	// Stand-ins for apt: showsrc lists versions, source --print-uris lists one tarball,
	// apt-helper "downloads" it.
	assert.NilError(t, os.WriteFile(filepath.Join(bin, "apt-cache"), []byte("#!/bin/sh\nprintf 'Package: python3.13\\nVersion: 3.13.5-2\\n\\nPackage: python3.13\\nVersion: 3.13.5-2+deb13u5\\n\\nVersion: 3.13.7-1\\n'\n"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(bin, "apt-get"), []byte("#!/bin/sh\necho \"$*\" > want.txt\necho \"'http://m/p/python3.13_3.13.5.orig.tar.xz' python3.13_3.13.5.orig.tar.xz 42 SHA256:abc\"\n"), 0o755))
	helper := filepath.Join(dir, "apt-helper")
	assert.NilError(t, os.WriteFile(helper, []byte("#!/bin/sh\necho \"$@\" > helper.txt\n"), 0o755))
	script := "set -eu\nfail() { echo \"$*\" >&2; exit 1; }\n" + strings.ReplaceAll(fetchSourceFn, "/usr/lib/apt/apt-helper", helper) +
		"fetch_source python3.13 '3.13.5-*'\n"
	cmd := exec.Command(sh, "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	assert.NilError(t, err, string(out))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		assert.NilError(t, err)
		return strings.TrimSpace(string(b))
	}
	assert.Check(t, is.Equal(read("want.txt"), "source --print-uris -qq python3.13=3.13.5-2+deb13u5"), "the newest 3.13.5 revision, not 3.13.7")
	assert.Check(t, is.Equal(read("helper.txt"), "download-file http://m/p/python3.13_3.13.5.orig.tar.xz python3.13_3.13.5.orig.tar.xz SHA256:abc"))
	assert.Check(t, is.Equal(read("sources.txt"), "python3.13 3.13.5-2+deb13u5 python3.13_3.13.5.orig.tar.xz"))
}

// The build: valid sh, PGO and LTO asked for and checked, the shared library found through its
// rpath, the bootloader compiled here, the glibc floor checked, a frozen program started.
func TestCompatBuildSteps(t *testing.T) {
	steps, err := CompatBuildSteps("amd64")
	assert.NilError(t, err)
	assert.Equal(t, len(steps), 3)
	var all []string
	for _, st := range steps {
		shSyntax(t, st.Script)
		all = append(all, st.Script)
	}
	s := strings.Join(all, "\n")
	assert.Check(t, !strings.Contains(s, "@"), "every placeholder replaced")
	for _, want := range []string{
		"'./configure' '--prefix=/opt/pybundle/python3.13' '--enable-shared' '--enable-optimizations' '--with-lto'",
		"'LDFLAGS=-Wl,-rpath,/opt/pybundle/python3.13/lib'",
		`make -j"$(nproc)"`,
		"*-fprofile-use*",
		"*-flto*",
		"pyi/PyInstaller/bootloader/Linux-64bit-intel",
		"-DLAUNCH_DEBUG",
		"-lz -lm -ldl -lpthread",
		CompatWheeler,
		"pip install --no-index --no-deps",
		"objdump -T",
		`"$v" "2.31"`,
		`echo "import $m"`,
		"-m PyInstaller --noconfirm",
		"> " + CompatInfo,
		`echo "optimization: PGO (instrumented with -fprofile-generate -fno-lto), LTO link $(`,
	} {
		assert.Check(t, is.Contains(s, want))
	}
	for _, m := range []string{"ssl", "sqlite3", "ctypes", "lzma", "bz2", "zlib", "uuid"} {
		assert.Check(t, is.Contains(CompatModules, m), "the issue's modules are proven: %s", m)
	}
	noHost(t, s)
}

// The LTO flags the CPython step rewrites, run on the Makefile lines CPython 3.13.5's configure
// writes with gcc: the link parallel (-flto=N, no -flto-partition=none), the instrumented build
// without LTO, and a Makefile with no LTO flags refused rather than built without them.
func TestCompatLTOFlags(t *testing.T) {
	steps, err := CompatBuildSteps("amd64")
	assert.NilError(t, err)
	script := steps[0].Script
	i := strings.Index(script, "sed -i -e 's/ -flto-partition=none//g'")
	j := strings.Index(script, `step "make (PGO training, LTO)"`)
	assert.Assert(t, i > 0 && j > i, "the rewrite comes between configure and make")
	rewrite := script[i:j]
	assert.Check(t, is.Contains(script, "PGO_PROF_GEN_FLAG='"+CompatProfileGenerate+"'"))
	assert.Check(t, is.Contains(CompatProfileGenerate, "-fno-lto"))
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	const configured = "CONFIGURE_CFLAGS_NODIST= -fno-semantic-interposition -flto -fuse-linker-plugin -ffat-lto-objects -flto-partition=none -g -std=c11 -Wextra\n" +
		"CONFIGURE_LDFLAGS_NODIST= -fno-semantic-interposition -flto -fuse-linker-plugin -ffat-lto-objects -flto-partition=none -g\n"
	run := func(makefile string) (string, error) {
		dir := t.TempDir()
		assert.NilError(t, os.WriteFile(filepath.Join(dir, "Makefile"), []byte(makefile), 0o644))
		cmd := exec.Command(sh, "-c", "set -eu\nfail() { echo \"$*\" >&2; exit 1; }\nnproc() { echo 2; }\n"+rewrite)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		b, rerr := os.ReadFile(filepath.Join(dir, "Makefile"))
		assert.NilError(t, rerr)
		return string(b) + string(out), err
	}
	got, err := run(configured)
	assert.NilError(t, err, got)
	assert.Check(t, is.Contains(got, "CONFIGURE_LDFLAGS_NODIST= -fno-semantic-interposition -flto=2 -fuse-linker-plugin -ffat-lto-objects -g\n"))
	assert.Check(t, is.Contains(got, "CONFIGURE_CFLAGS_NODIST= -fno-semantic-interposition -flto=2 -fuse-linker-plugin"))
	assert.Check(t, !strings.Contains(got, "partition"), got)

	got, err = run("CONFIGURE_CFLAGS_NODIST= -g -std=c11\nCONFIGURE_LDFLAGS_NODIST= -g\n")
	assert.Check(t, err != nil, "no LTO flags: refused: %s", got)
	assert.Check(t, is.Contains(got, "configure wrote no -flto into CONFIGURE_LDFLAGS_NODIST (Makefile)"))
}

func TestDebianWheelsScript(t *testing.T) {
	s := DebianWheelsScript([]Package{{Name: "python3-starlette"}, {Name: "pyinstaller-hooks-contrib", Version: "2026.*", Suite: "trixie-backports"}}, "/w.py", "/out")
	shSyntax(t, s)
	assert.Check(t, is.Contains(s, `echo "deb $mirror trixie-backports main"`))
	assert.Check(t, is.Contains(s, "'python3-starlette' 'pyinstaller-hooks-contrib=2026.*'"))
	assert.Check(t, is.Contains(s, "python3 /w.py /out /tmp/pybundle-debs/roots/*"))
	noHost(t, s)
}

// DebWheelPy on unpacked packages: a .dist-info one and an .egg-info one (converted, with
// its requirements as Requires-Dist) become wheels pip accepts; compiled code is refused.
func TestDebWheelPy(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	dir := t.TempDir()
	wheeler := filepath.Join(dir, "debwheel.py")
	assert.NilError(t, os.WriteFile(wheeler, []byte(DebWheelPy), 0o644))
	write := func(rel, text string) {
		p := filepath.Join(dir, rel)
		assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		assert.NilError(t, os.WriteFile(p, []byte(text), 0o644))
	}
	site := "usr/lib/python3/dist-packages/"
	write("roots/python3-starlette/"+site+"starlette/__init__.py", "__version__ = '0.46.1'\n")
	write("roots/python3-starlette/"+site+"starlette/__pycache__/x.cpython-313.pyc", "junk")
	write("roots/python3-starlette/"+site+"starlette-0.46.1.dist-info/METADATA", "Metadata-Version: 2.3\nName: starlette\nVersion: 0.46.1\nRequires-Dist: anyio<5,>=3.6.2\n\nbody\n")
	write("roots/python3-starlette/"+site+"starlette-0.46.1.dist-info/INSTALLER", "debian\n")
	write("roots/python3-click/"+site+"click/__init__.py", "")
	write("roots/python3-click/"+site+"click-8.1.8.egg-info/PKG-INFO", "Metadata-Version: 2.1\nName: click\nVersion: 8.1.8\n\nlong description\n")
	write("roots/python3-click/"+site+"click-8.1.8.egg-info/requires.txt", "colorama\n\n[:platform_system == \"Windows\"]\npywin32\n\n[dev]\npytest\n")
	write("roots/python3-click/"+site+"click-8.1.8.egg-info/entry_points.txt", "[console_scripts]\nx = click:main\n")
	out := filepath.Join(dir, "wheels")
	cmd := exec.Command(py, wheeler, out, filepath.Join(dir, "roots/python3-click"), filepath.Join(dir, "roots/python3-starlette"))
	b, err := cmd.CombinedOutput()
	assert.NilError(t, err, string(b))

	files := func(whl string) map[string]string {
		z, err := zip.OpenReader(filepath.Join(out, whl))
		assert.NilError(t, err)
		defer z.Close()
		m := map[string]string{}
		for _, f := range z.File {
			r, err := f.Open()
			assert.NilError(t, err)
			data, err := io.ReadAll(r)
			assert.NilError(t, err)
			m[f.Name] = string(data)
		}
		return m
	}
	st := files("starlette-0.46.1-py3-none-any.whl")
	assert.Check(t, is.Contains(st, "starlette/__init__.py"))
	assert.Check(t, !has(st, "__pycache__"), "no byte code")
	assert.Check(t, !has(st, "INSTALLER"), "Debian's installer record is not carried over")
	assert.Check(t, is.Contains(st["starlette-0.46.1.dist-info/WHEEL"], "Root-Is-Purelib: true\nTag: py3-none-any\n"))
	assert.Check(t, is.Contains(st["starlette-0.46.1.dist-info/METADATA"], "Requires-Dist: anyio<5,>=3.6.2"))
	// RECORD: every file with its sha256 and size, itself without.
	for _, line := range strings.Split(strings.TrimSpace(st["starlette-0.46.1.dist-info/RECORD"]), "\n") {
		f := strings.Split(line, ",")
		assert.Assert(t, len(f) == 3, line)
		if f[0] == "starlette-0.46.1.dist-info/RECORD" {
			assert.Check(t, f[1] == "" && f[2] == "")
			continue
		}
		sum := sha256.Sum256([]byte(st[f[0]]))
		assert.Check(t, is.Equal(f[1], "sha256="+base64.RawURLEncoding.EncodeToString(sum[:])), f[0])
	}
	ck := files("click-8.1.8-py3-none-any.whl")
	meta := ck["click-8.1.8.dist-info/METADATA"]
	assert.Check(t, is.Contains(meta, "Requires-Dist: colorama\n"))
	assert.Check(t, is.Contains(meta, `Requires-Dist: pywin32; platform_system == "Windows"`))
	assert.Check(t, is.Contains(meta, "Provides-Extra: dev\nRequires-Dist: pytest; extra == \"dev\""))
	assert.Check(t, is.Contains(meta, "\n\nlong description"))
	assert.Check(t, is.Contains(ck["click-8.1.8.dist-info/entry_points.txt"], "x = click:main"))

	// pip takes them (when this machine has one): installed into a target folder, no index.
	if exec.Command(py, "-m", "pip", "--version").Run() == nil {
		target := filepath.Join(dir, "site")
		b, err := exec.Command(py, "-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check", "--target", target,
			filepath.Join(out, "starlette-0.46.1-py3-none-any.whl")).CombinedOutput()
		assert.NilError(t, err, string(b))
		_, err = os.Stat(filepath.Join(target, "starlette", "__init__.py"))
		assert.Check(t, err)
	}

	// Compiled code: refused, naming the package and the file.
	write("roots/python3-pydantic-core/"+site+"pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so", "ELF")
	write("roots/python3-pydantic-core/"+site+"pydantic_core/__init__.py", "")
	write("roots/python3-pydantic-core/"+site+"pydantic_core-2.27.2.dist-info/METADATA", "Name: pydantic_core\nVersion: 2.27.2\n")
	b, err = exec.Command(py, wheeler, out, filepath.Join(dir, "roots/python3-pydantic-core")).CombinedOutput()
	assert.Check(t, err != nil)
	assert.Check(t, is.Contains(string(b), "pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so is compiled code: not a pure-Python package"))
	// No metadata: refused.
	write("roots/python3-bare/"+site+"bare.py", "")
	b, err = exec.Command(py, wheeler, out, filepath.Join(dir, "roots/python3-bare")).CombinedOutput()
	assert.Check(t, err != nil)
	assert.Check(t, is.Contains(string(b), "want one distribution's metadata, found none"))
}

func TestCompatPipPlan(t *testing.T) {
	for _, tc := range []struct {
		name, req string
		hashed    bool
		err       string
	}{
		{"no pin: PyInstaller is the toolchain's", "starlette\n", false, ""},
		{"pinned to ours", "starlette\npyinstaller==6.22.2\n", false, ""},
		{"hashed without PyInstaller", "starlette==0.46.1 --hash=sha256:aa\n", true, ""},
		{"pinned to another", "pyinstaller==6.10.0\n", false, "pins pyinstaller==6.10.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra, hashed, err := Compat.PipPlan(tc.req)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			assert.NilError(t, err)
			assert.Check(t, is.Len(extra, 0), "pip installs the backend's requirements only")
			assert.Equal(t, hashed, tc.hashed)
		})
	}
	extra, _, err := Pip.PipPlan("fastapi\n")
	assert.NilError(t, err)
	assert.DeepEqual(t, extra, []string{PipRequirement})
	assert.Check(t, Compat.Venv() && Pip.Venv() && !Debian.Venv())
}

func has(files map[string]string, part string) bool {
	for name := range files {
		if strings.Contains(name, part) {
			return true
		}
	}
	return false
}

func noHost(t *testing.T, s string) {
	t.Helper()
	for _, host := range []string{"://", "http:", "https:"} {
		assert.Check(t, !strings.Contains(s, host), "no mirror host in the script: %s", host)
	}
}
