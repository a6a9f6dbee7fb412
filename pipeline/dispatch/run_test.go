package dispatch

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/plan"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// writeFile writes body to root/name with mode, making folders as needed.
func writeFile(t *testing.T, root, name, body string, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	assert.NilError(t, os.WriteFile(p, []byte(body), mode))
	assert.NilError(t, os.Chmod(p, mode)) // whatever the umask
	return p
}

// tarEntry is one entry read back (exported fields: assert.DeepEqual compares them).
type tarEntry struct {
	Type byte
	Mode int64
	Body string
	Link string
}

// readTar reads a whole tar stream into name → entry, refusing a name seen twice.
func readTar(t *testing.T, b []byte) (map[string]tarEntry, []string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	got := map[string]tarEntry{}
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got, order
		}
		assert.NilError(t, err)
		body, err := io.ReadAll(tr)
		assert.NilError(t, err)
		_, dup := got[h.Name]
		assert.Assert(t, !dup, "%s twice", h.Name)
		got[h.Name] = tarEntry{Type: h.Typeflag, Mode: h.Mode, Body: string(body), Link: h.Linkname}
		order = append(order, h.Name)
	}
}

func TestWriteUpload(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	writeFile(t, src, "main.py", "from app import run\nrun()\n", 0o644)
	writeFile(t, src, "run.sh", "#!/bin/sh\nexec python main.py\n", 0o755)
	writeFile(t, src, "secret.env", "TOKEN=local\n", 0o600)
	writeFile(t, src, "app/__init__.py", "", 0o644)
	writeFile(t, src, "app/server.py", "import uvicorn\n", 0o640)
	writeFile(t, src, "app/data/schema.sql", "create table t(x);\n", 0o644)
	writeFile(t, src, "app/__pycache__/server.cpython-313.pyc", "\x00bytecode", 0o644)
	writeFile(t, src, "__pycache__/main.cpython-313.pyc", "\x00bytecode", 0o644)
	writeFile(t, src, "stale.pyc", "\x00bytecode", 0o644)
	writeFile(t, src, "app/old.pyc", "\x00bytecode", 0o644)
	assert.NilError(t, os.Mkdir(filepath.Join(src, "empty"), 0o755))
	outside := writeFile(t, base, "shared/config.py", "DEBUG = False\n", 0o644)
	assert.NilError(t, os.Symlink("main.py", filepath.Join(src, "entry.py")))                // to a file: sent as that file
	assert.NilError(t, os.Symlink(outside, filepath.Join(src, "config.py")))                 // to a file outside: never followed
	assert.NilError(t, os.Symlink("app", filepath.Join(src, "app_link")))                    // to a folder: skipped
	assert.NilError(t, os.Symlink(filepath.Join(base, "shared"), filepath.Join(src, "ext"))) // folder outside: skipped
	assert.NilError(t, os.Symlink("gone.py", filepath.Join(src, "dangling.py")))             // dangling: skipped
	bin := writeFile(t, base, "bin/pybundle-runner-linux-amd64", "\x7fELF fake runner", 0o600)

	j := validJob()
	j.ID, j.Binary, j.Source = "j1", bin, src
	var buf bytes.Buffer
	assert.NilError(t, WriteUpload(&buf, j))
	got, order := readTar(t, buf.Bytes())

	// The options travel as typed JSON, exactly the job's.
	var opts plan.Options
	assert.NilError(t, json.Unmarshal([]byte(got["pybundle-job-j1/options.json"].Body), &opts))
	assert.DeepEqual(t, opts, j.Options)
	delete(got, "pybundle-job-j1/options.json")

	want := map[string]tarEntry{
		"pybundle-job-j1/":                        {Type: tar.TypeDir, Mode: 0o755},
		"pybundle-job-j1/pybundle-runner":         {Type: tar.TypeReg, Mode: 0o755, Body: "\x7fELF fake runner"},
		"pybundle-job-j1/src/":                    {Type: tar.TypeDir, Mode: 0o755},
		"pybundle-job-j1/src/main.py":             {Type: tar.TypeReg, Mode: 0o644, Body: "from app import run\nrun()\n"},
		"pybundle-job-j1/src/run.sh":              {Type: tar.TypeReg, Mode: 0o755, Body: "#!/bin/sh\nexec python main.py\n"},
		"pybundle-job-j1/src/secret.env":          {Type: tar.TypeReg, Mode: 0o600, Body: "TOKEN=local\n"},
		"pybundle-job-j1/src/app/":                {Type: tar.TypeDir, Mode: 0o755},
		"pybundle-job-j1/src/app/__init__.py":     {Type: tar.TypeReg, Mode: 0o644},
		"pybundle-job-j1/src/app/server.py":       {Type: tar.TypeReg, Mode: 0o640, Body: "import uvicorn\n"},
		"pybundle-job-j1/src/app/data/":           {Type: tar.TypeDir, Mode: 0o755},
		"pybundle-job-j1/src/app/data/schema.sql": {Type: tar.TypeReg, Mode: 0o644, Body: "create table t(x);\n"},
		"pybundle-job-j1/src/entry.py":            {Type: tar.TypeReg, Mode: 0o644, Body: "from app import run\nrun()\n"},
	}
	assert.DeepEqual(t, got, want)
	for _, name := range order {
		assert.Assert(t, strings.HasPrefix(name, "pybundle-job-j1/"), name)
		assert.Assert(t, !strings.Contains(name, "__pycache__") && !strings.HasSuffix(name, ".pyc"), name)
	}
	// a folder comes before what is in it, the runner binary first of all
	assert.Equal(t, order[0], "pybundle-job-j1/")
	assert.Equal(t, order[1], "pybundle-job-j1/pybundle-runner")
	for i, name := range order {
		if parent := filepath.ToSlash(filepath.Dir(strings.TrimSuffix(name, "/"))) + "/"; parent != "./" {
			at := slices.Index(order, parent)
			assert.Assert(t, at >= 0 && at < i, "%s before its folder", name)
		}
	}
}

func TestWriteUploadWindowsName(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	writeFile(t, src, "main.py", "x", 0o644)
	j := validJob()
	j.Target, j.ID, j.Source = "windows/amd64", "w1", src
	j.Binary = writeFile(t, base, "pybundle-runner.exe", "MZ", 0o644)
	var buf bytes.Buffer
	assert.NilError(t, WriteUpload(&buf, j))
	got, _ := readTar(t, buf.Bytes())
	assert.DeepEqual(t, got["pybundle-job-w1/pybundle-runner.exe"], tarEntry{Type: tar.TypeReg, Mode: 0o755, Body: "MZ"})
	assert.Equal(t, got["pybundle-job-w1/src/main.py"].Body, "x")
}

func TestWriteUploadErrors(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	writeFile(t, src, "main.py", "x", 0o644)
	bin := writeFile(t, base, "runner", "bin", 0o755)

	j := validJob()
	j.Binary, j.Source = filepath.Join(base, "nope"), src
	assert.ErrorContains(t, WriteUpload(io.Discard, j), "runner binary:")

	j = validJob()
	j.Binary, j.Source = bin, filepath.Join(base, "no-src")
	assert.ErrorContains(t, WriteUpload(io.Discard, j), "source:")

	// a writer that fails (ssh gone) ends the upload with that error
	j.Source = src
	boom := errors.New("ssh went away")
	assert.ErrorIs(t, WriteUpload(failingWriter{boom}, j), boom)
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// entry is one tar entry to write: a regular file unless typ says otherwise.
type entry struct {
	name string
	typ  byte
	body string
	link string
	mode int64
}

func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	b, _ := tarSpans(t, entries...)
	return b
}

// tarSpans writes entries as a tar stream and returns, per entry, where its header starts and
// its data ends (padding excluded).
func tarSpans(t *testing.T, entries ...entry) ([]byte, [][2]int) {
	t.Helper()
	var buf bytes.Buffer
	var spans [][2]int
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode}
		switch e.typ {
		case 0:
			h.Typeflag = tar.TypeReg
			fallthrough
		case tar.TypeReg:
			h.Size = int64(len(e.body))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		case tar.TypeDir:
			h.Mode = 0o755
		}
		assert.NilError(t, tw.Flush()) // the previous entry's padding
		start := buf.Len()
		assert.NilError(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write([]byte(e.body))
			assert.NilError(t, err)
		}
		spans = append(spans, [2]int{start, buf.Len()})
	}
	assert.NilError(t, tw.Close())
	return buf.Bytes(), spans
}

func dir(name string) entry               { return entry{name: name, typ: tar.TypeDir} }
func link(name, to string) entry          { return entry{name: name, typ: tar.TypeSymlink, link: to} }
func file(name, body string) entry        { return entry{name: name, body: body} }
func exe(name, body string) entry         { return entry{name: name, body: body, mode: 0o755} }
func hardlink(name, to string) entry      { return entry{name: name, typ: tar.TypeLink, link: to} }
func special(name string, typ byte) entry { return entry{name: name, typ: typ} }

// goodEntries are what `tar -cf - -C out dist report.json summary.txt` sends for a onedir
// bundle with the relative links a macOS bundle has.
var goodEntries = []entry{
	dir("dist/"),
	dir("dist/darwin-arm64/"),
	dir("dist/darwin-arm64/peft_engine/"),
	exe("dist/darwin-arm64/peft_engine/peft_engine", "\xcf\xfa\xed\xfe fake exe"),
	dir("dist/darwin-arm64/peft_engine/_internal/"),
	dir("dist/darwin-arm64/peft_engine/_internal/Python.framework/"),
	dir("dist/darwin-arm64/peft_engine/_internal/Python.framework/Versions/"),
	dir("dist/darwin-arm64/peft_engine/_internal/Python.framework/Versions/3.13/"),
	exe("dist/darwin-arm64/peft_engine/_internal/Python.framework/Versions/3.13/Python", "libpython"),
	link("dist/darwin-arm64/peft_engine/_internal/Python.framework/Versions/Current", "3.13"),
	link("dist/darwin-arm64/peft_engine/_internal/Python", "Python.framework/Versions/Current/Python"),
	link("dist/darwin-arm64/peft_engine/_internal/engine", "../peft_engine"),
	file("dist/darwin-arm64/peft_engine/_internal/base_library.zip", strings.Repeat("PK zip ", 200)),
	file("report.json", `{"tool":"pybundle","entries":[]}`),
	file("./summary.txt", "darwin/arm64 ok\n"),
}

func goodStream(t *testing.T) []byte { return tarOf(t, goodEntries...) }

func TestUntarGood(t *testing.T) {
	d := t.TempDir()
	assert.NilError(t, untar(bytes.NewReader(goodStream(t)), d))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(name)))
		assert.NilError(t, err)
		return string(b)
	}
	assert.Equal(t, read("report.json"), `{"tool":"pybundle","entries":[]}`)
	assert.Equal(t, read("summary.txt"), "darwin/arm64 ok\n")
	assert.Equal(t, read("dist/darwin-arm64/peft_engine/_internal/Python"), "libpython", "through two relative links")
	assert.Equal(t, read("dist/darwin-arm64/peft_engine/_internal/engine"), "\xcf\xfa\xed\xfe fake exe")
	fi, err := os.Stat(filepath.Join(d, "dist/darwin-arm64/peft_engine/peft_engine"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm()&0o111, fs.FileMode(0o111), "the executable stays executable")
	fi, err = os.Stat(filepath.Join(d, "dist/darwin-arm64/peft_engine/_internal/base_library.zip"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm()&0o111, fs.FileMode(0), "data stays data")
	l, err := os.Readlink(filepath.Join(d, "dist/darwin-arm64/peft_engine/_internal/Python"))
	assert.NilError(t, err)
	assert.Equal(t, l, "Python.framework/Versions/Current/Python", "links are kept as links")

	// the minimum: report.json alone; a "." entry and "./" prefixes are fine
	d = t.TempDir()
	assert.NilError(t, untar(bytes.NewReader(tarOf(t, dir("./"), file("./report.json", "{}"))), d))
	assert.Equal(t, read("report.json"), "{}")
}

func TestUntarBad(t *testing.T) {
	report := file("report.json", "{}")
	for _, tc := range []struct {
		name    string
		entries []entry
		msg     string
	}{
		{"entry outside the download files", []entry{report, file("src/main.py", "x")}, `unexpected entry "src/main.py"`},
		{"a sibling of dist", []entry{report, file("distx/a", "x")}, `unexpected entry "distx/a"`},
		{"a file named like one", []entry{file("report.json.bak", "x"), report}, `unexpected entry "report.json.bak"`},
		{"parent", []entry{report, file("../x", "x")}, `unexpected entry "../x"`},
		{"parent after cleaning", []entry{report, file("dist/../../x", "x")}, `unexpected entry "dist/../../x"`},
		{"dot-slash parent", []entry{report, file("./../x", "x")}, `unexpected entry "./../x"`},
		{"bare parent", []entry{report, dir("../")}, `unexpected entry "../"`},
		{"absolute", []entry{report, file("/etc/cron.d/x", "x")}, `unexpected entry "/etc/cron.d/x"`},
		{"absolute dist", []entry{report, file("/dist/x", "x")}, `unexpected entry "/dist/x"`},
		{"symlink up and out", []entry{report, link("dist/l", "../../etc")}, "symlink dist/l → ../../etc leaves the bundle"},
		{"symlink to the parent", []entry{report, link("dist/l", "../..")}, "leaves the bundle"},
		{"symlink absolute", []entry{report, link("dist/l", "/etc/passwd")}, "symlink dist/l → /etc/passwd leaves the bundle"},
		{"symlink deep and out", []entry{report, link("dist/a/b/l", "../../../../x")}, "leaves the bundle"},
		{"hard link", []entry{file("dist/a", "x"), hardlink("dist/b", "dist/a"), report}, `unexpected entry type "1" for dist/b`},
		{"hard link to outside", []entry{report, hardlink("dist/b", "/etc/shadow")}, `unexpected entry type "1"`},
		{"character device", []entry{report, special("dist/null", tar.TypeChar)}, "unexpected entry type"},
		{"fifo", []entry{report, special("dist/fifo", tar.TypeFifo)}, "unexpected entry type"},
		{"no report.json", []entry{dir("dist/"), file("dist/x", "x"), file("summary.txt", "ok")}, "no report.json in the stream"},
		{"nothing at all", nil, "no report.json in the stream"},
		// a link the stream made earlier must not carry later entries out of the folder
		{
			"an entry under a link",
			[]entry{report, link("dist/up", ".."), link("dist/up/esc", ".."), file("dist/up/esc/pwned", "x")},
			`entry "dist/up/esc" goes through the symlink dist/up`,
		},
		{
			"a file written over a link",
			[]entry{report, link("dist/a", "."), link("dist/e", "a/../../pwned"), file("dist/e", "x")},
			`entry "dist/e" goes through the symlink dist/e`,
		},
		{
			"a folder through a link",
			[]entry{report, link("dist/l", "."), dir("dist/l/sub/")},
			"goes through the symlink dist/l",
		},
		{
			"a link chained through a link",
			[]entry{report, link("dist/a", "."), link("dist/e", "a/../../pwned")},
			"symlink dist/e → a/../../pwned leaves the bundle",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			d := filepath.Join(base, "staging")
			assert.NilError(t, os.Mkdir(d, 0o755))
			err := untar(bytes.NewReader(tarOf(t, tc.entries...)), d)
			assert.ErrorContains(t, err, tc.msg)
			// nothing was written next to the staging folder
			names, rerr := os.ReadDir(base)
			assert.NilError(t, rerr)
			assert.Equal(t, len(names), 1, "%v", names)
		})
	}
}

// A stream cut inside any entry's header or data fails, and so does one cut anywhere before
// report.json (for the missing report). archive/tar reads a cut at an entry boundary, or in
// the zero padding after an entry's data, as the end of the archive: after report.json such
// a stream extracts, short of what followed, and the download step's ssh exit status is what
// catches that truncation.
func TestUntarTruncated(t *testing.T) {
	full, spans := tarSpans(t, goodEntries...)
	reportStart := spans[len(spans)-2][0]
	inEntry := func(c int) bool {
		for _, s := range spans {
			if c > s[0] && c < s[1] {
				return true
			}
		}
		return false
	}
	// in each entry's header and data, every entry boundary up to report.json, and the first
	// and last byte of the executable's header and data and of report.json's
	var cuts []int
	for i, s := range spans {
		cuts = append(cuts, s[0]+256)
		if s[1] > s[0]+512 {
			cuts = append(cuts, (s[0]+512+s[1])/2)
		}
		if s[0] <= reportStart {
			cuts = append(cuts, s[0])
		}
		if i == 3 || i == len(spans)-2 {
			cuts = append(cuts, s[0]+1, s[0]+511, s[0]+513, s[1]-1)
		}
	}
	base := t.TempDir()
	checked := 0
	for _, c := range cuts {
		if c <= 0 || c >= len(full) || !(inEntry(c) || c <= reportStart) {
			continue
		}
		checked++
		d, err := os.MkdirTemp(base, "")
		assert.NilError(t, err)
		err = untar(bytes.NewReader(full[:c]), d)
		assert.Assert(t, err != nil, "cut at %d of %d extracted without an error", c, len(full))
	}
	assert.Assert(t, checked >= 35, checked)
	assert.NilError(t, untar(bytes.NewReader(full), t.TempDir()), "the whole stream")
}

func TestExtractor(t *testing.T) {
	// fed in small pieces, as ssh's stdout comes
	d := t.TempDir()
	x := &extractor{dir: d}
	stream := goodStream(t)
	for len(stream) > 0 {
		n := min(7, len(stream))
		k, err := x.Write(stream[:n])
		assert.NilError(t, err)
		assert.Equal(t, k, n)
		stream = stream[n:]
	}
	assert.NilError(t, x.finish())
	_, err := os.Stat(filepath.Join(d, "report.json"))
	assert.NilError(t, err)

	// nothing came
	assert.ErrorContains(t, (&extractor{dir: t.TempDir()}).finish(), "the runner sent nothing")

	// a bad stream: the writes fail once it is seen, and finish says why
	x = &extractor{dir: t.TempDir()}
	bad := tarOf(t, file("../x", strings.Repeat("x", 4096)), file("report.json", "{}"))
	var werr error
	for len(bad) > 0 && werr == nil {
		n := min(512, len(bad))
		_, werr = x.Write(bad[:n])
		bad = bad[n:]
	}
	assert.ErrorContains(t, werr, `unexpected entry "../x"`)
	assert.ErrorContains(t, x.finish(), `unexpected entry "../x"`)

	// cut short: finish reports it
	x = &extractor{dir: t.TempDir()}
	good := goodStream(t)
	_, err = x.Write(good[:len(good)/2])
	assert.NilError(t, err)
	assert.Assert(t, x.finish() != nil)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// download is a folder as the download step leaves it, and the job that expects it.
type download struct {
	dir   string
	job   Job
	entry report.Entry
}

var (
	exeBytes = []byte("\x7fELF fake peft_engine")
	libBytes = []byte("libpython3.13.so bytes")
	zipBytes = []byte("PK base_library")
)

func onedirDownload(t *testing.T) download {
	d := t.TempDir()
	writeFile(t, d, "dist/linux-amd64/peft_engine/peft_engine", string(exeBytes), 0o755)
	writeFile(t, d, "dist/linux-amd64/peft_engine/_internal/libpython3.13.so.1.0", string(libBytes), 0o755)
	writeFile(t, d, "dist/linux-amd64/peft_engine/_internal/base_library.zip", string(zipBytes), 0o644)
	assert.NilError(t, os.Symlink("libpython3.13.so.1.0", filepath.Join(d, "dist/linux-amd64/peft_engine/_internal/libpython3.13.so")))
	writeFile(t, d, "summary.txt", "linux/amd64 ok\n", 0o644)
	j := validJob()
	j.Artifact = "linux-amd64/peft_engine/peft_engine"
	e := report.Entry{
		Target: "linux/amd64", Mode: "onedir", Artifact: j.Artifact,
		SizeBytes: int64(len(exeBytes) + len(libBytes) + len(zipBytes)), // regular files only
		SHA256:    sha(exeBytes),
		Python:    "3.13.1", PyInstaller: "6.22.2",
		Checks:  []report.Check{{Name: "exists", OK: true}, {Name: "imports", OK: true}, {Name: "health", OK: true}},
		Builder: "runner:10.213.0.2",
	}
	e.Manifest = manifestOf(t, filepath.Join(d, "dist/linux-amd64/peft_engine"))
	withSBOM(t, d, &e)
	writeReport(t, d, e)
	return download{dir: d, job: j, entry: e}
}

// withSBOM writes the target's SBOM next to its bundle, as the runner does, and names it in e.
func withSBOM(t *testing.T, d string, e *report.Entry) {
	t.Helper()
	doc := `{"bomFormat": "CycloneDX"}` + "\n"
	e.SBOM = strings.ReplaceAll(e.Target, "/", "-") + "/sbom.cdx.json"
	e.SBOMSHA256 = sha([]byte(doc))
	writeFile(t, d, "dist/"+e.SBOM, doc, 0o644)
}

// manifestOf is the bundle's manifest, as the runner's verify records it.
func manifestOf(t *testing.T, root string) *verify.Manifest {
	t.Helper()
	m, err := verify.TreeManifest(root)
	assert.NilError(t, err)
	return &m
}

func onefileDownload(t *testing.T, tgt, artifact string) download {
	d := t.TempDir()
	writeFile(t, d, "dist/"+artifact, string(exeBytes), 0o755)
	j := validJob()
	j.Target, j.Artifact = tgt, artifact
	e := report.Entry{Target: tgt, Mode: "onefile", Artifact: artifact, SizeBytes: int64(len(exeBytes)), SHA256: sha(exeBytes),
		Checks: []report.Check{{Name: "exists", OK: true}}, Builder: "runner:10.213.0.2",
		Manifest: manifestOf(t, filepath.Join(d, "dist", artifact))}
	withSBOM(t, d, &e)
	writeReport(t, d, e)
	return download{dir: d, job: j, entry: e}
}

func writeReport(t *testing.T, d string, entries ...report.Entry) {
	t.Helper()
	r := report.New()
	for _, e := range entries {
		r.Add(e)
	}
	b, err := r.JSON()
	assert.NilError(t, err)
	writeFile(t, d, "report.json", string(b), 0o644)
}

func TestCheckDownload(t *testing.T) {
	dl := onedirDownload(t)
	assert.NilError(t, CheckDownload(dl.dir, dl.job))

	dl = onefileDownload(t, "linux/amd64", "linux-amd64/peft_engine")
	assert.NilError(t, CheckDownload(dl.dir, dl.job))

	dl = onefileDownload(t, "windows/amd64", "windows-amd64/peft_engine.exe")
	assert.NilError(t, CheckDownload(dl.dir, dl.job))
}

func TestCheckDownloadMismatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		onefile bool
		mod     func(t *testing.T, dl *download)
		msg     string
	}{
		{
			name: "another target",
			mod:  func(t *testing.T, dl *download) { e := dl.entry; e.Target = "linux/arm64"; writeReport(t, dl.dir, e) },
			msg:  "the runner built linux/arm64, not linux/amd64 (is --platform right",
		},
		{
			name: "a failed check",
			mod: func(t *testing.T, dl *download) {
				e := dl.entry
				e.Checks = []report.Check{{Name: "exists", OK: true}, {Name: "health", OK: false, Detail: "no answer"}}
				writeReport(t, dl.dir, e)
			},
			msg: "the runner's report has failed checks for linux/amd64",
		},
		{
			name: "another artifact path",
			mod: func(t *testing.T, dl *download) {
				e := dl.entry
				e.Artifact = "linux-amd64/engine/engine"
				writeReport(t, dl.dir, e)
			},
			msg: "the runner's artifact is linux-amd64/engine/engine, expected linux-amd64/peft_engine/peft_engine",
		},
		{
			name: "the job expects another artifact",
			mod:  func(t *testing.T, dl *download) { dl.job.Artifact = "linux-amd64/peft_engine" },
			msg:  "expected linux-amd64/peft_engine",
		},
		{
			name: "artifact bytes changed on the way",
			mod: func(t *testing.T, dl *download) {
				b := slices.Clone(exeBytes)
				b[len(b)-1] ^= 1
				writeFile(t, dl.dir, "dist/linux-amd64/peft_engine/peft_engine", string(b), 0o755)
			},
			msg: "artifact linux-amd64/peft_engine/peft_engine: sha256 ",
		},
		{
			name: "artifact missing",
			mod: func(t *testing.T, dl *download) {
				assert.NilError(t, os.Remove(filepath.Join(dl.dir, "dist/linux-amd64/peft_engine/peft_engine")))
			},
			msg: "artifact linux-amd64/peft_engine/peft_engine: open",
		},
		{
			name: "an extra file in the bundle",
			mod: func(t *testing.T, dl *download) {
				writeFile(t, dl.dir, "dist/linux-amd64/peft_engine/_internal/extra.txt", "12345", 0o644)
			},
			msg: "bundle linux-amd64/peft_engine after the copy is not the one the runner verified (4 files, 58 B, tree sha256 ",
		},
		{
			name: "a file of the bundle missing",
			mod: func(t *testing.T, dl *download) {
				assert.NilError(t, os.Remove(filepath.Join(dl.dir, "dist/linux-amd64/peft_engine/_internal/base_library.zip")))
			},
			msg: "_internal/base_library.zip: missing",
		},
		{
			name: "a file of the bundle changed on the way",
			mod: func(t *testing.T, dl *download) {
				writeFile(t, dl.dir, "dist/linux-amd64/peft_engine/_internal/base_library.zip", "other", 0o644)
			},
			msg: "_internal/base_library.zip: sha256 ",
		},
		{
			name: "no SBOM named",
			mod:  func(t *testing.T, dl *download) { e := dl.entry; e.SBOM = ""; writeReport(t, dl.dir, e) },
			msg:  "the runner's report names no SBOM",
		},
		{
			name: "an SBOM named elsewhere",
			mod: func(t *testing.T, dl *download) {
				e := dl.entry
				e.SBOM = "../../etc/passwd"
				writeReport(t, dl.dir, e)
			},
			msg: `the runner's SBOM is "../../etc/passwd", expected linux-amd64/sbom.cdx.json`,
		},
		{
			name: "the SBOM changed on the way",
			mod:  func(t *testing.T, dl *download) { writeFile(t, dl.dir, "dist/linux-amd64/sbom.cdx.json", "{}", 0o644) },
			msg:  "SBOM linux-amd64/sbom.cdx.json: sha256 ",
		},
		{
			name: "the SBOM is a link",
			mod: func(t *testing.T, dl *download) {
				p := filepath.Join(dl.dir, "dist/linux-amd64/sbom.cdx.json")
				assert.NilError(t, os.Remove(p))
				assert.NilError(t, os.Symlink("/etc/hostname", p))
			},
			msg: "SBOM linux-amd64/sbom.cdx.json: not a regular file from the runner",
		},
		{
			name: "no manifest",
			mod:  func(t *testing.T, dl *download) { e := dl.entry; e.Manifest = nil; writeReport(t, dl.dir, e) },
			msg:  "the runner's report has no manifest of the bundle",
		},
		{
			name: "two entries",
			mod: func(t *testing.T, dl *download) {
				other := dl.entry
				other.Mode = "onefile"
				writeReport(t, dl.dir, dl.entry, other)
			},
			msg: "report.json from the runner has 2 entries, want 1 for linux/amd64",
		},
		{
			name: "no entries",
			mod:  func(t *testing.T, dl *download) { writeReport(t, dl.dir) },
			msg:  "has 0 entries",
		},
		{
			name: "no report.json",
			mod:  func(t *testing.T, dl *download) { assert.NilError(t, os.Remove(filepath.Join(dl.dir, "report.json"))) },
			msg:  "report.json from the runner: open",
		},
		{
			name: "report.json is not JSON",
			mod: func(t *testing.T, dl *download) {
				writeFile(t, dl.dir, "report.json", "pybundle-runner: oops\n", 0o644)
			},
			msg: "report.json from the runner: report:",
		},
		{
			name:    "onefile: mode lost on the way",
			onefile: true,
			mod: func(t *testing.T, dl *download) {
				assert.NilError(t, os.Chmod(filepath.Join(dl.dir, "dist/linux-amd64/peft_engine"), 0o644))
			},
			msg: "peft_engine: mode 0644, the verified bundle has 0755",
		},
		{
			name:    "onefile: bytes changed",
			onefile: true,
			mod: func(t *testing.T, dl *download) {
				writeFile(t, dl.dir, "dist/linux-amd64/peft_engine", "something else", 0o755)
			},
			msg: "after the copy, the runner verified " + sha(exeBytes),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dl := onedirDownload(t)
			if tc.onefile {
				dl = onefileDownload(t, "linux/amd64", "linux-amd64/peft_engine")
			}
			tc.mod(t, &dl)
			assert.ErrorContains(t, CheckDownload(dl.dir, dl.job), tc.msg)
		})
	}
}

// runFiles makes the local inputs Run checks, and returns a job using them.
func runFiles(t *testing.T) Job {
	base := t.TempDir()
	j := validJob()
	j.Binary = writeFile(t, base, "pybundle-runner", "bin", 0o755)
	j.Key = writeFile(t, base, "runner-key", "-----BEGIN OPENSSH PRIVATE KEY-----\n", 0o400)
	j.Source = filepath.Join(base, "src")
	writeFile(t, j.Source, "main.py", "print(1)\n", 0o644)
	j.Out = filepath.Join(base, "out")
	return j
}

// Run checks what it can before it starts ssh; the ssh program given does not exist, so any
// of these reaching a step would fail differently.
func TestRunInputChecks(t *testing.T) {
	rt := Runtime{SSH: filepath.Join(t.TempDir(), "no-such-ssh")}
	for _, tc := range []struct {
		name string
		mod  func(t *testing.T, j *Job)
		msg  string
	}{
		{"invalid job", func(t *testing.T, j *Job) { j.ID = "../x" }, `job: id "../x"`},
		{"non-canonical target", func(t *testing.T, j *Job) { j.Target = "linux/x86_64" }, "not canonical"},
		{"no key given", func(t *testing.T, j *Job) { j.Key = "" }, "are required"},
		{"output folder exists", func(t *testing.T, j *Job) { assert.NilError(t, os.Mkdir(j.Out, 0o755)) }, "already exists"},
		{"output is a file", func(t *testing.T, j *Job) { writeFile(t, filepath.Dir(j.Out), "out", "x", 0o644) }, "already exists"},
		{"output is a dangling link", func(t *testing.T, j *Job) { assert.NilError(t, os.Symlink("nowhere", j.Out)) }, "already exists"},
		{"binary missing", func(t *testing.T, j *Job) { assert.NilError(t, os.Remove(j.Binary)) }, "pybundle-runner: no such file or directory"},
		{"source missing", func(t *testing.T, j *Job) { assert.NilError(t, os.RemoveAll(j.Source)) }, "src: no such file or directory"},
		{"key missing", func(t *testing.T, j *Job) { assert.NilError(t, os.Remove(j.Key)) }, "runner-key: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := runFiles(t)
			tc.mod(t, &j)
			_, existed := os.Lstat(j.Out)
			res, err := Run(context.Background(), j, rt)
			assert.ErrorContains(t, err, tc.msg)
			assert.Assert(t, !res.OK)
			assert.Assert(t, is.Len(res.Steps, 0), "no step ran")
			assert.Assert(t, res.Error == nil, "not a step's failure")
			if existed != nil {
				_, serr := os.Lstat(j.Out)
				assert.Assert(t, errors.Is(serr, fs.ErrNotExist), "output created")
			}
			_, serr := os.Lstat(j.Out + ".partial")
			assert.Assert(t, errors.Is(serr, fs.ErrNotExist), "staging left behind")
		})
	}
}

// Found by review: runner stdout and downloads were unbounded. The log is cut, the download
// refused past its bounds.
func TestBounds(t *testing.T) {
	var out bytes.Buffer
	c := &cappedWriter{w: &out, left: 10}
	n, err := c.Write([]byte("0123456789abcdef"))
	assert.NilError(t, err)
	assert.Equal(t, n, 16)
	_, _ = c.Write([]byte("more"))
	assert.Assert(t, strings.HasPrefix(out.String(), "0123456789\n[pybundle: the runner's log passed"), out.String())
	assert.Assert(t, !strings.Contains(out.String(), "more"))

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	assert.NilError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "report.json", Size: MaxDownloadBytes + 1, Mode: 0o644}))
	// No body: untar refuses on the header, before reading any of it.
	err = untar(bytes.NewReader(buf.Bytes()), t.TempDir())
	assert.ErrorContains(t, err, "larger than any bundle")
}
