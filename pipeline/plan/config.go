package plan

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/source"
)

// ConfigFile is where a backend configures its build: the [tool.pybundle] table of its
// pyproject.toml, read by the module, the runner and CI alike. Arguments given on a command
// line override it.
const ConfigFile = "pyproject.toml"

// maxConfig bounds the configuration file read.
const maxConfig = 1 << 20

// Load reads the backend's source folder dir (on this machine) and its configuration, and
// applies the given arguments over it: the options every executor builds with, and the tree.
// ignore holds the executor's own patterns (its output folder inside the source, say).
func Load(dir string, args []Arg, ignore ...string) (Options, *source.Tree, error) {
	o := Defaults()
	cfg, err := ReadConfig(dir)
	if err != nil {
		return o, nil, &diagnose.Error{Stage: "plan", Target: Names(o.Platforms), File: ConfigFile, Reason: err.Error()}
	}
	if err := o.Apply(cfg...); err != nil {
		return o, nil, &diagnose.Error{Stage: "plan", Target: Names(o.Platforms), File: ConfigFile, Reason: "[tool.pybundle] " + err.Error()}
	}
	if err := o.Apply(args...); err != nil {
		return o, nil, &diagnose.Error{Stage: "plan", Target: givenOr(args, o), Reason: err.Error()}
	}
	tree, err := Read(o, dir, ignore...)
	return o, tree, err
}

func givenOr(args []Arg, o Options) string {
	for _, a := range args {
		if a.Key == "platforms" && len(a.Values) > 0 {
			return strings.Join(a.Values, ",")
		}
	}
	return Names(o.Platforms)
}

// ReadConfig reads [tool.pybundle] of dir's pyproject.toml as option arguments (none when
// there is no such file or table). An unknown key or a value of the wrong type is an error
// naming the key.
func ReadConfig(dir string) ([]Arg, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(ConfigFile) // inside the source folder: a link out of it is refused
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfig {
		return nil, fmt.Errorf("over %d bytes", maxConfig)
	}
	return ParseConfig(b)
}

// ParseConfig reads the [tool.pybundle] table of a pyproject.toml's text.
func ParseConfig(text []byte) ([]Arg, error) {
	var doc struct {
		Project struct {
			Name        any `toml:"name"`
			Version     any `toml:"version"`
			Description any `toml:"description"`
		} `toml:"project"`
		Tool struct {
			Pybundle map[string]any `toml:"pybundle"`
		} `toml:"tool"`
	}
	if _, err := toml.Decode(string(text), &doc); err != nil {
		return nil, fmt.Errorf("not valid TOML: %v", err)
	}
	// [project] gives the release metadata's defaults; [tool.pybundle] comes after, so its
	// keys override them. A non-string there is the project's own business (PEP 621 tools
	// report it), not a reason to fail a build.
	var args []Arg
	for _, kv := range []struct {
		key string
		v   any
	}{{"product-name", doc.Project.Name}, {"version", doc.Project.Version}, {"description", doc.Project.Description}} {
		if s, ok := kv.v.(string); ok && strings.TrimSpace(s) != "" {
			args = append(args, Arg{Key: kv.key, Values: []string{s}})
		}
	}
	keys := make([]string, 0, len(doc.Tool.Pybundle))
	for k := range doc.Tool.Pybundle {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		a, err := configArg(k, doc.Tool.Pybundle[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("[tool.pybundle] %s: %w", k, err))
			continue
		}
		args = append(args, a)
	}
	return args, errors.Join(errs...)
}

// configArg turns one TOML value into the argument of the key of that name.
func configArg(name string, v any) (Arg, error) {
	k, ok := KeyNamed(name)
	if !ok {
		if alt, ok := KeyNamed(strings.ReplaceAll(name, "_", "-")); ok {
			return Arg{}, fmt.Errorf("unknown key (did you mean %s?)", alt.Name)
		}
		return Arg{}, fmt.Errorf("unknown key (known: %s)", keyNames())
	}
	switch k.Kind {
	case KindList:
		switch x := v.(type) {
		case []any:
			a := Arg{Key: name}
			for _, item := range x {
				s, ok := item.(string)
				if !ok {
					return Arg{}, fmt.Errorf("want a list of strings, found %T in it", item)
				}
				a.Values = append(a.Values, s)
			}
			if len(a.Values) == 0 {
				a.Values = []string{""} // an empty list given: clears the default
			}
			return a, nil
		case string:
			return Arg{Key: name, Values: []string{x}}, nil
		}
		return Arg{}, fmt.Errorf("want a list of strings, found %T", v)
	case KindBool:
		b, ok := v.(bool)
		if !ok {
			return Arg{}, fmt.Errorf("want true or false, found %T", v)
		}
		return Arg{Key: name, Values: []string{strconv.FormatBool(b)}}, nil
	case KindDuration:
		switch x := v.(type) {
		case string:
			return Arg{Key: name, Values: []string{x}}, nil
		case int64:
			return Arg{Key: name, Values: []string{(time.Duration(x) * time.Second).String()}}, nil
		}
		return Arg{}, fmt.Errorf(`want a duration such as "5s", found %T`, v)
	}
	s, ok := v.(string)
	if !ok {
		return Arg{}, fmt.Errorf("want a string, found %T", v)
	}
	return Arg{Key: name, Values: []string{s}}, nil
}

func keyNames() string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}
