package target

import (
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"
)

// Fixed seeds: a failure reproduces on every machine. Each failure message
// carries the seed and case number.
const (
	propSeed1 uint64 = 0x5eed_2026
	propSeed2 uint64 = 0xb00d1e
	propCases        = 500
)

func newRand() *rand.Rand { return rand.New(rand.NewPCG(propSeed1, propSeed2)) }

func failf(t *testing.T, i int, format string, args ...any) {
	t.Helper()
	t.Fatalf("seed=(%#x,%#x) case=%d: %s", propSeed1, propSeed2, i, fmt.Sprintf(format, args...))
}

// randCase flips the case of each letter at random: platform names are case-insensitive.
func randCase(r *rand.Rand, s string) string {
	b := []rune(s)
	for i, c := range b {
		if r.IntN(2) == 0 {
			b[i] = []rune(strings.ToUpper(string(c)))[0]
		}
	}
	return string(b)
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

var (
	osSpellings = map[string][]string{
		"linux":   {"linux"},
		"darwin":  {"darwin", "macos", "mac", "osx"},
		"windows": {"windows", "win", "win32"},
	}
	archSpellings = map[string][]string{
		"amd64": {"amd64", "x86_64", "x86-64", "x64"},
		"arm64": {"arm64", "aarch64", "arm64/v8", "aarch64/v8"},
	}
	blanks = []string{"", " ", "  ", "\t", "\n", " \t "}
)

// spell writes t in one of the many ways a user or CI file might.
func spell(r *rand.Rand, t Target) string {
	return pick(r, blanks) + randCase(r, pick(r, osSpellings[t.OS])) + "/" +
		randCase(r, pick(r, archSpellings[t.Arch])) + pick(r, blanks)
}

// Feature: python-backend-bundling, Property 5: Platform-Specific Naming Consistency — the executable is named peft_engine.exe on Windows and peft_engine elsewhere, for every target and every way of writing it.
func TestPropertyPlatformSpecificNaming(t *testing.T) {
	r := newRand()
	all := Supported()
	for i := range propCases {
		want := pick(r, all)
		s := spell(r, want)
		got, err := Parse(s)
		if err != nil {
			failf(t, i, "Parse(%q): %v", s, err)
		}
		if got != want {
			failf(t, i, "Parse(%q) = %v, want %v", s, got, want)
		}

		exe := got.ExecutableName(DefaultName)
		wantExe := "peft_engine"
		if got.OS == "windows" {
			wantExe = "peft_engine.exe"
		}
		if exe != wantExe {
			failf(t, i, "%v: ExecutableName = %q, want %q", got, exe, wantExe)
		}
		if strings.HasSuffix(exe, ".exe") != (got.OS == "windows") {
			failf(t, i, "%v: .exe suffix must appear iff windows, got %q", got, exe)
		}
		if got.ExecutableName(exe) != exe {
			failf(t, i, "%v: ExecutableName is not idempotent on %q", got, exe)
		}
		if strings.ContainsAny(got.Slug(), `/\ `) || got.Slug() == "" {
			failf(t, i, "%v: slug %q must be one non-empty path component", got, got.Slug())
		}
		if got.DistDir() != "dist/"+got.Slug() {
			failf(t, i, "%v: DistDir %q", got, got.DistDir())
		}
		for _, onedir := range []bool{false, true} {
			p := got.ArtifactPath(DefaultName, onedir)
			if !strings.HasPrefix(p, got.DistDir()+"/") {
				failf(t, i, "%v onedir=%v: ArtifactPath %q not under %q", got, onedir, p, got.DistDir())
			}
			if path.Base(p) != exe {
				failf(t, i, "%v onedir=%v: ArtifactPath %q does not end in %q", got, onedir, p, exe)
			}
		}
		back, err := Parse(got.String())
		if err != nil || back != got {
			failf(t, i, "String() %q does not round-trip: %v, %v", got.String(), back, err)
		}
	}

	// Lists: random spellings, duplicates, separators and order.
	seps := []string{",", " ", ", ", " ,", "\t", ",,", "\n", " , "}
	for i := range propCases {
		n := 1 + r.IntN(8) // may exceed the matrix: duplicates guaranteed then
		var chosen []Target
		var parts []string
		for range n {
			tg := pick(r, all)
			chosen = append(chosen, tg)
			parts = append(parts, spell(r, tg))
		}
		join := func(ps []string) string {
			var b strings.Builder
			b.WriteString(pick(r, blanks))
			for j, p := range ps {
				if j > 0 {
					b.WriteString(pick(r, seps))
				}
				b.WriteString(strings.TrimSpace(p))
			}
			b.WriteString(pick(r, seps[:1]) + pick(r, blanks)) // trailing separator is fine
			return b.String()
		}
		in := join(parts)
		got, err := ParseList(in)
		if err != nil {
			failf(t, i, "ParseList(%q): %v", in, err)
		}
		want := slices.Clone(chosen)
		slices.SortFunc(want, func(a, b Target) int { return strings.Compare(a.String(), b.String()) })
		want = slices.Compact(want)
		if !slices.Equal(got, want) {
			failf(t, i, "ParseList(%q) = %v, want %v", in, got, want)
		}

		// Order independence: shuffle and respell the same set.
		r.Shuffle(len(chosen), func(a, b int) { chosen[a], chosen[b] = chosen[b], chosen[a] })
		respelled := make([]string, len(chosen))
		for j, tg := range chosen {
			respelled[j] = spell(r, tg)
		}
		in2 := join(respelled)
		got2, err := ParseList(in2)
		if err != nil || !slices.Equal(got2, got) {
			failf(t, i, "ParseList(%q) = %v, %v; want %v (same set as %q)", in2, got2, err, got, in)
		}

		// Idempotence: feeding the canonical form back gives the same list.
		canon := make([]string, len(got))
		for j, tg := range got {
			canon[j] = tg.String()
		}
		got3, err := ParseList(strings.Join(canon, ","))
		if err != nil || !slices.Equal(got3, got) {
			failf(t, i, "ParseList not idempotent: %v -> %v, %v", got, got3, err)
		}
	}
}

// Resource-path segments mixing spaces, unicode, dots and dashes: the things
// that actually appear in install folders and user names.
var segments = []string{
	"resources", "My App", "PEFT Studio", "app-1.2.3", "Program Files", "Users",
	"José", "日本語", "Ünïcødé dir", "😀", "a b  c", ".mount_PEFT", "x.y", "_", "-dash",
}

func randSegments(r *rand.Rand) []string {
	segs := make([]string, 1+r.IntN(5))
	for i := range segs {
		segs[i] = pick(r, segments)
	}
	return segs
}

// Feature: python-backend-bundling, Property 2: Path Resolution Consistency — for every target and resources path, the packaged backend path is <resources>/backend/<executable name> and the build output path ends with the same executable name.
func TestPropertyPathResolution(t *testing.T) {
	r := newRand()
	all := Supported()
	for i := range propCases {
		tg := pick(r, all)
		segs := randSegments(r)
		exe := tg.ExecutableName(DefaultName)

		var res, wantPrefix, sep string
		if tg.OS == "windows" {
			sep = `\`
			root := pick(r, []string{`C:\`, `D:\`, `\\server\share\`, `C:/`})
			inner := strings.Join(segs, pick(r, []string{`\`, `/`}))
			res = root + inner + strings.Repeat(pick(r, []string{`\`, `/`}), r.IntN(3))
			wantPrefix = strings.ReplaceAll(root+inner, "/", `\`)
		} else {
			sep = "/"
			inner := strings.Join(segs, pick(r, []string{"/", "//"}))
			res = "/" + inner + strings.Repeat("/", r.IntN(3))
			wantPrefix = path.Clean("/" + inner)
		}

		got := tg.PackagedBackendPath(res, DefaultName)
		want := wantPrefix + sep + "backend" + sep + exe
		if got != want {
			failf(t, i, "%v: PackagedBackendPath(%q) = %q, want %q", tg, res, got, want)
		}
		if tg.OS == "windows" && strings.Contains(got, "/") {
			failf(t, i, "%v: windows path %q contains '/'", tg, got)
		}
		if tg.OS != "windows" && strings.Contains(got, "//") {
			failf(t, i, "%v: path %q contains '//'", tg, got)
		}
		if tg.OS != "windows" && got != path.Join(res, "backend", exe) {
			failf(t, i, "%v: %q differs from path.Join", tg, got)
		}

		// The file the build produces and the file the app opens have the same name.
		base := got[strings.LastIndex(got, sep)+1:]
		for _, onedir := range []bool{false, true} {
			art := tg.ArtifactPath(DefaultName, onedir)
			if path.Base(art) != base {
				failf(t, i, "%v onedir=%v: build output %q vs packaged %q", tg, onedir, art, got)
			}
		}
	}
}
