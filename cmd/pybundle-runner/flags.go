package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/target"
)

// DefaultPythonVersion is the Python minor the runner requires by default: the one the
// module's builder has (Python 3.13 from Debian trixie / python:3.13-slim).
const DefaultPythonVersion = "3.13"

// envConfig is what step 1 (env) needs; build embeds it.
type envConfig struct {
	Target  target.Target
	Python  string // --python: a path, or a command with arguments ("py -3.13")
	Pin     pin    // --python-version
	Venv    string // absolute
	VenvSet bool   // --venv given: the user's venv, never recreated
}

// buildConfig is a parsed `build` command line; every path is absolute.
type buildConfig struct {
	envConfig
	Source, Out  string
	Requirements string
	// RequirementsSet: --requirements given, used as it is.
	RequirementsSet bool
	Wheelhouse      string
	SkipHealth      bool
	// Options are the build's options: plan.Defaults, then the source's [tool.pybundle] (or,
	// for a dispatched job, the --options it carries, which the module merged already), then
	// the option flags; Platforms is this runner's one target. Options.Load completes them
	// with the configuration once the source is read.
	Options plan.Options
	// Given are the option flags, in order; FromJob says Options came from --options.
	Given   []plan.Arg
	FromJob bool
}

// newFlagSet returns a flag set whose errors and usage go to w, and that never exits.
func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pybundle-runner "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// parseFlags runs fs.Parse and turns its outcomes into errHelp / usage errors; positional
// arguments are refused unless allowArgs.
func parseFlags(fs *flag.FlagSet, args []string, allowArgs bool) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	case err != nil:
		return &errUsage{err.Error()} // the flag package has printed the usage
	case !allowArgs && fs.NArg() > 0:
		return usageErr("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// envFlags registers the flags env and build share.
type envFlags struct {
	platform, python, pythonVersion, venv string
}

func (e *envFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.platform, "platform", "auto", "target os/arch; auto = this machine. Only this machine's OS can be built (PyInstaller is no cross-compiler)")
	fs.StringVar(&e.python, "python", "", "Python to build with (a path, or a command such as \"py -3.13\"); default: python3.13/python3/python on PATH, or py on Windows")
	fs.StringVar(&e.pythonVersion, "python-version", DefaultPythonVersion, "required Python version, X.Y (any patch) or X.Y.Z (exact); at least 3.10")
	fs.StringVar(&e.venv, "venv", "", "virtual environment to install into (default <out>/.venv)")
}

// resolve checks the shared flags; out is the output folder (for the default venv).
func (e *envFlags) resolve(hostOS, hostArch, out string) (envConfig, error) {
	var c envConfig
	t, err := resolvePlatform(e.platform, hostOS, hostArch)
	if err != nil {
		return c, err
	}
	c.Target = t
	if c.Pin, err = parsePin(e.pythonVersion); err != nil {
		return c, usageErr("--python-version: %v", err)
	}
	c.Python = strings.TrimSpace(e.python)
	if e.venv != "" {
		c.VenvSet = true
		if c.Venv, err = filepath.Abs(e.venv); err != nil {
			return c, usageErr("--venv: %v", err)
		}
	} else if out != "" {
		c.Venv = filepath.Join(out, ".venv")
	}
	return c, nil
}

// resolvePlatform turns --platform into a target this machine can build: "auto" is the host;
// anything else must have the host's OS (another arch is allowed: e.g. darwin/amd64 on Apple
// silicon with an x86_64 Python under Rosetta; env checks the Python's arch matches).
func resolvePlatform(p, hostOS, hostArch string) (target.Target, error) {
	host := hostOS + "/" + hostArch
	if p == "" || strings.EqualFold(p, "auto") {
		t, err := target.Parse(host)
		if err != nil {
			return target.Target{}, usageErr("--platform auto: this machine is %s, which pybundle cannot build for: %v", host, err)
		}
		return t, nil
	}
	t, err := target.Parse(p)
	if err != nil {
		return target.Target{}, usageErr("--platform: %v", err)
	}
	if t.OS != hostOS {
		return target.Target{}, usageErr("--platform %s: PyInstaller is not a cross-compiler; this runner is %s and builds %s targets only (build %s on a %s runner)",
			t, host, hostOS, t, t.OS)
	}
	return t, nil
}

// maxOptionsFile bounds --options: a few settings, not a document.
const maxOptionsFile = 1 << 20

// registerOptions adds a flag per build option (plan.Keys, but platforms: a runner builds its
// own --platform) that records what was given, in order.
func registerOptions(fs *flag.FlagSet, given *[]plan.Arg) {
	for _, k := range plan.Keys {
		if k.Name == "platforms" {
			continue
		}
		help := k.Help
		if k.Default != "" {
			help += " (default " + k.Default + ")"
		}
		record := func(v string) error {
			*given = append(*given, plan.Arg{Key: k.Name, Values: []string{v}})
			return nil
		}
		if k.Kind == plan.KindBool {
			fs.BoolFunc(k.Name, help, record)
		} else {
			fs.Func(k.Name, help, record)
		}
	}
}

// parseBuild parses the build command line.
func parseBuild(args []string, hostOS, hostArch string, stderr io.Writer) (buildConfig, error) {
	var c buildConfig
	fs := newFlagSet("build", stderr)
	var ef envFlags
	var source, out, requirements, wheelhouse, options string
	var given []plan.Arg
	ef.register(fs)
	fs.StringVar(&source, "source", "", "backend source folder, holding the entry point (required; never written to)")
	fs.StringVar(&out, "out", "", "output folder: .venv, work/, dist/<os>-<arch>/, report.json, summary.txt (required)")
	fs.StringVar(&requirements, "requirements", "", "the backend's requirements file (default <source>/requirements.txt); --hash lines switch pip to --require-hashes")
	fs.StringVar(&wheelhouse, "wheelhouse", "", "install only from this folder of wheels (pip --no-index --find-links)")
	fs.BoolVar(&c.SkipHealth, "skip-health", false, "do not start the backend (the report records health as skipped)")
	fs.StringVar(&options, "options", "", "build options as JSON (what a dispatched job carries); option flags override them")
	registerOptions(fs, &given)
	if err := parseFlags(fs, args, false); err != nil {
		return c, err
	}
	if source == "" || out == "" {
		return c, usageErr("build: --source and --out are required")
	}
	var err error
	if c.Source, err = absDir("--source", source); err != nil {
		return c, err
	}
	if c.Out, err = filepath.Abs(out); err != nil {
		return c, usageErr("--out: %v", err)
	}
	if sameFile(c.Source, c.Out) || within(c.Source, c.Out) {
		return c, usageErr("--out %s: must not be the source folder or contain it (the runner replaces <out>/work)", out)
	}
	if c.envConfig, err = ef.resolve(hostOS, hostArch, c.Out); err != nil {
		return c, err
	}
	if c.VenvSet && (sameFile(c.Source, c.Venv) || within(c.Source, c.Venv)) {
		return c, usageErr("--venv %s: must not be the source folder or contain it", c.Venv)
	}
	if c.Options, err = buildOptions(options, given, c.Target); err != nil {
		return c, err
	}
	c.Given, c.FromJob = given, options != ""
	if requirements == "" {
		// The source's requirements.txt, or else its [project] dependencies (stagePlan).
		c.Requirements = filepath.Join(c.Source, plan.RequirementsFile)
	} else if c.Requirements, err = filepath.Abs(requirements); err != nil {
		return c, usageErr("--requirements: %v", err)
	} else {
		c.RequirementsSet = true
	}
	if wheelhouse != "" {
		if c.Wheelhouse, err = absDir("--wheelhouse", wheelhouse); err != nil {
			return c, err
		}
	}
	return c, nil
}

// buildOptions are plan.Defaults, then the --options file, then the flags given, for target t.
func buildOptions(file string, given []plan.Arg, t target.Target) (plan.Options, error) {
	o := plan.Defaults()
	if file != "" {
		b, err := readBounded(file, maxOptionsFile)
		if err != nil {
			return o, usageErr("--options: %v", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return o, usageErr("--options %s: %v", file, err)
		}
	}
	if err := o.Apply(given...); err != nil {
		return o, usageErr("%v", err)
	}
	o.Platforms = []target.Target{t}
	if err := o.Validate(); err != nil {
		return o, usageErr("%v", err)
	}
	return o, nil
}

// load reads the source and completes the options with its configuration: a job's options
// were merged by the module already; otherwise [tool.pybundle], then the flags.
func (c buildConfig) load(ignore ...string) (plan.Options, *source.Tree, error) {
	if c.FromJob {
		tree, err := plan.Read(c.Options, c.Source, ignore...)
		return c.Options, tree, err
	}
	o, tree, err := plan.Load(c.Source, c.Given, ignore...)
	if err != nil {
		return o, nil, err
	}
	o.Platforms = []target.Target{c.Target}
	return o, tree, nil
}

// readBounded reads at most max bytes of a regular file.
func readBounded(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, cause(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: over %d bytes", p, max)
	}
	return b, nil
}

// parseEnv parses the env command line: the shared flags plus --out for the default venv.
func parseEnv(args []string, hostOS, hostArch string, stderr io.Writer) (envConfig, error) {
	fs := newFlagSet("env", stderr)
	var ef envFlags
	var out string
	ef.register(fs)
	fs.StringVar(&out, "out", "", "the build's output folder, to report the PyInstaller of <out>/.venv")
	if err := parseFlags(fs, args, false); err != nil {
		return envConfig{}, err
	}
	if out != "" {
		abs, err := filepath.Abs(out)
		if err != nil {
			return envConfig{}, usageErr("--out: %v", err)
		}
		out = abs
	}
	return ef.resolve(hostOS, hostArch, out)
}

// absDir makes p absolute and requires an existing directory.
func absDir(flagName, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", usageErr("%s: %v", flagName, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return "", usageErr("%s %s: %v", flagName, p, cause(err))
	case !fi.IsDir():
		return "", usageErr("%s %s: not a directory", flagName, p)
	}
	return abs, nil
}

// within reports whether p lies strictly inside dir. Both are compared as they are on disk
// (canonical): an alias through a symlink, or another letter case on a case-insensitive file
// system, is the same folder.
func within(p, dir string) bool {
	p, dir = canonical(p), canonical(dir)
	if foldCase {
		p, dir = strings.ToLower(p), strings.ToLower(dir)
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// sameFile reports whether a and b name the same folder: canonically equal, or, both
// existing, the same file by identity.
func sameFile(a, b string) bool {
	ca, cb := canonical(a), canonical(b)
	if ca == cb || foldCase && strings.EqualFold(ca, cb) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// foldCase: macOS and Windows file systems are case-insensitive by default.
var foldCase = runtime.GOOS == "darwin" || runtime.GOOS == "windows"

// canonical is p absolute and cleaned with its longest existing prefix resolved through
// symlinks (the part that does not exist yet appended as written).
func canonical(p string) string {
	p, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// cause strips the *PathError wrapper whose path the caller already prints.
func cause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// String renders a config for the log.
func (c buildConfig) String() string {
	o := c.Options
	return fmt.Sprintf("%s %s %s from %s (entry %s) into %s", c.Target, o.Mode, o.Name, c.Source, o.Entry, c.Out)
}
