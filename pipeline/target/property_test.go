package target

import (
	"fmt"
	"math/rand/v2"
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
