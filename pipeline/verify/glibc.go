package verify

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// glibcPrefix marks the symbol-version names glibc uses (GLIBC_2.38). Other names
// glibc defines, such as GLIBC_PRIVATE or GLIBC_ABI_DT_RELR, are not versions and
// are skipped: they say nothing about which glibc release is old enough.
const glibcPrefix = "GLIBC_"

// GlibcNeeds returns the highest GLIBC_x.y version that the ELF file at path
// requires from the C library (its SHT_GNU_verneed entries), e.g. "2.38".
//
// That is the number that decides whether a PyInstaller build runs on an older
// system: a trixie-built libpython asks for GLIBC_2.38 and bookworm's loader
// refuses it with "version `GLIBC_2.38' not found".
//
// A file that is not ELF (a shell script, a Mach-O or PE executable) and an ELF
// file without version needs (a static binary) return "", nil: they put no
// floor on the runtime's glibc.
func GlibcNeeds(path string) (string, error) {
	vs, err := GlibcVersionsNeeded(path)
	if err != nil || len(vs) == 0 {
		return "", err
	}
	return vs[len(vs)-1], nil
}

// GlibcVersionsNeeded returns every GLIBC_x.y version path needs, lowest first, without
// repeats: what a glibc target is checked against, file by file.
func GlibcVersionsNeeded(path string) ([]string, error) {
	f, ok, err := openELF(path)
	if err != nil || !ok {
		return nil, err
	}
	defer f.Close()
	if f.SectionByType(elf.SHT_GNU_VERNEED) == nil {
		return nil, nil
	}
	needs, err := f.DynamicVersionNeeds()
	if err != nil {
		return nil, fmt.Errorf("%s: reading ELF version needs: %w", path, err)
	}
	var out []string
	for _, lib := range needs {
		for _, dep := range lib.Needs {
			if v, ok := glibcVersion(dep.Dep); ok && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	slices.SortFunc(out, CompareVersions)
	return out, nil
}

// Above are the versions of vs above target (vs sorted lowest first).
func Above(vs []string, target string) []string {
	i := slices.IndexFunc(vs, func(v string) bool { return CompareVersions(v, target) > 0 })
	if i < 0 {
		return nil
	}
	return vs[i:]
}

// GlibcProvided returns the glibc release of the C library at libcPath: the
// version in its banner ("… stable release version 2.31.", what libc.so.6
// prints when run) when that is at least the highest GLIBC_x.y version it
// defines (its SHT_GNU_verdef entries), else that highest version. The two
// differ for releases that added no symbol version: Debian 11's glibc 2.31
// defines GLIBC_2.30 at most, and a runtime matrix must still call it 2.31, the
// number the glibc target is given in. Comparing a bundle's needs against the
// release is as exact as against the definitions: no file can need a version
// between them, none exists. It is read from the file rather than from `ldd
// --version` because the verify container need not ship ldd.
func GlibcProvided(libcPath string) (string, error) {
	f, ok, err := openELF(libcPath)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s: not an ELF file", libcPath)
	}
	defer f.Close()
	if f.SectionByType(elf.SHT_GNU_VERDEF) == nil {
		return "", fmt.Errorf("%s: no ELF version definitions (not a glibc libc.so.6?)", libcPath)
	}
	defs, err := f.DynamicVersions()
	if err != nil {
		return "", fmt.Errorf("%s: reading ELF version definitions: %w", libcPath, err)
	}
	var max string
	for _, d := range defs {
		if v, ok := glibcVersion(d.Name); ok && CompareVersions(v, max) > 0 {
			max = v
		}
	}
	if max == "" {
		return "", fmt.Errorf("%s: defines no GLIBC_x.y version (not glibc?)", libcPath)
	}
	if ro := f.Section(".rodata"); ro != nil && ro.Type != elf.SHT_NOBITS && ro.Size <= maxRodata {
		if data, err := ro.Data(); err == nil {
			if rel := bannerRelease(data); CompareVersions(rel, max) > 0 {
				return rel, nil
			}
		}
	}
	return max, nil
}

// maxRodata bounds the read-only data read for the banner (glibc's is ~200 KiB).
const maxRodata = 16 << 20

// releaseBanner is glibc's version banner: "GNU C Library (Debian GLIBC 2.31-13+deb11u11)
// stable release version 2.31." (a development build says "development release version").
var releaseBanner = regexp.MustCompile(`GNU C Library [^\x00]{0,200}?release version ([0-9]+\.[0-9]+(?:\.[0-9]+)?)`)

// bannerRelease is the release version in glibc's banner within data ("" without one).
func bannerRelease(data []byte) string {
	if m := releaseBanner.FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}

// CompareVersions compares dotted version numbers component by component as
// integers, so "2.38" > "2.4" (a string comparison gets that wrong). Missing
// components count as 0 ("2.3" == "2.3.0"); a component that is not a number
// counts as 0 too; "" is lower than any version. It returns -1, 0 or +1.
func CompareVersions(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" || b == "" {
		if a == "" {
			return -1
		}
		return 1
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		x, y := component(as, i), component(bs, i)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func component(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	n, err := strconv.Atoi(parts[i])
	if err != nil {
		return 0
	}
	return n
}

// libcCandidates lists where Debian-family (multiarch) and other distributions
// keep libc.so.6. The running architecture's multiarch directories come first so
// that a foreign-arch libc installed alongside is not picked by mistake.
func libcCandidates(goarch string) []string {
	multiarch := map[string]string{
		"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu",
		"386": "i386-linux-gnu", "arm": "arm-linux-gnueabihf",
		"riscv64": "riscv64-linux-gnu", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
	}
	var out []string
	if m, ok := multiarch[goarch]; ok {
		out = append(out, "/lib/"+m+"/libc.so.6", "/usr/lib/"+m+"/libc.so.6")
	}
	for _, m := range []string{"x86_64-linux-gnu", "aarch64-linux-gnu"} {
		if m != multiarch[goarch] {
			out = append(out, "/lib/"+m+"/libc.so.6", "/usr/lib/"+m+"/libc.so.6")
		}
	}
	return append(out, "/lib64/libc.so.6", "/usr/lib64/libc.so.6", "/lib/libc.so.6", "/usr/lib/libc.so.6")
}

// FindLibc returns the path of the running system's glibc libc.so.6. It fails on
// systems without glibc (Alpine/musl, macOS, Windows), where a glibc-linked
// artifact cannot run at all.
func FindLibc() (string, error) {
	cands := libcCandidates(runtime.GOARCH)
	for _, p := range cands {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no glibc libc.so.6 found (looked in %s)", strings.Join(cands, ", "))
}

// glibcVersion turns "GLIBC_2.38" into "2.38"; ok is false for non-version names.
func glibcVersion(name string) (string, bool) {
	v, ok := strings.CutPrefix(name, glibcPrefix)
	if !ok || v == "" {
		return "", false
	}
	for _, p := range strings.Split(v, ".") {
		if _, err := strconv.Atoi(p); err != nil {
			return "", false
		}
	}
	return v, true
}

// openELF opens path as ELF. ok is false (with a nil error) when the file does
// not start with the ELF magic, so callers can treat scripts and non-Linux
// executables as "no requirements" while still reporting unreadable or corrupt
// ELF files as errors.
func openELF(path string) (f *elf.File, ok bool, err error) {
	if ok, err := isELF(path); err != nil || !ok {
		return nil, false, err
	}
	f, err = elf.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return f, true, nil
}

// isELF reports whether the file at path starts with the ELF magic bytes.
func isELF(path string) (bool, error) {
	fh, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	magic := make([]byte, len(elf.ELFMAG))
	if _, err := io.ReadFull(fh, magic); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil // shorter than the magic: certainly not ELF
		}
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return bytes.Equal(magic, []byte(elf.ELFMAG)), nil
}
