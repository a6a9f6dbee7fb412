package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pybundle/pybundle/pipeline/layout"
)

// The collect-data / collect-all block is rendered for every target and layout when asked
// for, and leaves no trace when not.
func TestGenerateCollectDataAndAll(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         Options
		want, not []string
	}{
		{"data only", Options{Target: linux, CollectData: []string{"certifi", "app.static", "certifi"}},
			[]string{
				"from PyInstaller.utils.hooks import collect_all, collect_data_files, is_package",
				"for _path in [SPECPATH]:",
				`("collect-data", "app.static"),`,
				`("collect-data", "certifi"),`,
				"_datas += collect_data_files(_name)",
				"raise SystemExit(1)",
				"binaries=[],",
			},
			[]string{`("collect-all"`, "binaries=_collected_binaries"}},
		{"all only, windows onefile", Options{Target: windows, Mode: layout.OneFile, CollectAll: []string{"pkg"}, Paths: []string{"src"}},
			[]string{
				`for _path in [SPECPATH, os.path.join(SPECPATH, "src")]:`,
				`("collect-all", "pkg"),`,
				"_d, _b, _h = collect_all(_name)",
				"_collected_binaries += _b",
				"_hiddenimports += _h",
				"binaries=_collected_binaries,",
			},
			[]string{`("collect-data"`}},
		{"all with own binaries, darwin", Options{Target: darwin, CollectAll: []string{"pkg"}, Binaries: []Data{{"a.so", "."}}},
			[]string{`(os.path.join(SPECPATH, "a.so"), "."),`, "] + _collected_binaries,"},
			nil},
		{"neither", Options{Target: linux, CollectSubmodules: []string{"plugins"}, Binaries: []Data{{"a.so", "."}}},
			[]string{"binaries=["},
			[]string{"collect_data_files", "collect_all", "is_package", "_collected_binaries", "import sys"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustGenerate(t, tc.o)
			wantLines(t, s, tc.want...)
			noLines(t, s, tc.not...)
			// The packages are checked and collected before Analysis runs.
			if c, a := strings.Index(s, "_collect = ["), strings.Index(s, "a = Analysis("); c > a {
				t.Errorf("collect block after Analysis")
			}
		})
	}
	// A collect-all package is required like a collect-submodules one: the guard sees it collected.
	d := Options{Target: linux, CollectAll: []string{"pkg"}, CollectData: []string{"certifi"}}.WithDefaults()
	if !slices.Contains(d.RequiredModules, "pkg") || slices.Contains(d.RequiredModules, "certifi") {
		t.Errorf("required = %v", d.RequiredModules)
	}
}

func TestValidateCollect(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"data not a module name", Options{Target: linux, CollectData: []string{"my-pkg"}}, `collect-data "my-pkg": "my-pkg" is not a Python identifier`},
		{"all keyword", Options{Target: linux, CollectAll: []string{"a.class"}}, `collect-all "a.class": "class" is a Python keyword`},
		{"data excluded", Options{Target: linux, CollectData: []string{"tkinter"}}, `collect-data "tkinter": the package is excluded (by "tkinter")`},
		{"all under an exclude", Options{Target: linux, CollectAll: []string{"numpy.core"}, Excludes: []string{"numpy"}}, `collect-all "numpy.core": the package is excluded (by "numpy")`},
		{"all excluded by slim", Options{Target: linux, Slim: true, CollectAll: []string{"setuptools"}}, `collect-all "setuptools": the package is excluded`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	// Keep lifts the slim exclude, so the package can be collected whole.
	if err := (Options{Target: linux, Slim: true, CollectAll: []string{"setuptools"}, Keep: []string{"setuptools"}}).Validate(); err != nil {
		t.Errorf("kept package: %v", err)
	}
}

// Executed with PyInstaller's hooks stubbed: what collect_data_files and collect_all return
// reaches Analysis, with the source's import roots on sys.path while the packages are looked up.
func TestSpecCollectReachesAnalysis(t *testing.T) {
	python(t)
	o := Options{Target: linux, Paths: []string{"src"}, Datas: []Data{{"conf", "conf"}}, Binaries: []Data{{"a.so", "."}},
		CollectData: []string{"certifi", "app.static"}, CollectAll: []string{"pkg"}}
	d := o.WithDefaults()
	calls, out, code := execSpec(t, o, append(slices.Clone(d.RequiredModules), "pkg.sub"), nil)
	if code != 0 || calls == nil {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	a := calls.Analysis
	wantDatas := [][]string{
		{"/src/conf", "conf"},
		{"/site/app/static/data.json", "app/static"},
		{"/site/certifi/data.json", "certifi"},
		{"/site/pkg/all.txt", "pkg"},
	}
	if !reflect.DeepEqual(a.Datas, wantDatas) {
		t.Errorf("datas = %q, want %q", a.Datas, wantDatas)
	}
	if want := [][]string{{"/src/a.so", "."}, {"/site/pkg/lib.so", "pkg"}}; !reflect.DeepEqual(a.Binaries, want) {
		t.Errorf("binaries = %q, want %q", a.Binaries, want)
	}
	if !slices.Contains(a.HiddenImports, "pkg") || !slices.Contains(a.HiddenImports, "pkg.sub") {
		t.Errorf("hiddenimports = %v", a.HiddenImports)
	}
	wantChecked := [][]string{{"app.static", "/src", "/src/src"}, {"certifi", "/src", "/src/src"}, {"pkg", "/src", "/src/src"}}
	if !reflect.DeepEqual(calls.IsPackage, wantChecked) {
		t.Errorf("is_package calls (name, import roots on sys.path) = %q, want %q", calls.IsPackage, wantChecked)
	}
}

// A package that is not installed fails the build before the analysis, naming the option and
// the package, where PyInstaller itself would only warn and bundle nothing.
func TestSpecCollectMissingPackageFailsBuild(t *testing.T) {
	python(t)
	o := Options{Target: windows, CollectData: []string{"certifi", "missing_templates"}, CollectAll: []string{"missing_plugins"}}
	calls, out, code := execSpec(t, o, o.WithDefaults().RequiredModules, nil)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	want := "PYBUNDLE BUILD CHECK FAILED: not an installed package in the build environment: " +
		"collect-data missing_templates, collect-all missing_plugins (PyInstaller would only warn"
	if !strings.Contains(out, want) {
		t.Errorf("no %q in:\n%s", want, out)
	}
	if calls != nil || strings.Contains(out, "CHECK OK") {
		t.Errorf("build went on after the check failed:\n%s", out)
	}
}
