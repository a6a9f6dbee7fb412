package layout

import (
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	"github.com/pybundle/pybundle/pipeline/target"
)

// Fixed seeds: a failure reproduces on every machine; each message carries the seed and case.
const (
	propSeed1 uint64 = 0x1a_0117
	propSeed2 uint64 = 0x2026
	propCases        = 500
)

func failf(t *testing.T, i int, format string, args ...any) {
	t.Helper()
	t.Fatalf("seed=(%#x,%#x) case=%d: %s", propSeed1, propSeed2, i, fmt.Sprintf(format, args...))
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// Resource-path segments mixing spaces, unicode, dots and dashes: the things real install
// folders contain.
var segments = []string{
	"opt", "PEFT Studio", "Program Files", "Applications", "PEFT Studio.app", "Contents", "Resources", "resources",
	"José", "日本語", "Ünïcødé dir", "😀", "a b  c", ".mount_PEFT", "x.y", "_", "-dash",
}

var names = []string{"peft_engine", "engine", "my-backend", "Backend 2", "x"}

// Feature: python-backend-bundling, Property 2: Path Resolution Consistency — for every target, bundle layout and resources path, the packaged backend path is <resources>/backend/<bundle>/<executable> (onedir) or <resources>/backend/<executable> (onefile), joined as the target's Node joins, and the build output path ends with the same executable name.
func TestPropertyPathResolution(t *testing.T) {
	r := rand.New(rand.NewPCG(propSeed1, propSeed2))
	for i := range propCases {
		b := Bundle{Target: pick(r, target.Supported()), Name: pick(r, names), Mode: pick(r, []Mode{OneDir, OneFile})}
		segs := make([]string, 1+r.IntN(5))
		for k := range segs {
			segs[k] = pick(r, segments)
		}
		exe := b.Exe()

		var res, wantPrefix, sep string
		if b.Target.OS == "windows" {
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

		got := b.PackagedPath(res)
		want := wantPrefix + sep + "backend" + sep + exe
		if b.Onedir() {
			want = wantPrefix + sep + "backend" + sep + b.Name + sep + exe
		}
		if got != want {
			failf(t, i, "%+v: PackagedPath(%q) = %q, want %q", b, res, got, want)
		}
		if b.Target.OS == "windows" && strings.Contains(got, "/") {
			failf(t, i, "%+v: windows path %q contains '/'", b, got)
		}
		if b.Target.OS != "windows" && strings.Contains(got, "//") {
			failf(t, i, "%+v: path %q contains '//'", b, got)
		}
		// The file the build produces and the file the app opens have the same name, and the
		// layout under backend/ is the layout under the build's dist/<os>-<arch>/.
		if path.Base(b.Artifact()) != got[strings.LastIndex(got, sep)+1:] {
			failf(t, i, "%+v: build output %q vs packaged %q", b, b.Artifact(), got)
		}
		if b.Packaged() != ResourcesBackendDir+"/"+strings.TrimPrefix(b.Artifact(), b.Dir()+"/") {
			failf(t, i, "%+v: packaged %q is not the artifact %q under backend/", b, b.Packaged(), b.Artifact())
		}
		if back, err := FromEntry(b.Target.String(), string(b.Mode), b.Artifact()); err != nil || back != b {
			failf(t, i, "%+v: FromEntry(%q) = %+v, %v", b, b.Artifact(), back, err)
		}
	}
}
