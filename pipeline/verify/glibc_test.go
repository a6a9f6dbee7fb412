package verify

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2.38", "2.4", 1}, // numeric, not lexical
		{"2.4", "2.38", -1},
		{"2.36", "2.36", 0},
		{"2.3", "2.3.0", 0},
		{"2.3.4", "2.3", 1},
		{"2.17", "2.2.5", 1},
		{"", "2.17", -1},
		{"2.17", "", 1},
		{"", "", 0},
		{"3.0", "2.99", 1},
	} {
		assert.Equal(t, CompareVersions(tc.a, tc.b), tc.want, "CompareVersions(%q, %q)", tc.a, tc.b)
	}
}

// hostGlibc reads the host's glibc version from `ldd --version`, independently
// of the ELF parsing under test.
func hostGlibc(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ldd", "--version").CombinedOutput()
	if err != nil {
		t.Skipf("ldd --version: %v (not a glibc host?)", err)
	}
	m := regexp.MustCompile(`(?m)^ldd .* (\d+\.\d+)\s*$`).FindSubmatch(out)
	assert.Assert(t, m != nil, "unexpected ldd output: %s", out)
	return string(m[1])
}

func TestGlibcProvidedMatchesLdd(t *testing.T) {
	want := hostGlibc(t)
	libc, err := FindLibc()
	assert.NilError(t, err)
	got, err := GlibcProvided(libc)
	assert.NilError(t, err)
	assert.Equal(t, got, want, "libc %s", libc)
}

func TestGlibcNeeds(t *testing.T) {
	host := hostGlibc(t)
	libc, err := FindLibc()
	assert.NilError(t, err)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.WriteFile(p, []byte(content), 0o755))
		return p
	}
	ls, err := exec.LookPath("ls")
	assert.NilError(t, err)

	for _, tc := range []struct {
		name string
		path string
		// the result must lie within [min, max]; "" for both means no needs
		min, max string
	}{
		{"ls", ls, "2.3", host},
		{"libc.so.6", libc, "2.2", host},
		{"shell script", write("script.sh", "#!/bin/sh\necho hi\n"), "", ""},
		{"empty file", write("empty", ""), "", ""},
		{"shorter than ELF magic", write("short", "\x7fE"), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := GlibcNeeds(tc.path)
			assert.NilError(t, err)
			if tc.min == "" {
				assert.Equal(t, got, "")
				return
			}
			assert.Assert(t, CompareVersions(got, tc.min) >= 0, "%s needs %q, expected >= %s", tc.path, got, tc.min)
			assert.Assert(t, CompareVersions(got, tc.max) <= 0, "%s needs %q, more than the host glibc %s it runs on", tc.path, got, tc.max)
		})
	}

	t.Run("corrupt ELF", func(t *testing.T) {
		p := write("corrupt", "\x7fELF garbage that is no header")
		_, err := GlibcNeeds(p)
		assert.ErrorContains(t, err, p)
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := GlibcNeeds(filepath.Join(dir, "nope"))
		assert.Assert(t, os.IsNotExist(err), "%v", err)
	})
	t.Run("GlibcProvided of a non-libc", func(t *testing.T) {
		_, err := GlibcProvided(ls)
		assert.ErrorContains(t, err, ls)
	})
}

func TestGlibcVersionName(t *testing.T) {
	for name, want := range map[string]string{
		"GLIBC_2.38": "2.38", "GLIBC_2.2.5": "2.2.5",
		"GLIBC_PRIVATE": "", "GLIBC_ABI_DT_RELR": "", "GLIBCXX_3.4": "", "GCC_3.0": "",
	} {
		got, ok := glibcVersion(name)
		assert.Equal(t, got, want, name)
		assert.Equal(t, ok, want != "", name)
	}
}

func TestAbove(t *testing.T) {
	vs := []string{"2.2.5", "2.3", "2.17", "2.34", "2.38"}
	assert.DeepEqual(t, Above(vs, "2.31"), []string{"2.34", "2.38"})
	assert.DeepEqual(t, Above(vs, "2.38"), []string(nil))
	assert.DeepEqual(t, Above(vs, "2.2"), vs)
	assert.DeepEqual(t, Above(nil, "2.31"), []string(nil))
}

func TestGlibcTargetCheck(t *testing.T) {
	ok, detail := glibcTargetCheck("2.31", glibcResult{inspected: true, floor: "2.28"})
	assert.Assert(t, ok, detail)
	ok, detail = glibcTargetCheck("2.31", glibcResult{floor: "2.28"})
	assert.Assert(t, !ok && strings.Contains(detail, "not inspected"), detail)
	var above []GlibcNeed
	for i := range 13 {
		above = append(above, GlibcNeed{File: fmt.Sprintf("lib%02d.so", i), Versions: []string{"2.34"}})
	}
	above = append(above, GlibcNeed{File: "newest.so", Versions: []string{"2.34", "2.38"}})
	ok, detail = glibcTargetCheck("2.31", glibcResult{inspected: true, floor: "2.38", above: above})
	assert.Assert(t, !ok)
	assert.Assert(t, strings.HasPrefix(detail, "14 file(s) need a glibc above 2.31: newest.so (GLIBC_2.34, GLIBC_2.38); lib00.so (GLIBC_2.34); "), "newest first: %s", detail)
	assert.Assert(t, strings.Contains(detail, "and 2 more"), detail)
}

// TestMissingOn: the files a runtime lacks versions for, in the order a start meets them.
func TestMissingOn(t *testing.T) {
	needs := []GlibcNeed{
		{File: "peft_engine", Versions: []string{"2.2.5", "2.34"}},
		{File: "_internal/zlib.so", Versions: []string{"2.2.5"}},
		{File: "_internal/pydantic_core/_pydantic_core.so", Versions: []string{"2.14", "2.38"}},
		{File: "_internal/libpython3.13.so.1.0", Versions: []string{"2.3", "2.33", "2.34", "2.38"}},
		{File: "_internal/libcrypto.so.3", Versions: []string{"2.33", "2.38"}},
		{File: "_internal/script", Versions: nil},
	}
	for _, tc := range []struct {
		name, runtime string
		want          []GlibcNeed
	}{
		{"runtime unknown: nothing claimed", "", nil},
		{"new enough", "2.41", nil},
		{"exactly the floor", "2.38", nil},
		{"bookworm: only 2.38 is missing; libpython first, then by name", "2.36", []GlibcNeed{
			{File: "_internal/libpython3.13.so.1.0", Versions: []string{"2.38"}},
			{File: "_internal/libcrypto.so.3", Versions: []string{"2.38"}},
			{File: "_internal/pydantic_core/_pydantic_core.so", Versions: []string{"2.38"}},
		}},
		{"bullseye: the executable first, every version above 2.31", "2.31", []GlibcNeed{
			{File: "peft_engine", Versions: []string{"2.34"}},
			{File: "_internal/libpython3.13.so.1.0", Versions: []string{"2.33", "2.34", "2.38"}},
			{File: "_internal/libcrypto.so.3", Versions: []string{"2.33", "2.38"}},
			{File: "_internal/pydantic_core/_pydantic_core.so", Versions: []string{"2.38"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.DeepEqual(t, missingOn(needs, tc.runtime, "peft_engine"), tc.want)
		})
	}
}

// TestOSName: a runtime row's name from the os-release files of the systems users run.
func TestOSName(t *testing.T) {
	for _, tc := range []struct{ name, osRelease, want string }{
		{"debian 11", "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"11\"\nVERSION=\"11 (bullseye)\"\nVERSION_CODENAME=bullseye\nID=debian\n", "Debian 11 (bullseye)"},
		{"debian 13", "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\n", "Debian 13 (trixie)"},
		{"ubuntu", "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n", "Ubuntu 22.04 (jammy)"},
		{"fedora, no codename", "NAME=\"Fedora Linux\"\nVERSION_ID=40\n", "Fedora 40"},
		{"testing: no VERSION_ID", "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\n", "Debian GNU/Linux trixie/sid"},
		{"single quotes and comments", "# a comment\nNAME='Alpine Linux'\nVERSION_ID='3.20.1'\n", "Alpine 3.20.1"},
		{"nothing", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, OSName([]byte(tc.osRelease)), tc.want)
		})
	}
}

// TestBannerRelease: the glibc release from its banner, for releases that added no symbol
// version (Debian 11's 2.31 defines GLIBC_2.30 at most).
func TestBannerRelease(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"debian 11: the release, not GLIBC_2.30", "\x00GNU C Library (Debian GLIBC 2.31-13+deb11u11) stable release version 2.31.\nCopyright", "2.31"},
		{"debian 13", "GNU C Library (Debian GLIBC 2.41-12+deb13u5) stable release version 2.41.", "2.41"},
		{"development build", "GNU C Library (GNU libc) development release version 2.39.9000.", "2.39.9000"},
		{"no banner", "just some strings\x00release version 9.9", ""},
		{"not across strings", "GNU C Library\x00 release version 2.31", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, bannerRelease([]byte(tc.data)), tc.want)
		})
	}
}
