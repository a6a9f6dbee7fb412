package spec

import (
	"path/filepath"
	"strings"
	"testing"
)

// windowedStart runs, in python3, what a windowed Windows build started without pipes goes
// through: no standard streams (sys.stdin/stdout/stderr and their __*__ twins are None), the
// runtime hook (when $HOOK is set), then uvicorn's default logging set-up and some printing.
// uvicorn's LOGGING_CONFIG is used when uvicorn is installed; otherwise a copy of what matters
// in it: handlers on ext://sys.stderr and ext://sys.stdout, and a formatter that, like
// uvicorn.logging.ColourizedFormatter with use_colors unset, calls sys.stdout.isatty().
const windowedStart = `
import logging, logging.config, os, sys
for _name in ("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__"):
    setattr(sys, _name, None)
if os.environ.get("HOOK"):
    exec(compile(open(os.environ["HOOK"]).read(), os.environ["HOOK"], "exec"), {"__name__": "__main__"})
try:
    import uvicorn.config
    config, which = uvicorn.config.LOGGING_CONFIG, "uvicorn"
except ImportError:
    class Formatter(logging.Formatter):
        def __init__(self, fmt=None, datefmt=None, style="%", use_colors=None):
            self.use_colors = use_colors if use_colors in (True, False) else sys.stdout.isatty()
            super().__init__(fmt, datefmt, style)
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": Formatter, "fmt": "%(levelname)s %(message)s"},
                       "access": {"()": Formatter, "fmt": "%(message)s"}},
        "handlers": {"default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
                     "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
        "loggers": {"uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
                    "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False}},
    }
    which = "copy"
logging.config.dictConfig(config)
logging.getLogger("uvicorn.access").info("GET /api/health 200 ü😀")
print("printed ü😀")
sys.stderr.write("written\n")
sys.stdout.flush()
assert sys.stdin.read() == ""
for _name in ("stdout", "stderr", "__stdout__", "__stderr__", "stdin", "__stdin__"):
    assert getattr(sys, _name).name == os.devnull, _name
os.write(1, ("STARTED with %s logging config\n" % which).encode())
`

func TestRuntimeHookGivesWindowedAppStreams(t *testing.T) {
	python(t)
	dir := t.TempDir()
	hook := writeFile(t, filepath.Join(dir, RuntimeHookFile), RuntimeHook())
	start := writeFile(t, filepath.Join(dir, "start.py"), []byte(windowedStart))

	out, code := run(t, dir, cleanEnv("HOOK="+hook), start)
	if code != 0 || !strings.HasPrefix(out, "STARTED with ") {
		t.Fatalf("exit %d, output %q: the backend must start without standard streams", code, out)
	}
	t.Log(strings.TrimSpace(out))
	// Control: without the hook the same start crashes, as PyInstaller issue 7339 describes.
	if out, code := run(t, dir, cleanEnv(), start); code == 0 || strings.Contains(out, "STARTED") {
		t.Errorf("without the hook: exit %d, output %q; the test no longer reproduces the crash", code, out)
	}
}

// Streams that exist are left alone: the same objects, still writing where they did.
func TestRuntimeHookKeepsExistingStreams(t *testing.T) {
	python(t)
	dir := t.TempDir()
	hook := writeFile(t, filepath.Join(dir, RuntimeHookFile), RuntimeHook())
	out, code := run(t, dir, cleanEnv(), "-c", `
import sys
names = ("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__")
before = [getattr(sys, n) for n in names]
exec(open(sys.argv[1]).read(), {"__name__": "__main__"})
assert [getattr(sys, n) for n in names] == before, "streams replaced"
assert all(a is b for a, b in zip(before, [getattr(sys, n) for n in names]))
print("still on stdout", sys.stdout.name)
`, hook)
	if code != 0 || out != "still on stdout <stdout>\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
	// Only the missing one is replaced: a None stderr next to a real stdout.
	out, code = run(t, dir, cleanEnv(), "-c", `
import os, sys
out = sys.stdout
sys.stderr = None
exec(open(sys.argv[1]).read(), {"__name__": "__main__"})
assert sys.stdout is out and sys.stderr.name == os.devnull and sys.__stderr__ is not None
print("ok")
`, hook)
	if code != 0 || out != "ok\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
}

// A windowed build the verifier starts with a pipe on file descriptor 1 but no sys.stdout
// still answers the check there, not into os.devnull.
func TestRuntimeHookCheckReportsWithoutStdout(t *testing.T) {
	python(t)
	dir := t.TempDir()
	hook := writeFile(t, filepath.Join(dir, RuntimeHookFile), RuntimeHook())
	out, code := run(t, dir, cleanEnv("PYBUNDLE_IMPORT_CHECK=json"), "-c", `
import sys
sys.stdout = sys.__stdout__ = None
exec(open(sys.argv[1]).read(), {"__name__": "__main__"})
`, hook)
	if r := parseReport(t, out); code != 0 || !r.OK || len(r.Imported) != 1 {
		t.Errorf("exit %d, report %+v", code, r)
	}
}
