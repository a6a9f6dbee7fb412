package plan

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pybundle/pybundle/pipeline/layout"
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
	// Entry is the entry script, relative to the source root, slash-separated.
	Entry string `json:"entry"`
	// HiddenImports are the user's extra hidden imports, beyond what the scanner finds.
	HiddenImports []string `json:"hidden_imports"`
	// Slim excludes setuptools/pkg_resources (see spec.Options.Slim).
	Slim bool `json:"slim"`
	// Budget is the longest acceptable time to a healthy /api/health on a native start.
	Budget time.Duration `json:"budget"`
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
	{Name: "entry", Kind: KindString, Default: "main.py",
		Help: "entry script, relative to the source folder",
		set:  func(o *Options, v string) error { o.Entry = strings.TrimSpace(v); return nil }},
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
	if o.Entry == "" {
		errs = append(errs, errors.New("entry: empty"))
	}
	if o.Budget <= 0 {
		errs = append(errs, fmt.Errorf("budget: %s is not positive", o.Budget))
	}
	return errors.Join(errs...)
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
