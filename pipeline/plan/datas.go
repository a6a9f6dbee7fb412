package plan

import (
	"path"
	"strings"

	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/spec"
)

// DefaultDatas are the data files a backend conventionally needs at run time: the "data"
// folder, bundled as data/, and the top-level configuration and schema files (*.json, *.yaml,
// *.yml, *.toml, *.ini, *.sql) next to the entry point, except tooling files no running
// backend reads (pyproject.toml, package.json…). Python modules are not data: the analysis
// collects them.
func DefaultDatas(tree *source.Tree) []spec.Data {
	var out []spec.Data
	hasData := false
	for _, f := range tree.Files {
		if strings.HasPrefix(f.Path, "data/") {
			hasData = true
			continue
		}
		if strings.Contains(f.Path, "/") || toolingFiles[strings.ToLower(f.Path)] {
			continue
		}
		switch strings.ToLower(path.Ext(f.Path)) {
		case ".json", ".yaml", ".yml", ".toml", ".ini", ".sql":
			out = append(out, spec.Data{Src: f.Path, Dest: "."})
		}
	}
	if hasData {
		out = append([]spec.Data{{Src: "data", Dest: "data"}}, out...)
	}
	return out
}

// toolingFiles are configuration files of build and dev tools that match the data extensions
// but are never read by the running backend.
var toolingFiles = map[string]bool{
	"pyproject.toml": true, "ruff.toml": true, "mypy.ini": true,
	"pytest.ini": true, "tox.ini": true, "package.json": true, "package-lock.json": true,
	"tsconfig.json": true, "pyrightconfig.json": true, "renovate.json": true,
	"setup.cfg": true, "pdm.toml": true, "uv.toml": true, "poetry.toml": true,
}
