package plan

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/target"
	"github.com/pybundle/pybundle/pipeline/verify"
)

func TestParseBootloader(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Bootloader
		wantErr string
	}{
		{"static", BootloaderStatic, ""},
		{" Stock ", BootloaderStock, ""},
		{"STATIC", BootloaderStatic, ""},
		{"", "", `"": want static or stock`},
		{"dynamic", "", `"dynamic": want static or stock`},
	} {
		got, err := ParseBootloader(tc.in)
		if tc.wantErr != "" {
			assert.Check(t, is.ErrorContains(err, tc.wantErr), tc.in)
			continue
		}
		assert.Check(t, err, tc.in)
		assert.Check(t, is.Equal(got, tc.want), tc.in)
	}
}

// The bootloader option: static by default, stock on request, an unknown value an error naming
// the key; it survives the JSON a runner job carries.
func TestBootloaderOption(t *testing.T) {
	o := Defaults()
	assert.Equal(t, o.Bootloader, BootloaderStatic)
	assert.NilError(t, o.Apply(ParseAssignments([]string{"bootloader=stock"})...))
	assert.Equal(t, o.Bootloader, BootloaderStock)
	assert.ErrorContains(t, o.Apply(Given("bootloader", "shared")), `bootloader: "shared": want static or stock`)
	assert.Equal(t, o.Bootloader, BootloaderStock, "a bad value changes nothing")

	b, err := json.Marshal(o)
	assert.NilError(t, err)
	assert.Assert(t, strings.Contains(string(b), `"bootloader":"stock"`))
	var back Options
	assert.NilError(t, json.Unmarshal(b, &back))
	assert.Equal(t, back.Bootloader, BootloaderStock)

	bad := Defaults()
	bad.Bootloader = "static-pie"
	assert.ErrorContains(t, bad.Validate(), `bootloader: "static-pie": want static or stock`)
}

func TestBootloaderFor(t *testing.T) {
	for _, tc := range []struct {
		asked  Bootloader
		target string
		want   Bootloader
	}{
		{BootloaderStatic, "linux/amd64", BootloaderStatic},
		{BootloaderStatic, "linux/arm64", BootloaderStatic},
		{BootloaderStatic, "darwin/arm64", BootloaderStock},
		{BootloaderStatic, "windows/amd64", BootloaderStock},
		{BootloaderStock, "linux/amd64", BootloaderStock},
	} {
		tg, err := target.Parse(tc.target)
		assert.NilError(t, err)
		assert.Check(t, is.Equal(tc.asked.For(tg), tc.want), "%s on %s", tc.asked, tc.target)
	}
}

// Executors that cannot provide the static bootloader build with the stock one and say so once.
func TestStockOnly(t *testing.T) {
	o := Defaults()
	note := o.StockOnly("the pip installer freezes with the python image's own Python")
	assert.Equal(t, o.Bootloader, BootloaderStock)
	assert.Check(t, is.Contains(note, "bootloader=static needs pybundle's own bootloader"))
	assert.Check(t, is.Contains(note, "the pip installer freezes with the python image's own Python: building with PyInstaller's stock bootloader"))
	assert.Equal(t, o.StockOnly("again"), "", "nothing changed, nothing to say")
}

// The plan gives each target its bootloader; the Linux spec leaves the shared libpython out
// only with the static one; the report entry says which one the bundle starts with.
func TestPlanBootloader(t *testing.T) {
	for _, tc := range []struct {
		option string
		want   map[string]Bootloader
	}{
		{"", map[string]Bootloader{"linux/amd64": BootloaderStatic, "linux/arm64": BootloaderStatic, "windows/amd64": BootloaderStock}},
		{"stock", map[string]Bootloader{"linux/amd64": BootloaderStock, "linux/arm64": BootloaderStock, "windows/amd64": BootloaderStock}},
	} {
		o := Defaults()
		assert.NilError(t, o.Apply(Given("platforms", "linux/amd64,linux/arm64,windows/amd64"), Given("bootloader", tc.option)))
		p, err := New(o, sampleTree(t))
		assert.NilError(t, err)
		for _, b := range p.Builds {
			want := tc.want[b.Target().String()]
			assert.Check(t, is.Equal(b.Bootloader, want), "%s", b.Target())
			assert.Check(t, is.Equal(b.Spec.StaticLibpython, want == BootloaderStatic), "%s", b.Target())
			spec := string(b.File(b.SpecFile()))
			assert.Check(t, is.Equal(strings.Contains(spec, "no shared libpython bundled"), want == BootloaderStatic), "%s spec", b.Target())
			h := health.Result{OK: true, MedianMS: 300, Runs: []health.Run{{}}}
			e := b.Entry(Outcome{Verify: verify.Result{OK: true}, Health: &h, Duration: time.Second})
			assert.Check(t, is.Equal(e.Bootloader, string(want)), "%s report", b.Target())
		}
	}
}

// Both layouts store their archives uncompressed by default (read or extracted as they are at
// every start); compress=true keeps PyInstaller's compression.
func TestPyInstallerEnv(t *testing.T) {
	stored := []string{"PYINSTALLER_ZLIB_COMPRESSION_LEVEL=0"}
	for _, tc := range []struct {
		mode, compress string
		want           []string
	}{
		{"onedir", "", stored},
		{"onefile", "", stored},
		{"onedir", "true", nil},
		{"onefile", "true", nil},
		{"onefile", "false", stored},
	} {
		o := Defaults()
		assert.NilError(t, o.Apply(Given("mode", tc.mode)))
		if tc.compress != "" {
			assert.NilError(t, o.Apply(Given("compress", tc.compress)))
		}
		p, err := New(o, sampleTree(t))
		assert.NilError(t, err)
		assert.Check(t, is.DeepEqual(p.Builds[0].PyInstallerEnv(), tc.want), "%+v", tc)
	}
	o := Defaults()
	assert.Check(t, is.ErrorContains(o.Apply(Given("compress", "maybe")), "maybe"))
}
