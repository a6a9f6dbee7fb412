package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// RequirementsFile is the backend's pip requirements file, the first place its dependencies
// are read from (with --hash lines, pip installs in hash-checking mode).
const RequirementsFile = "requirements.txt"

// FromProject names dependencies read from pyproject.toml's [project] dependencies.
const FromProject = ConfigFile + " [project] dependencies"

// Requirements are the backend's dependencies as a requirements file's text, and where they
// came from: requirements.txt as it is, or else pyproject.toml's [project] dependencies (PEP
// 621), one per line. Empty From: the backend declares none.
type Requirements struct {
	From string
	Text []byte
}

// maxRequirements bounds the requirements file read.
const maxRequirements = 1 << 20

// Requirements reads the backend's dependencies from its source.
func (p *Plan) Requirements() (Requirements, error) {
	if p.tree.Has(RequirementsFile) {
		b, err := p.tree.ReadFile(RequirementsFile, maxRequirements)
		if err != nil {
			return Requirements{}, fmt.Errorf("%s: %w", RequirementsFile, err)
		}
		return Requirements{From: RequirementsFile, Text: b}, nil
	}
	if !p.tree.Has(ConfigFile) {
		return Requirements{}, nil
	}
	b, err := p.tree.ReadFile(ConfigFile, maxConfig)
	if err != nil {
		return Requirements{}, fmt.Errorf("%s: %w", ConfigFile, err)
	}
	deps, err := ProjectDependencies(b)
	if err != nil || len(deps) == 0 {
		return Requirements{}, err
	}
	return Requirements{From: FromProject, Text: []byte(strings.Join(deps, "\n") + "\n")}, nil
}

// ProjectDependencies reads [project] dependencies of a pyproject.toml's text: PEP 508
// strings, each on one line of a requirements file (a newline in one would make two).
func ProjectDependencies(text []byte) ([]string, error) {
	var doc struct {
		Project struct {
			Dependencies []any `toml:"dependencies"`
		} `toml:"project"`
	}
	if _, err := toml.Decode(string(text), &doc); err != nil {
		return nil, fmt.Errorf("%s: not valid TOML: %v", ConfigFile, err)
	}
	var deps, bad []string
	for _, d := range doc.Project.Dependencies {
		s, ok := d.(string)
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%v (not a string)", d))
		case strings.ContainsAny(s, "\r\n") || strings.HasPrefix(strings.TrimSpace(s), "-"):
			bad = append(bad, fmt.Sprintf("%q (not one requirement)", s))
		case strings.TrimSpace(s) != "":
			deps = append(deps, strings.TrimSpace(s))
		}
	}
	if len(bad) > 0 {
		return nil, errors.New(ConfigFile + " [project] dependencies: " + strings.Join(bad, ", "))
	}
	return deps, nil
}
