package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/spec"
)

const pyproject = `[project]
name = "svc"

[tool.pybundle]
entry = "svc.web:app"
mode = "onefile"
name = "svc-engine"
hidden-imports = ["a.b", "c"]
data = ["conf/defaults.json:conf"]
exclude-data = ["*.db"]
ignore = ["notebooks/"]
warmup = ["/api/items"]
slim = false
budget = "9s"
trace = false

[tool.other]
x = 1
`

func TestParseConfig(t *testing.T) {
	args, err := ParseConfig([]byte(pyproject))
	assert.NilError(t, err)
	o := Defaults()
	assert.NilError(t, o.Apply(args...))
	assert.Equal(t, o.Entry, "svc.web:app")
	assert.Equal(t, o.Mode, layout.OneFile)
	assert.Equal(t, o.Name, "svc-engine")
	assert.DeepEqual(t, o.HiddenImports, []string{"a.b", "c"})
	assert.DeepEqual(t, o.Data, []spec.Data{{Src: "conf/defaults.json", Dest: "conf"}})
	assert.DeepEqual(t, o.ExcludeData, []string{"*.db"})
	assert.DeepEqual(t, o.Ignore, []string{"notebooks/"})
	assert.DeepEqual(t, o.WarmUp, []string{"/api/items"})
	assert.Equal(t, o.Slim, false)
	assert.Equal(t, o.Budget, 9*time.Second)
	assert.Equal(t, o.Trace, false)

	args, err = ParseConfig([]byte("[project]\nname = 'x'\ndynamic = ['version']\ndescription = 'Inventory API'\n"))
	assert.NilError(t, err)
	assert.DeepEqual(t, args, []Arg{{Key: "product-name", Values: []string{"x"}}, {Key: "description", Values: []string{"Inventory API"}}})

	// [tool.pybundle] overrides [project]; a [project] value of another type is ignored.
	args, err = ParseConfig([]byte("[project]\nname = 'x'\nversion = 2\n[tool.pybundle]\nproduct-name = 'X Pro'\nversion = '1.2.3'\n"))
	assert.NilError(t, err)
	o = Defaults()
	assert.NilError(t, o.Apply(args...))
	assert.Equal(t, o.ProductName, "X Pro")
	assert.Equal(t, o.Version, "1.2.3")

	args, err = ParseConfig([]byte("[tool.black]\nline-length = 99\n"))
	assert.NilError(t, err)
	assert.Equal(t, len(args), 0, "no table: nothing configured")
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[tool.pybundle]\ncolour = 'red'\n", "[tool.pybundle] colour: unknown key (known: platforms, mode"},
		{"[tool.pybundle]\nhidden_imports = ['x']\n", "[tool.pybundle] hidden_imports: unknown key (did you mean hidden-imports?)"},
		{"[tool.pybundle]\nslim = 'no'\n", "[tool.pybundle] slim: want true or false, found string"},
		{"[tool.pybundle]\nhidden-imports = [1, 2]\n", "[tool.pybundle] hidden-imports: want a list of strings, found int64 in it"},
		{"[tool.pybundle]\nname = 3\n", "[tool.pybundle] name: want a string, found int64"},
		{"[tool.pybundle\n", "not valid TOML"},
	} {
		_, err := ParseConfig([]byte(tc.text))
		assert.ErrorContains(t, err, tc.want)
	}
}

// Load: defaults, then [tool.pybundle], then the arguments given; a bad value names the file.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(p, text string) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		assert.NilError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		assert.NilError(t, os.WriteFile(full, []byte(text), 0o644))
	}
	write("pyproject.toml", "[tool.pybundle]\nmode = 'onefile'\nname = 'from-config'\nignore = ['scratch/']\n")
	write("main.py", "")
	write("scratch/x.py", "")
	o, tree, err := Load(dir, []Arg{Given("name", "from-flag")})
	assert.NilError(t, err)
	assert.Equal(t, o.Mode, layout.OneFile)
	assert.Equal(t, o.Name, "from-flag", "a flag overrides the configuration")
	assert.Assert(t, !tree.Has("scratch/x.py"), "the configuration's ignore applies to the tree")
	assert.Assert(t, tree.Has("main.py"))

	write("pyproject.toml", "[tool.pybundle]\nmode = 'onezip'\n")
	_, _, err = Load(dir, nil)
	assert.ErrorContains(t, err, `plan linux/amd64: pyproject.toml: [tool.pybundle] mode: invalid mode "onezip"`)

	// The configuration file is read inside the source folder only.
	assert.NilError(t, os.Remove(filepath.Join(dir, "pyproject.toml")))
	outside := filepath.Join(t.TempDir(), "pyproject.toml")
	assert.NilError(t, os.WriteFile(outside, []byte("[tool.pybundle]\nmode = 'onefile'\n"), 0o644))
	assert.NilError(t, os.Symlink(outside, filepath.Join(dir, "pyproject.toml")))
	_, _, err = Load(dir, nil)
	assert.Assert(t, is.ErrorContains(err, "pyproject.toml"))
}

// The backend's dependencies: requirements.txt as it is (hash mode kept), else [project]
// dependencies one per line; none when it declares none. A dependency that would turn into a
// pip option or two lines is refused.
func TestRequirements(t *testing.T) {
	plan := func(files map[string]string) *Plan {
		dir := t.TempDir()
		files["main.py"] = "print('hi')\n"
		for p, text := range files {
			assert.NilError(t, os.WriteFile(filepath.Join(dir, p), []byte(text), 0o644))
		}
		o, tree, err := Load(dir, nil)
		assert.NilError(t, err)
		p, err := New(o, tree)
		assert.NilError(t, err)
		return p
	}
	project := "[project]\nname = 'x'\ndependencies = ['fastapi>=0.110', 'uvicorn[standard] ; python_version >= \"3.10\"']\n"

	r, err := plan(map[string]string{"pyproject.toml": project}).Requirements()
	assert.NilError(t, err)
	assert.Equal(t, r.From, FromProject)
	assert.Equal(t, string(r.Text), "fastapi>=0.110\nuvicorn[standard] ; python_version >= \"3.10\"\n")

	hashed := "fastapi==0.115.11 --hash=sha256:" + strings.Repeat("a", 64) + "\n"
	r, err = plan(map[string]string{"pyproject.toml": project, "requirements.txt": hashed}).Requirements()
	assert.NilError(t, err)
	assert.Equal(t, r.From, RequirementsFile)
	assert.Equal(t, string(r.Text), hashed)

	r, err = plan(map[string]string{"pyproject.toml": "[project]\nname = 'x'\n"}).Requirements()
	assert.NilError(t, err)
	assert.Equal(t, r.From, "")

	for _, bad := range []string{"dependencies = [\"a\\nb\"]", "dependencies = ['--index-url=http://x']", "dependencies = [3]"} {
		_, err := ProjectDependencies([]byte("[project]\n" + bad + "\n"))
		assert.ErrorContains(t, err, "[project] dependencies: ", bad)
	}
}

// The README's configuration table lists every key with its type and default, and no key
// that does not exist: users configure from that table.
func TestREADMEListsEveryKey(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	assert.NilError(t, err)
	rows := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = []string{strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3])}
	}
	for _, k := range Keys {
		row, ok := rows[k.Name]
		if !assert.Check(t, ok, "README has no row for %s", k.Name) {
			continue
		}
		assert.Check(t, row[0] == string(k.Kind), "%s: README says %s, the key is a %s", k.Name, row[0], k.Kind)
		if k.Name != "entry" { // "found": no default, detected
			assert.Check(t, row[1] == k.Default, "%s: README default %q, the key's %q", k.Name, row[1], k.Default)
		}
	}
}
