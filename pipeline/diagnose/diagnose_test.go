package diagnose

import (
	"fmt"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

const target = "linux/amd64"

// The outputs below are modelled on PyInstaller 6.22 runs in the builder: Python 3.13 from
// Debian, PyInstaller from trixie-backports, the source mounted at /src and the generated spec
// written next to it, run as `pyinstaller --log-level WARN ... main.spec`.

// A SyntaxError in the entry script, raised by modulegraph's compile() and propagated through
// PyInstaller's own frames (and the spec's, which is under /src too but must not be blamed).
const syntaxErrorThroughPyInstaller = `Traceback (most recent call last):
  File "/usr/bin/pyinstaller", line 33, in <module>
    sys.exit(load_entry_point('pyinstaller==6.22.2', 'console_scripts', 'pyinstaller')())
             ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~^^
  File "/usr/lib/python3/dist-packages/PyInstaller/__main__.py", line 231, in run
    run_build(pyi_config, spec_file, **vars(args))
    ~~~~~~~~~^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3/dist-packages/PyInstaller/__main__.py", line 172, in run_build
    PyInstaller.building.build_main.main(pyi_config, spec_file, **kwargs)
    ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3/dist-packages/PyInstaller/building/build_main.py", line 1282, in main
    build(specfile, distpath, workpath, clean_build)
    ~~~~~^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3/dist-packages/PyInstaller/building/build_main.py", line 1220, in build
    exec(code, spec_namespace)
    ~~~~^^^^^^^^^^^^^^^^^^^^^^
  File "/src/main.spec", line 12, in <module>
    a = Analysis(
        ['main.py'],
    ...<12 lines>...
        optimize=0,
    )
  File "/usr/lib/python3/dist-packages/PyInstaller/building/build_main.py", line 584, in __init__
    self.__postinit__()
    ~~~~~~~~~~~~~~~~~^^
  File "/usr/lib/python3/dist-packages/PyInstaller/building/datastruct.py", line 184, in __postinit__
    self.assemble()
    ~~~~~~~~~~~~~^^
  File "/usr/lib/python3/dist-packages/PyInstaller/building/build_main.py", line 715, in assemble
    priority_scripts.append(self.graph.add_script(script))
                            ~~~~~~~~~~~~~~~~~~~~~^^^^^^^^
  File "/usr/lib/python3/dist-packages/PyInstaller/depend/analysis.py", line 288, in add_script
    self._top_script_node = super().add_script(pathname)
                            ~~~~~~~~~~~~~~~~~~^^^^^^^^^^
  File "/usr/lib/python3/dist-packages/PyInstaller/lib/modulegraph/modulegraph.py", line 1409, in add_script
    co_ast = compile(contents, pathname, 'exec', ast.PyCF_ONLY_AST, True)
  File "/src/main.py", line 7
    def read_root(:
                  ^
SyntaxError: invalid syntax
`

// The same error reported without PyInstaller's frames in between, after a few log lines.
const syntaxErrorShort = `142 WARNING: Ignoring obsolete auto-added script /src/build/main.py
Traceback (most recent call last):
  File "/src/main.py", line 7
    app = FastAPI(title="demo"
                 ^
SyntaxError: '(' was never closed
`

// An IndentationError in a module of the user's package, two levels down.
const indentationErrorInPackage = `Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/PyInstaller/lib/modulegraph/modulegraph.py", line 2290, in _load_module
    co_ast = compile(contents, pathname, 'exec', ast.PyCF_ONLY_AST, True)
  File "/src/services/users.py", line 12
    return {"id": user_id}
IndentationError: unexpected indent
`

// The spec's build guard, as pipeline/spec prints it.
const guardFromSpec = `1873 WARNING: Hidden import "services.billing" not found!
PYBUNDLE BUILD CHECK FAILED: required modules not collected: services.billing (they are imported by string, so PyInstaller could not see them; list them as hidden imports, and if they already are, check the name and that the module is installed in the build environment)
`

// The guard's line in its short form, with a traceback after it that must not win.
const guardShort = `PYBUNDLE BUILD CHECK FAILED: services.billing (imported by string; PyInstaller could not see them)
Traceback (most recent call last):
  File "/src/main.py", line 3, in <module>
SystemExit: 1
`

// Analysis() with an entry script that does not exist (the spec path).
const scriptNotFoundSpec = `98 WARNING: Ignoring obsolete auto-added script /src/old.py
ERROR: script '/src/main.py' not found
`

// `pyinstaller main.py` with a missing script (PyInstaller 6's __main__ check).
const scriptNotFoundCLI = `ERROR: Script file '/src/app/main.py' does not exist.
`

// The same, relative to the working directory.
const scriptNotFoundRelative = `ERROR: Script file 'server.py' does not exist.
`

// A mistyped hidden import: PyInstaller only logs an ERROR; here the build failed later.
const hiddenImportNotFound = `1201 ERROR: Hidden import 'servcies.users' not found
1877 WARNING: Library not found: could not resolve 'libpq.so.5', dependency of '/usr/lib/python3/dist-packages/psycopg2/_psycopg.cpython-313-x86_64-linux-gnu.so'.
`

// A failure inside PyInstaller, with no frame in the user's source (the spec's frame does not
// count): the last exception line is the reason.
const internalError = `Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/PyInstaller/building/build_main.py", line 1220, in build
    exec(code, spec_namespace)
    ~~~~^^^^^^^^^^^^^^^^^^^^^^
  File "/src/main.spec", line 48, in <module>
    coll = COLLECT(
        exe,
    ...<5 lines>...
        name='main',
    )
  File "/usr/lib/python3/dist-packages/PyInstaller/building/api.py", line 1129, in __init__
    self.__postinit__()
    ~~~~~~~~~~~~~~~~~^^
  File "/usr/lib/python3/dist-packages/PyInstaller/building/utils.py", line 430, in _rmtree
    shutil.rmtree(path)
    ~~~~~~~~~~~~~^^^^^^
PermissionError: [Errno 13] Permission denied: '/out/dist/main'
`

func TestCompile(t *testing.T) {
	tests := []struct {
		name       string
		output     string
		wantFile   string
		wantLine   int
		wantReason []string // substrings of Reason
		wantExact  string   // exact Reason, when set
	}{
		{
			name:       "syntax error through PyInstaller frames",
			output:     syntaxErrorThroughPyInstaller,
			wantFile:   "main.py",
			wantLine:   7,
			wantExact:  "SyntaxError: invalid syntax",
			wantReason: []string{"SyntaxError"},
		},
		{
			name:       "syntax error short traceback",
			output:     syntaxErrorShort,
			wantFile:   "main.py",
			wantLine:   7,
			wantExact:  "SyntaxError: '(' was never closed",
			wantReason: []string{"SyntaxError"},
		},
		{
			name:       "indentation error in a package module",
			output:     indentationErrorInPackage,
			wantFile:   "services/users.py",
			wantLine:   12,
			wantExact:  "IndentationError: unexpected indent",
			wantReason: []string{"IndentationError"},
		},
		{
			name:       "CRLF line endings",
			output:     strings.ReplaceAll(syntaxErrorShort, "\n", "\r\n"),
			wantFile:   "main.py",
			wantLine:   7,
			wantExact:  "SyntaxError: '(' was never closed",
			wantReason: []string{"SyntaxError"},
		},
		{
			name:       "build guard from the spec",
			output:     guardFromSpec,
			wantReason: []string{"services.billing", "imported by string"},
		},
		{
			name:       "build guard short form wins over a traceback",
			output:     guardShort,
			wantReason: []string{"services.billing", "build check failed"},
		},
		{
			name:       "script not found (Analysis)",
			output:     scriptNotFoundSpec,
			wantFile:   "main.py",
			wantExact:  "entry point not found",
			wantReason: []string{"not found"},
		},
		{
			name:       "script file does not exist (PyInstaller 6 CLI)",
			output:     scriptNotFoundCLI,
			wantFile:   "app/main.py",
			wantExact:  "entry point not found",
			wantReason: []string{"not found"},
		},
		{
			name:       "script file does not exist, relative path",
			output:     scriptNotFoundRelative,
			wantFile:   "server.py",
			wantExact:  "entry point not found",
			wantReason: []string{"not found"},
		},
		{
			name:       "hidden import not found",
			output:     hiddenImportNotFound,
			wantExact:  "hidden import not found: servcies.users",
			wantReason: []string{"servcies.users"},
		},
		{
			name:       "internal error: last exception line",
			output:     internalError,
			wantExact:  "PermissionError: [Errno 13] Permission denied: '/out/dist/main'",
			wantReason: []string{"PermissionError"},
		},
		{
			name:      "unknown output",
			output:    "1200 WARNING: lib not found: libfoo.so\nKilled\n",
			wantExact: "PyInstaller failed",
		},
		{
			name:      "empty output",
			output:    "",
			wantExact: "PyInstaller failed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Compile(target, "/src", tc.output)
			assert.Equal(t, e.Stage, "compile")
			assert.Equal(t, e.Target, target)
			assert.Equal(t, e.File, tc.wantFile)
			assert.Equal(t, e.Line, tc.wantLine)
			if tc.wantExact != "" {
				assert.Equal(t, e.Reason, tc.wantExact)
			}
			for _, s := range tc.wantReason {
				assert.Check(t, is.Contains(e.Reason, s))
			}
			assert.DeepEqual(t, e.Tail, Tail(tc.output, 15))
		})
	}
}

// A source root given with a trailing slash reports the same relative paths.
func TestCompileSrcRootTrailingSlash(t *testing.T) {
	for _, root := range []string{"/src", "/src/"} {
		e := Compile(target, root, syntaxErrorThroughPyInstaller)
		assert.Equal(t, e.File, "main.py", "srcRoot %q", root)
		assert.Equal(t, e.Line, 7, "srcRoot %q", root)
	}
}

func TestTail(t *testing.T) {
	var long []string
	for i := 1; i <= 40; i++ {
		long = append(long, fmt.Sprintf("%d INFO: line %d", i*10, i))
		if i%3 == 0 {
			long = append(long, "", "   ")
		}
	}
	var wantLong []string
	for i := 26; i <= 40; i++ {
		wantLong = append(wantLong, fmt.Sprintf("%d INFO: line %d", i*10, i))
	}

	tests := []struct {
		name string
		in   string
		n    int
		want []string
	}{
		{name: "empty", in: "", n: 15, want: nil},
		{name: "only blank lines", in: "\n\n  \n\t\n", n: 15, want: nil},
		{name: "fewer than n", in: "a\n\nb\n", n: 15, want: []string{"a", "b"}},
		{name: "crlf", in: "a\r\n\r\nb\r\n", n: 15, want: []string{"a", "b"}},
		{name: "keeps indentation", in: "x\n    def f(:\n", n: 15, want: []string{"x", "    def f(:"}},
		{name: "last n, blanks dropped", in: strings.Join(long, "\n") + "\n\n", n: 15, want: wantLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.DeepEqual(t, Tail(tc.in, tc.n), tc.want)
		})
	}
}

// Compile keeps at most 15 lines of output, none of them empty.
func TestCompileTailLimit(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "%d WARNING: something %d\n\n", i, i)
	}
	e := Compile(target, "/src", b.String())
	assert.Equal(t, e.Reason, "PyInstaller failed")
	assert.Equal(t, len(e.Tail), 15)
	assert.Equal(t, e.Tail[0], "85 WARNING: something 85")
	assert.Equal(t, e.Tail[14], "99 WARNING: something 99")
	for _, l := range e.Tail {
		assert.Check(t, strings.TrimSpace(l) != "")
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "file, line and tail",
			err: &Error{Stage: "compile", Target: target, File: "main.py", Line: 7,
				Reason: "SyntaxError: invalid syntax",
				Tail:   []string{"    def read_root(:", "                  ^", "SyntaxError: invalid syntax"}},
			want: "compile linux/amd64: main.py:7: SyntaxError: invalid syntax\n" +
				"  last output:\n" +
				"        def read_root(:\n" +
				"                      ^\n" +
				"    SyntaxError: invalid syntax",
		},
		{
			name: "file without line",
			err:  &Error{Stage: "compile", Target: target, File: "main.py", Reason: "entry point not found"},
			want: "compile linux/amd64: main.py: entry point not found",
		},
		{
			name: "no file",
			err:  &Error{Stage: "verify", Target: "windows/amd64", Reason: "PyInstaller failed", Tail: []string{"Killed"}},
			want: "verify windows/amd64: PyInstaller failed\n  last output:\n    Killed",
		},
		{
			name: "line without file is not printed",
			err:  &Error{Stage: "health", Target: target, Line: 3, Reason: "no answer"},
			want: "health linux/amd64: no answer",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.err.Error(), tc.want)
		})
	}
}

// The whole path: a real-looking failure read back as one error message.
func TestCompileErrorText(t *testing.T) {
	var err error = Compile(target, "/src", syntaxErrorThroughPyInstaller)
	msg := err.Error()
	first, rest, ok := strings.Cut(msg, "\n")
	assert.Assert(t, ok, msg)
	assert.Equal(t, first, "compile linux/amd64: main.py:7: SyntaxError: invalid syntax")
	assert.Assert(t, strings.HasPrefix(rest, "  last output:\n    "), msg)
	assert.Check(t, strings.HasSuffix(msg, "\n    SyntaxError: invalid syntax"), msg)
	assert.Equal(t, strings.Count(rest, "\n    "), 15)
}

func TestGoTestFailures(t *testing.T) {
	out := `ok  	example.com/a	1.2s
--- FAIL: TestX (0.01s)
    x_test.go:12: want 1, got 2
    --- FAIL: TestX/sub (0.00s)
        x_test.go:20: boom
--- PASS: TestY (0.00s)
    y_test.go:3: a passing test's log
FAIL
FAIL	example.com/b	0.3s
ok  	example.com/c	0.1s
panic: runtime error: index out of range
goroutine 7 [running]:
FAIL	example.com/d	0.2s
`
	got := GoTestFailures(out, 100)
	assert.DeepEqual(t, got, []string{
		"--- FAIL: TestX (0.01s)",
		"    x_test.go:12: want 1, got 2",
		"    --- FAIL: TestX/sub (0.00s)",
		"        x_test.go:20: boom",
		"FAIL",
		"FAIL	example.com/b	0.3s",
		"panic: runtime error: index out of range",
		"goroutine 7 [running]:",
		"FAIL	example.com/d	0.2s",
	})
	assert.DeepEqual(t, GoTestFailures(out, 2), []string{"--- FAIL: TestX (0.01s)", "    x_test.go:12: want 1, got 2", "…"})
	assert.Check(t, len(GoTestFailures("ok  \texample.com/a\t1s\n", 10)) == 0)
}
