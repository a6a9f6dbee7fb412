package target

import (
	"strings"
	"testing"
)

// FuzzParse: any text either parses to a supported, canonical target that round-trips, or is
// refused with an error naming it; never a panic. ParseList agrees with Parse item by item.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"linux/amd64", "Linux/X86_64", "linux/arm64/v8", "mac/x64", "win32/x64", "windows", "",
		"linux/", "/amd64", "linux/amd64/v2/x", "linux/riscv64", " darwin/aarch64 ", "linux\x00/amd64", "ЛИНУКС/amd64"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			if got != (Target{}) {
				t.Fatalf("Parse(%q) = %v with error %v", s, got, err)
			}
			return
		}
		if !got.IsSupported() {
			t.Fatalf("Parse(%q) = %v, not supported", s, got)
		}
		back, err := Parse(got.String())
		if err != nil || back != got {
			t.Fatalf("Parse(%q) = %v does not round-trip: %v, %v", s, got, back, err)
		}
		if strings.ContainsAny(got.Slug(), `/\ `) {
			t.Fatalf("slug %q", got.Slug())
		}
		list, err := ParseList(s)
		if err != nil || len(list) != 1 || list[0] != got {
			t.Fatalf("ParseList(%q) = %v, %v; Parse gave %v", s, list, err, got)
		}
	})
}
