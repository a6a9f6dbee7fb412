package plan

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/collect"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
	"github.com/pybundle/pybundle/pipeline/target"
)

// Options are a build's settings, typed and checked. Every executor gets them the same way:
// Defaults, then the values given (Dagger function arguments, pybundle-runner flags, the
// options a dispatched job carries), each through Set. Adding an option is adding a field, a
// Key and the argument that sets it.
type Options struct {
	// Platforms are the targets (the Dagger module's build; a runner builds its own one).
	Platforms []target.Target `json:"platforms"`
	Mode      layout.Mode     `json:"mode"`
	// Name is the executable's base name (".exe" is added on Windows).
	Name string `json:"name"`
	// Entry is how the backend starts: a script (relative, slash-separated), "-m package" or
	// "module:app"; "" finds it (pipeline/entry).
	Entry string `json:"entry"`
	// Paths are extra import roots, relative folders of the source.
	Paths []string `json:"paths"`
	// Data are explicit data entries, SRC:DEST.
	Data []spec.Data `json:"data"`
	// ExcludeData are patterns of files that are not bundled as data.
	ExcludeData []string `json:"exclude_data"`
	// Ignore are patterns of the source that are no part of the backend at all.
	Ignore []string `json:"ignore"`
	// CollectSubmodules are packages whose every submodule is collected.
	CollectSubmodules []string `json:"collect_submodules"`
	// WarmUp are URL paths requested after the backend is healthy (from source while tracing,
	// and frozen in the health stage, where each must answer 2xx).
	WarmUp []string `json:"warmup"`
	// Trace runs the backend from source first and adds what it loads that the analysis missed.
	Trace bool `json:"trace"`
	// HiddenImports are the user's extra hidden imports, beyond what the scanner finds.
	HiddenImports []string `json:"hidden_imports"`
	// Slim excludes setuptools/pkg_resources (see spec.Options.Slim).
	Slim bool `json:"slim"`
	// Budget is the longest acceptable time to a healthy /api/health on a native start.
	Budget time.Duration `json:"budget"`
	// Bootloader is the PyInstaller bootloader Linux bundles start with (see Bootloader).
	Bootloader Bootloader `json:"bootloader"`
	// Incremental keeps PyInstaller's work folder between Dagger builds (see WorkCache) and
	// reuses its analysis when only the bodies of Python code changed; false builds from scratch.
	Incremental bool `json:"incremental"`
	// Compress keeps PyInstaller's zlib compression of the bundle's archives; false (the
	// default) stores them uncompressed (see Build.PyInstallerEnv).
	Compress bool `json:"compress"`

	// How the backend is started and judged healthy, from source (tracing) and frozen alike.
	// HealthPath is polled; PortArgs (with health.PortPlaceholder) tell it its port on the
	// command line unless PortEnvOnly; PortEnv are the variables set to the port; HealthEnv
	// are extra KEY=VALUE variables for those runs (a test database, a setting).
	HealthPath  string   `json:"health_path"`
	PortArgs    []string `json:"port_args"`
	PortEnvOnly bool     `json:"port_env_only"`
	PortEnv     []string `json:"port_env"`
	HealthEnv   []string `json:"health_env"`

	// PyInstaller pass-throughs for installed packages (the backend's own code and data are
	// collected anyway): their data files, everything of them, their metadata; extra
	// binaries of the source (SRC:DEST); modules left out.
	CollectData  []string    `json:"collect_data"`
	CollectAll   []string    `json:"collect_all"`
	CopyMetadata []string    `json:"copy_metadata"`
	Binaries     []spec.Data `json:"binaries"`
	Excludes     []string    `json:"excludes"`

	// Release metadata. ProductName, Version and Description default to the [project] table
	// of pyproject.toml; with a version, Windows builds carry a version resource made of them.
	ProductName string `json:"product_name"`
	Version     string `json:"version"`
	Description string `json:"description"`
	Company     string `json:"company"`
	Copyright   string `json:"copyright"`
	// Icon is a source file (.ico for Windows, .icns for macOS).
	Icon string `json:"icon"`
	// CodesignIdentity and Entitlements (a source file) sign macOS builds.
	CodesignIdentity string `json:"codesign_identity"`
	Entitlements     string `json:"entitlements"`

	// Glibc is the oldest glibc the Linux bundles must run on ("2.31"): verify fails a bundle
	// with a file that needs a newer one, naming each such file.
	Glibc string `json:"glibc"`
}

// Kind is the type of a Key's value.
type Kind string

const (
	KindString   Kind = "string"
	KindBool     Kind = "bool"
	KindList     Kind = "list"
	KindDuration Kind = "duration"
)

// Key is one option as users name it: the pybundle-runner flag, the Dagger argument (in its
// camelCase spelling) and the configuration key.
type Key struct {
	Name    string
	Kind    Kind
	Default string
	Help    string
	// set applies one value (a list key is set once per element).
	set func(o *Options, v string) error
	// reset clears a list before the values of one source are applied.
	reset func(o *Options)
}

// Keys are every option, in the order help lists them.
var Keys = []Key{
	{Name: "platforms", Kind: KindList, Default: "linux/amd64",
		Help: "targets, e.g. linux/amd64,linux/arm64 (darwin/* and windows/* need a native runner)",
		set: func(o *Options, v string) error {
			ts, err := target.ParseList(v)
			if err != nil {
				return err
			}
			for _, t := range ts {
				if !slices.Contains(o.Platforms, t) {
					o.Platforms = append(o.Platforms, t)
				}
			}
			slices.SortFunc(o.Platforms, func(a, b target.Target) int { return strings.Compare(a.String(), b.String()) })
			return nil
		},
		reset: func(o *Options) { o.Platforms = nil }},
	{Name: "mode", Kind: KindString, Default: string(layout.OneDir),
		Help: "bundle layout: onedir (fastest start) or onefile",
		set:  func(o *Options, v string) error { return o.Mode.UnmarshalText([]byte(v)) }},
	{Name: "name", Kind: KindString, Default: target.DefaultName,
		Help: `executable name (".exe" is added on Windows)`,
		set:  func(o *Options, v string) error { o.Name = strings.TrimSpace(v); return nil }},
	{Name: "entry", Kind: KindString,
		Help: `how the backend starts: a script relative to the source folder, "-m package" or "module:app" (default: found: main.py, app.py, server.py…, a package's __main__.py, a FastAPI app)`,
		set:  func(o *Options, v string) error { o.Entry = strings.TrimSpace(v); return nil }},
	{Name: "paths", Kind: KindList,
		Help: "extra import roots, folders of the source (src/ with packages and the entry's are found)",
		set:  listSetter(func(o *Options) *[]string { return &o.Paths }), reset: func(o *Options) { o.Paths = nil }},
	{Name: "data", Kind: KindList,
		Help: "extra data, SRC:DEST (a file or folder of the source, the folder in the bundle)",
		set: func(o *Options, v string) error {
			for _, item := range splitList(v) {
				d, err := collect.ParseData(item)
				if err != nil {
					return err
				}
				if !slices.Contains(o.Data, d) {
					o.Data = append(o.Data, d)
				}
			}
			return nil
		},
		reset: func(o *Options) { o.Data = nil }},
	{Name: "exclude-data", Kind: KindList,
		Help: "patterns of files not to bundle as data (gitignore style: *.db, fixtures/, /local.json)",
		set:  patternSetter(func(o *Options) *[]string { return &o.ExcludeData }), reset: func(o *Options) { o.ExcludeData = nil }},
	{Name: "ignore", Kind: KindList,
		Help: "patterns of the source that are no part of the backend (beyond tests, venvs, node_modules, build, dist, hidden folders)",
		set:  patternSetter(func(o *Options) *[]string { return &o.Ignore }), reset: func(o *Options) { o.Ignore = nil }},
	{Name: "collect-submodules", Kind: KindList,
		Help: "packages whose every submodule is bundled (plugins found at run time in an installed package)",
		set:  moduleSetter(func(o *Options) *[]string { return &o.CollectSubmodules }), reset: func(o *Options) { o.CollectSubmodules = nil }},
	{Name: "warmup", Kind: KindList,
		Help: "URL paths requested once healthy (tracing and health): routes that load code lazily, e.g. /api/infer",
		set: func(o *Options, v string) error {
			for _, p := range splitList(v) {
				if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t\r\n#") {
					return fmt.Errorf("%q: want a URL path such as /api/items", p)
				}
				o.WarmUp = appendNew(o.WarmUp, p)
			}
			return nil
		},
		reset: func(o *Options) { o.WarmUp = nil }},
	{Name: "trace", Kind: KindBool, Default: "true",
		Help: "run the backend from source first and bundle what it loads that the analysis missed",
		set: func(o *Options, v string) (err error) {
			o.Trace, err = strconv.ParseBool(strings.TrimSpace(v))
			return err
		}},
	{Name: "hidden-imports", Kind: KindList,
		Help: "extra hidden imports beyond those the scanner finds",
		set: func(o *Options, v string) error {
			o.HiddenImports = appendNew(o.HiddenImports, splitList(v)...)
			return nil
		},
		reset: func(o *Options) { o.HiddenImports = nil }},
	{Name: "slim", Kind: KindBool, Default: "true",
		Help: "leave setuptools/pkg_resources out of the bundle (false: PyInstaller's default, slower start)",
		set: func(o *Options, v string) (err error) {
			o.Slim, err = strconv.ParseBool(strings.TrimSpace(v))
			return err
		}},
	{Name: "budget", Kind: KindDuration, Default: "5s",
		Help: "start-up budget: longest acceptable time to the first healthy answer (emulated targets get 30x)",
		set: func(o *Options, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			switch {
			case err != nil:
				return fmt.Errorf("%q: want a Go duration such as 5s", v)
			case d <= 0:
				return fmt.Errorf("%q: must be positive", v)
			}
			o.Budget = d
			return nil
		}},
	{Name: "bootloader", Kind: KindString, Default: string(BootloaderStatic),
		Help: "Linux bundles: static (pybundle's own bootloader, with Debian's PGO-built libpython linked in: starts as fast as from source, ships no libpython3.13.so) or stock (PyInstaller's, loads the bundled libpython3.13.so); the pip and compat installers and native runners always use stock",
		set: func(o *Options, v string) error {
			b, err := ParseBootloader(v)
			if err == nil {
				o.Bootloader = b
			}
			return err
		}},
	{Name: "incremental", Kind: KindBool, Default: "true",
		Help: "Dagger builds: keep PyInstaller's work folder per target and builder in a cache volume and reuse its analysis when only the bodies of Python code changed (the bundle is byte-identical to a clean build's); false: every build from scratch (--clean). Native runners always build from scratch",
		set: func(o *Options, v string) (err error) {
			o.Incremental, err = strconv.ParseBool(strings.TrimSpace(v))
			return err
		}},
	{Name: "compress", Kind: KindBool, Default: "false",
		Help: "true: PyInstaller's zlib compression of the bundle's archives (a onefile's libraries and data too): a smaller bundle that inflates what it reads at every start (onefile 1.3x slower to start than from source, measured); false: stored uncompressed, so the start reads them as they are (the installer compresses the download anyway)",
		set: func(o *Options, v string) (err error) {
			o.Compress, err = strconv.ParseBool(strings.TrimSpace(v))
			return err
		}},
}

// moreKeys are the keys of how the backend is probed, PyInstaller's pass-throughs and the
// release metadata (appended to Keys in init: one table, split for reading).
var moreKeys = []Key{
	{Name: "health-path", Kind: KindString, Default: health.DefaultPath,
		Help: "URL path polled until it answers 2xx (tracing and health)",
		set: func(o *Options, v string) error {
			v = strings.TrimSpace(v)
			if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t\r\n#") {
				return fmt.Errorf("%q: want a URL path such as /api/health", v)
			}
			o.HealthPath = v
			return nil
		}},
	{Name: "port-args", Kind: KindString, Default: strings.Join(health.DefaultPortArgs, " "),
		Help: `how the backend is told its port on its command line, {port} replaced ("none": from the environment only, for a backend that rejects unknown arguments)`,
		set: func(o *Options, v string) error {
			o.PortArgs, o.PortEnvOnly = strings.Fields(v), strings.TrimSpace(v) == "none"
			if o.PortEnvOnly {
				o.PortArgs = nil
			}
			return health.CheckPortSettings(o.PortArgs, nil, o.PortEnvOnly)
		}},
	{Name: "port-env", Kind: KindList, Default: strings.Join(health.DefaultPortEnv, ","),
		Help: "environment variables set to the port",
		set: func(o *Options, v string) error {
			names := splitList(v)
			if err := health.CheckPortSettings(nil, names, true); err != nil {
				return err
			}
			o.PortEnv = appendNew(o.PortEnv, names...)
			return nil
		},
		reset: func(o *Options) { o.PortEnv = nil }},
	{Name: "health-env", Kind: KindList,
		Help: "extra KEY=VALUE environment for the backend's runs while tracing and in health (a test database, a setting)",
		set: func(o *Options, v string) error {
			for _, kv := range splitAssignments(v) {
				name, _, ok := strings.Cut(kv, "=")
				if !ok || health.CheckPortSettings(nil, []string{name}, true) != nil {
					return fmt.Errorf("%q: want NAME=VALUE", kv)
				}
				o.HealthEnv = append(o.HealthEnv, kv)
			}
			return nil
		},
		reset: func(o *Options) { o.HealthEnv = nil }},
	{Name: "collect-data", Kind: KindList,
		Help: "installed packages whose data files are bundled (PyInstaller's collect_data_files)",
		set:  moduleSetter(func(o *Options) *[]string { return &o.CollectData }), reset: func(o *Options) { o.CollectData = nil }},
	{Name: "collect-all", Kind: KindList,
		Help: "installed packages bundled whole: submodules, data, binaries, metadata (collect_all)",
		set:  moduleSetter(func(o *Options) *[]string { return &o.CollectAll }), reset: func(o *Options) { o.CollectAll = nil }},
	{Name: "copy-metadata", Kind: KindList,
		Help: "distributions whose metadata is bundled (importlib.metadata.version, entry points; tracing finds most)",
		set: func(o *Options, v string) error {
			for _, d := range splitList(v) {
				if !isDistName(d) {
					return fmt.Errorf("%q: want a distribution name such as pydantic-core", d)
				}
				o.CopyMetadata = appendNew(o.CopyMetadata, d)
			}
			return nil
		},
		reset: func(o *Options) { o.CopyMetadata = nil }},
	{Name: "binaries", Kind: KindList,
		Help: "files of the source bundled as binaries, SRC:DEST: an executable tool, a library without a .so/.dll name (.so, .pyd, .dylib, .dll files are found anyway)",
		set: func(o *Options, v string) error {
			for _, item := range splitList(v) {
				d, err := collect.ParseData(item)
				if err != nil {
					return err
				}
				if !slices.Contains(o.Binaries, d) {
					o.Binaries = append(o.Binaries, d)
				}
			}
			return nil
		},
		reset: func(o *Options) { o.Binaries = nil }},
	{Name: "excludes", Kind: KindList,
		Help: "modules left out of the bundle (PyInstaller's excludes)",
		set:  moduleSetter(func(o *Options) *[]string { return &o.Excludes }), reset: func(o *Options) { o.Excludes = nil }},
	{Name: "product-name", Kind: KindString,
		Help: "product name of the version resource (default: [project] name)",
		set:  func(o *Options, v string) error { o.ProductName = strings.TrimSpace(v); return nil }},
	{Name: "version", Kind: KindString,
		Help: "version of the version resource, e.g. 1.4.2 (default: [project] version)",
		set:  func(o *Options, v string) error { o.Version = strings.TrimSpace(v); return nil }},
	{Name: "description", Kind: KindString,
		Help: "file description of the version resource (default: [project] description)",
		set:  func(o *Options, v string) error { o.Description = strings.TrimSpace(v); return nil }},
	{Name: "company", Kind: KindString,
		Help: "company name of the version resource",
		set:  func(o *Options, v string) error { o.Company = strings.TrimSpace(v); return nil }},
	{Name: "copyright", Kind: KindString,
		Help: "legal copyright of the version resource",
		set:  func(o *Options, v string) error { o.Copyright = strings.TrimSpace(v); return nil }},
	{Name: "icon", Kind: KindString,
		Help: "icon file of the source: .ico (Windows), .icns (macOS)",
		set:  sourceFileSetter(func(o *Options) *string { return &o.Icon })},
	{Name: "codesign-identity", Kind: KindString,
		Help: "macOS: the identity PyInstaller signs the bundle with (a name in the runner's keychain)",
		set:  func(o *Options, v string) error { o.CodesignIdentity = strings.TrimSpace(v); return nil }},
	{Name: "glibc", Kind: KindString,
		Help: "oldest glibc the Linux bundles must run on, e.g. 2.31 (Debian 11), 2.35 (Ubuntu 22.04): a file needing a newer one fails verify",
		set: func(o *Options, v string) error {
			if v = strings.TrimSpace(v); v != "" && !glibcVersion.MatchString(v) {
				return fmt.Errorf("%q: want a glibc version such as 2.31", v)
			}
			o.Glibc = v
			return nil
		}},
	{Name: "entitlements", Kind: KindString,
		Help: "macOS: entitlements file of the source for the signature",
		set:  sourceFileSetter(func(o *Options) *string { return &o.Entitlements })},
}

func init() { Keys = append(Keys, moreKeys...) }

// glibcVersion matches a glibc release as the loader compares them: 2.31, 2.2.5.
var glibcVersion = regexp.MustCompile(`^2\.[0-9]{1,2}(\.[0-9]{1,2})?$`)

// isDistName reports whether s is a distribution name as packaging allows it.
func isDistName(s string) bool {
	for _, r := range s {
		if r != '-' && r != '_' && r != '.' && (r < '0' || r > '9') && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') {
			return false
		}
	}
	return s != ""
}

// sourceFileSetter sets a path of a source file, checked as a relative, local path (New checks
// that the source has it).
func sourceFileSetter(field func(*Options) *string) func(*Options, string) error {
	return func(o *Options, v string) error {
		if v = strings.TrimSpace(v); v == "" {
			*field(o) = ""
			return nil
		}
		if !filepath.IsLocal(filepath.FromSlash(v)) || strings.Contains(v, "\\") {
			return fmt.Errorf("%q: want a file of the source, relative to it", v)
		}
		*field(o) = path.Clean(v)
		return nil
	}
}

// splitAssignments splits NAME=VALUE items given as one value: at newlines, and at a comma
// only where a new NAME= follows, so a value may hold commas.
func splitAssignments(v string) []string {
	var out []string
	for _, line := range strings.Split(v, "\n") {
		start := 0
		for i := 0; i < len(line); i++ {
			if line[i] == ',' && assignmentAt(line[i+1:]) {
				out = appendTrimmed(out, line[start:i])
				start = i + 1
			}
		}
		out = appendTrimmed(out, line[start:])
	}
	return out
}

// assignmentAt reports whether s starts with NAME=.
func assignmentAt(s string) bool {
	name, _, ok := strings.Cut(s, "=")
	return ok && health.CheckPortSettings(nil, []string{strings.TrimSpace(name)}, true) == nil
}

func appendTrimmed(xs []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		xs = append(xs, s)
	}
	return xs
}

// KeyNamed returns the key called name.
func KeyNamed(name string) (Key, bool) {
	i := slices.IndexFunc(Keys, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return Key{}, false
	}
	return Keys[i], true
}

// Defaults are the options before anything is given.
func Defaults() Options {
	var o Options
	for _, k := range Keys {
		if k.Default == "" {
			continue
		}
		if err := k.set(&o, k.Default); err != nil {
			panic(fmt.Sprintf("plan: default of %s: %v", k.Name, err)) // a bug in Keys
		}
	}
	return o
}

// Arg is one given option: a key and its values (one for a scalar, any number for a list).
// An Arg without values is not given and changes nothing.
type Arg struct {
	Key    string
	Values []string
}

// Given is an Arg for a scalar that counts as given when it is not empty.
func Given(key, value string) Arg {
	if value == "" {
		return Arg{Key: key}
	}
	return Arg{Key: key, Values: []string{value}}
}

// Apply sets the given args in order; a list given replaces the list so far (a flag overrides
// the configuration, it does not add to it). Every bad value is reported, each naming its key.
func (o *Options) Apply(args ...Arg) error {
	var errs []error
	for _, a := range args {
		if len(a.Values) == 0 {
			continue
		}
		k, ok := KeyNamed(a.Key)
		if !ok {
			errs = append(errs, fmt.Errorf("unknown option %q", a.Key))
			continue
		}
		if k.Kind != KindList && len(a.Values) > 1 {
			errs = append(errs, fmt.Errorf("%s: given %d times, takes one value", k.Name, len(a.Values)))
			continue
		}
		if k.reset != nil {
			k.reset(o)
		}
		for _, v := range a.Values {
			if err := k.set(o, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Validate checks what one key alone cannot: the options a plan is made of must all be there.
func (o Options) Validate() error {
	var errs []error
	if len(o.Platforms) == 0 {
		errs = append(errs, errors.New("platforms: none given"))
	}
	for _, t := range o.Platforms {
		if !t.IsSupported() {
			errs = append(errs, fmt.Errorf("platforms: %q is not supported", t))
		}
	}
	if _, err := layout.ParseMode(string(o.Mode)); err != nil || o.Mode == "" {
		errs = append(errs, fmt.Errorf("mode: invalid %q", o.Mode))
	}
	if o.Name == "" {
		errs = append(errs, errors.New("name: empty"))
	}
	if o.Budget <= 0 {
		errs = append(errs, fmt.Errorf("budget: %s is not positive", o.Budget))
	}
	if _, err := ParseBootloader(string(o.Bootloader)); err != nil {
		errs = append(errs, fmt.Errorf("bootloader: %w", err))
	}
	return errors.Join(errs...)
}

// listSetter appends the items of a list value to the field.
func listSetter(field func(*Options) *[]string) func(*Options, string) error {
	return func(o *Options, v string) error {
		f := field(o)
		*f = appendNew(*f, splitList(v)...)
		return nil
	}
}

// patternSetter appends ignore patterns, each checked.
func patternSetter(field func(*Options) *[]string) func(*Options, string) error {
	return func(o *Options, v string) error {
		for _, p := range splitList(v) {
			if err := source.CheckPattern(p); err != nil {
				return err
			}
			f := field(o)
			*f = appendNew(*f, p)
		}
		return nil
	}
}

// moduleSetter appends dotted module names, each checked.
func moduleSetter(field func(*Options) *[]string) func(*Options, string) error {
	return func(o *Options, v string) error {
		for _, m := range splitList(v) {
			if err := spec.CheckModule(m); err != nil {
				return fmt.Errorf("%q: %v", m, err)
			}
			f := field(o)
			*f = appendNew(*f, m)
		}
		return nil
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func appendNew(xs []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(xs, a) {
			xs = append(xs, a)
		}
	}
	return xs
}

// ParseAssignments reads KEY=VALUE option arguments (a list key's value is comma-separated);
// an item without "=" becomes an argument of an unknown key, which Apply reports.
func ParseAssignments(items []string) []Arg {
	var out []Arg
	for _, it := range items {
		k, v, _ := strings.Cut(it, "=")
		out = append(out, Arg{Key: strings.TrimSpace(k), Values: []string{v}})
	}
	return out
}
