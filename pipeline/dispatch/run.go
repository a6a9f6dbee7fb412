package dispatch

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/layout"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/sbom"
	"github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// Result is what `pybundle-probe dispatch` prints: the steps' times, or the error.
type Result struct {
	OK       bool            `json:"ok"`
	Target   string          `json:"target"`
	Runner   string          `json:"runner"`
	Steps    []StepTime      `json:"steps"`
	Warnings []string        `json:"warnings,omitempty"`
	Kind     Kind            `json:"kind,omitempty"` // what went wrong, when it did
	Error    *diagnose.Error `json:"error,omitempty"`
}

// StepTime is how long one step took.
type StepTime struct {
	Name string `json:"name"`
	MS   int64  `json:"ms"`
}

// Runtime is what Run needs from the machine it runs on; tests of pure parts swap nothing,
// the real ssh client is always used.
type Runtime struct {
	SSH string    // ssh client program; default "ssh"
	Log io.Writer // the runner's build log and progress lines; default io.Discard
}

// Run dispatches j: connect, upload, build, download and check, then cleanup (always). On
// success j.Out holds dist/, report.json and summary.txt exactly as the runner wrote them;
// on failure j.Out does not exist and the error names the step, the target and the runner.
func Run(ctx context.Context, j Job, rt Runtime) (res Result, err error) {
	if rt.SSH == "" {
		rt.SSH = "ssh"
	}
	if rt.Log == nil {
		rt.Log = io.Discard
	}
	// The build step copies the remote command's stdout and stderr into Log from two
	// goroutines; most writers (a bytes.Buffer, a log file's bufio.Writer) are not safe for that.
	// A runner that prints without end is cut off at MaxLogBytes.
	rt.Log = &lockedWriter{w: &cappedWriter{w: rt.Log, left: MaxLogBytes}}
	if err := j.Validate(); err != nil {
		return res, err
	}
	j = j.WithDefaults()
	res = Result{Target: j.Target, Runner: j.Runner.Address()}
	if _, err := os.Lstat(j.Out); err == nil {
		return res, fmt.Errorf("dispatch: output %s already exists", j.Out)
	}
	for _, p := range []string{j.Binary, j.Source, j.Key} {
		if _, err := os.Stat(p); err != nil {
			return res, fmt.Errorf("dispatch: %v", err)
		}
	}
	if j.KnownHosts == "" {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the host key of %s is not verified: pass --runner-known-hosts (a known_hosts file, e.g. from ssh-keyscan) to pin it", j.Runner.Address()))
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(rt.Log, "pybundle dispatch: warning:", w)
	}

	ctx, cancel := context.WithTimeout(ctx, j.Timeout)
	defer cancel()
	staging := j.Out + ".partial"
	_ = os.RemoveAll(staging)
	defer os.RemoveAll(staging)

	s := &session{job: j, rt: rt, res: &res}
	uploaded := false
	defer func() {
		if uploaded {
			if ctx.Err() != nil {
				s.kill() // the job's deadline passed: the remote build may still be running
			}
			s.cleanup() // the job folder holds a venv and the build tree: do not leave it behind
		}
	}()

	if err := s.step(ctx, "connect", j.ConnectCommand(), nil, nil, j.ConnectTimeout+30*time.Second); err != nil {
		return res, err
	}
	if err := j.ConnectCheck(s.lastStdout); err != nil {
		return res, s.fail("connect", KindRemote, err.Error(), s.lastStdout)
	}

	pr, pw := io.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		err := WriteUpload(pw, j)
		pw.CloseWithError(err)
		writeErr <- err
	}()
	uploaded = true
	// The pipe is closed with ended once ssh is done, so a writer blocked on a dead ssh returns;
	// any other writer error is a local read failure, not the runner's.
	ended := errors.New("upload ended")
	err = s.step(ctx, "upload", j.UploadCommand(), pr, nil, 0)
	pr.CloseWithError(ended)
	if werr := <-writeErr; werr != nil && !errors.Is(werr, ended) {
		return res, s.fail("upload", KindRemote, "reading what to send failed: "+werr.Error(), "")
	}
	if err != nil {
		return res, err
	}

	if err := s.step(ctx, "build", j.BuildCommand(), nil, rt.Log, 0); err != nil {
		return res, err
	}

	if err := os.MkdirAll(staging, 0o755); err != nil {
		return res, err
	}
	extract := &extractor{dir: staging}
	if err := s.step(ctx, "download", j.DownloadCommand(), nil, extract, 0); err != nil {
		// ssh itself ran fine but could not hand over its output: the unpacking refused it.
		if xerr := extract.finish(); xerr != nil && errors.As(err, new(localError)) {
			return res, s.fail("download", KindRemote, "the bundle sent by "+j.Runner.Address()+" is malformed: "+xerr.Error(), "")
		}
		return res, err
	}
	if err := extract.finish(); err != nil {
		return res, s.fail("download", KindLost, "the bundle copied back from "+j.Runner.Address()+" is incomplete or malformed: "+err.Error(), "")
	}
	if err := CheckDownload(staging, j); err != nil {
		return res, s.fail("check", KindRemote, err.Error(), "")
	}
	if err := os.Rename(staging, j.Out); err != nil {
		return res, err
	}
	res.OK = true
	return res, nil
}

// lockedWriter lets one writer be written from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// cappedWriter passes at most left bytes on, then one note, then drops the rest (reporting
// success, so the copy from the remote command goes on and the step ends normally).
type cappedWriter struct {
	w    io.Writer
	left int64
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.left <= 0 {
		return len(p), nil
	}
	n := int64(len(p))
	if n > c.left {
		_, err := c.w.Write(p[:c.left])
		c.left = 0
		fmt.Fprintf(c.w, "\n[pybundle: the runner's log passed %d MiB; the rest is not shown]\n", MaxLogBytes>>20)
		return len(p), err
	}
	c.left -= n
	return c.w.Write(p)
}

// localError marks a step that failed on this side (ssh could not start, or its output could
// not be written), not on the runner's.
type localError struct{ error }

func (e localError) Unwrap() error { return e.error }

// session runs the steps of one job.
type session struct {
	job        Job
	rt         Runtime
	res        *Result
	lastStdout string
}

// step runs one ssh command. stdin feeds the remote command; out receives its stdout (kept in
// lastStdout when nil). limit, when set, bounds the step below the job's deadline.
func (s *session) step(ctx context.Context, name, remote string, stdin io.Reader, out io.Writer, limit time.Duration) error {
	start := time.Now()
	stepCtx := ctx
	if limit > 0 {
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	fmt.Fprintf(s.rt.Log, "pybundle dispatch: %s %s on %s\n", name, s.job.Target, s.job.Runner.Address())
	args := append(s.job.SSHArgs(), remote)
	cmd := exec.CommandContext(stepCtx, s.rt.SSH, args...)
	cmd.WaitDelay = 5 * time.Second
	tail := &diagnose.TailBuffer{Max: 64 << 10}
	var stdout bytes.Buffer
	cmd.Stdin = stdin
	if out == nil {
		cmd.Stdout = &stdout
	} else {
		cmd.Stdout = out
	}
	if name == "build" {
		cmd.Stderr = io.MultiWriter(tail, s.rt.Log) // the runner's log, live
	} else {
		cmd.Stderr = tail
	}
	err := cmd.Run()
	s.lastStdout = stdout.String()
	s.res.Steps = append(s.res.Steps, StepTime{Name: name, MS: time.Since(start).Milliseconds()})
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	exit := -1
	if errors.As(err, &ee) {
		exit = ee.ExitCode()
	} else if stepCtx.Err() == nil {
		return localError{s.fail(name, KindRemote, "cannot run ssh: "+err.Error(), "")}
	}
	o := Outcome{Step: name, Exit: exit, Stderr: string(tail.Bytes()), Runner: s.job.Runner.Address(), Target: s.job.Target,
		Timeout: s.job.Timeout, Connect: s.job.ConnectTimeout}
	if ctx.Err() != nil {
		o.TimedOut = true
	} else if stepCtx.Err() != nil { // the step's own bound: a login that hangs
		o.Stderr += fmt.Sprintf("\nssh: connect to host %s port %d: Connection timed out", s.job.Runner.Host, s.job.Runner.Port)
	}
	kind, reason := Classify(o)
	return s.fail(name, kind, reason, o.Stderr)
}

func (s *session) fail(step string, kind Kind, reason, output string) error {
	e := &diagnose.Error{Stage: "runner-" + step, Target: s.job.Target, File: s.job.Runner.Address(), Reason: reason,
		Tail: diagnose.Tail(output, 15)}
	s.res.Error, s.res.Kind = e, kind
	return e
}

// cleanup removes the job folder on the runner, bounded and best effort: the result does not
// depend on it, and the next job has its own folder.
func (s *session) cleanup() {
	if out, err := s.remote(s.job.CleanupCommand()); err != nil {
		fmt.Fprintf(s.rt.Log, "pybundle dispatch: could not remove %s on %s (%v): %s\n", s.job.Dir(), s.job.Runner.Address(), err, out)
	}
}

// kill ends the job's processes on the runner, bounded and best effort.
func (s *session) kill() {
	fmt.Fprintf(s.rt.Log, "pybundle dispatch: ending what is left of %s on %s\n", s.job.Dir(), s.job.Runner.Address())
	if out, err := s.remote(s.job.KillCommand()); err != nil {
		fmt.Fprintf(s.rt.Log, "pybundle dispatch: could not end the job's processes on %s (%v): %s\n", s.job.Runner.Address(), err, out)
	}
}

// remote runs one command on the runner outside the job's deadline, with its own bound.
func (s *session) remote(command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.job.ConnectTimeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.rt.SSH, append(s.job.SSHArgs(), command)...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// WriteUpload writes the upload stream: pybundle-job-<id>/<pybundle-runner> (mode 0755), the
// options file and the source's files under pybundle-job-<id>/src/, as pipeline/source lists
// them: links that leave the source are never followed (a secret mounted beside the source
// cannot be sent by naming it from inside), special files are left out.
func WriteUpload(w io.Writer, j Job) error {
	tw := tar.NewWriter(w)
	root := j.Dir()
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: root + "/", Mode: 0o755, ModTime: now}); err != nil {
		return err
	}
	if err := addFile(tw, j.Binary, root+"/"+j.BinaryName(), 0o755); err != nil {
		return fmt.Errorf("runner binary: %w", err)
	}
	opts, err := json.Marshal(j.Options)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: root + "/" + OptionsFile, Mode: 0o644, Size: int64(len(opts)), ModTime: now}); err != nil {
		return err
	}
	if _, err := tw.Write(opts); err != nil {
		return err
	}
	tree, err := source.Read(j.Source, nil)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: root + "/src/", Mode: 0o755, ModTime: now}); err != nil {
		return err
	}
	written := map[string]bool{}
	for _, f := range tree.Files {
		// Parent folders before their files, each once.
		var parents []string
		for d := path.Dir(f.Path); d != "." && !written[d]; d = path.Dir(d) {
			parents = append(parents, d)
			written[d] = true
		}
		for k := len(parents) - 1; k >= 0; k-- {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: root + "/src/" + parents[k] + "/", Mode: 0o755, ModTime: now}); err != nil {
				return err
			}
		}
		if err := addTreeFile(tw, tree, f, root+"/src/"+f.Path); err != nil {
			return fmt.Errorf("source: %w", err)
		}
	}
	return tw.Close()
}

// addTreeFile adds one file of the source tree, opened inside it (never through a link out).
func addTreeFile(tw *tar.Writer, tree *source.Tree, f source.File, name string) error {
	r, err := tree.Open(f.Path)
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := r.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(f.Mode.Perm()), Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, io.LimitReader(r, fi.Size()))
	return err
}

func addFile(tw *tar.Writer, src, name string, mode int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// extractor unpacks the download stream into dir as it arrives. Only DownloadFiles may appear
// at the top, nothing may escape dir, and symlinks must stay inside it (a onedir bundle on
// macOS has relative links into its own folders).
type extractor struct {
	dir string
	pw  *io.PipeWriter
	err chan error
}

func (x *extractor) Write(p []byte) (int, error) {
	if x.pw == nil {
		pr, pw := io.Pipe()
		x.pw, x.err = pw, make(chan error, 1)
		go func() {
			err := untar(pr, x.dir)
			if err == nil {
				// tar pads the stream past its end-of-archive marker (to a 10 KiB record):
				// read it to the end so ssh's copy does not fail on a closed pipe.
				_, err = io.Copy(io.Discard, pr)
			}
			pr.CloseWithError(err)
			x.err <- err
		}()
	}
	return x.pw.Write(p)
}

// finish waits for the unpacking to end and reports a truncated or malformed stream.
func (x *extractor) finish() error {
	if x.pw == nil {
		return errors.New("the runner sent nothing")
	}
	x.pw.Close()
	return <-x.err
}

// Bounds of what a runner may send back: a bundle with its report is far below them; a
// runner (or something posing as one) that sends more is refused, not written to disk.
const (
	MaxDownloadBytes   = 16 << 30
	MaxDownloadEntries = 500_000
	// MaxLogBytes bounds the runner's build log copied through: past it, the rest is dropped.
	MaxLogBytes = 64 << 20
)

func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	seenReport := false
	var total int64
	entries := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			if !seenReport {
				return errors.New("no report.json in the stream")
			}
			return linksStayInside(dir)
		}
		if err != nil {
			return err
		}
		entries++
		total += max(h.Size, 0)
		if entries > MaxDownloadEntries || total > MaxDownloadBytes {
			return fmt.Errorf("the download is larger than any bundle (over %d entries or %d GiB): refused", MaxDownloadEntries, MaxDownloadBytes>>30)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		top, _, _ := strings.Cut(name, "/")
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || !isDownloadFile(top) {
			return fmt.Errorf("unexpected entry %q", h.Name)
		}
		if name == "report.json" {
			seenReport = true
		}
		// The name is checked as text above; the file system must agree: an entry under a
		// symlink the stream made earlier, or one written over such a link, lands wherever
		// the link points (two links "dist/up" → ".." and "dist/up/x" → ".." put
		// "dist/up/x/f" outside dir).
		if err := noLinkOnPath(dir, name); err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode).Perm()|0o200)
			if err != nil {
				return err
			}
			n, err := io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if n != h.Size {
				return fmt.Errorf("%s: %d of %d bytes", name, n, h.Size)
			}
		case tar.TypeSymlink:
			t := h.Linkname
			resolved := path.Clean(path.Join(path.Dir(name), t))
			if path.IsAbs(t) || resolved == ".." || strings.HasPrefix(resolved, "../") {
				return fmt.Errorf("symlink %s → %s leaves the bundle", name, t)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(t, dst); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected entry type %q for %s", string(h.Typeflag), name)
		}
	}
}

// noLinkOnPath refuses name when a folder on its way inside dir, or name itself, is a symlink.
func noLinkOnPath(dir, name string) error {
	p := dir
	for _, c := range strings.Split(name, "/") {
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("entry %q goes through the symlink %s", name, filepath.ToSlash(strings.TrimPrefix(p, dir+string(filepath.Separator))))
		}
	}
	return nil
}

// linksStayInside checks where the file system takes every symlink under dir, one target
// component at a time: a link's target is checked as text when it is made, but a link
// through another link ("dist/a" → "." and "dist/b" → "a/../../x") leaves dir all the same.
func linksStayInside(dir string) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	inside := func(p string) bool {
		rel, err := filepath.Rel(root, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		t, err := os.Readlink(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		leaves := fmt.Errorf("symlink %s → %s leaves the bundle", filepath.ToSlash(rel), t)
		if filepath.IsAbs(t) {
			return leaves
		}
		// Resolve from a real (link-free) folder one component at a time, so ".." means
		// what it means to the file system, not to filepath.Join.
		at, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return err
		}
		for _, c := range strings.Split(filepath.ToSlash(t), "/") {
			at, err = filepath.EvalSymlinks(filepath.Join(at, c))
			if err != nil {
				return nil // dangling from here on: it leads nowhere
			}
			if !inside(at) {
				return leaves
			}
		}
		return nil
	})
}

func isDownloadFile(top string) bool {
	for _, f := range DownloadFiles {
		if top == f {
			return true
		}
	}
	return false
}

// CheckDownload checks what came back against the runner's own report: one entry, for this
// target, all checks passed, the artifact where the module expects it, and its bytes (sha256)
// and the bundle's size exactly as the runner verified them — so a copy that went wrong can
// never pass for a verified build.
func CheckDownload(dir string, j Job) error {
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return fmt.Errorf("report.json from the runner: %v", err)
	}
	rep, err := report.Parse(b)
	if err != nil {
		return fmt.Errorf("report.json from the runner: %v", err)
	}
	if len(rep.Entries) != 1 {
		return fmt.Errorf("report.json from the runner has %d entries, want 1 for %s", len(rep.Entries), j.Target)
	}
	e := rep.Entries[0]
	switch {
	case e.Target != j.Target:
		return fmt.Errorf("the runner built %s, not %s (is --platform right for that machine?)", e.Target, j.Target)
	case !e.OK():
		return fmt.Errorf("the runner's report has failed checks for %s", j.Target)
	case e.Artifact != j.Artifact:
		return fmt.Errorf("the runner's artifact is %s, expected %s", e.Artifact, j.Artifact)
	}
	exe := filepath.Join(dir, "dist", filepath.FromSlash(j.Artifact))
	sum, _, err := verify.FileSHA256(exe)
	if err != nil {
		return fmt.Errorf("artifact %s: %v", j.Artifact, err)
	}
	if sum != e.SHA256 {
		return fmt.Errorf("artifact %s: sha256 %s after the copy, the runner verified %s", j.Artifact, sum, e.SHA256)
	}
	// The whole bundle, file by file, as the runner's verify recorded it.
	bundle, err := layout.FromEntry(e.Target, e.Mode, e.Artifact)
	if err != nil {
		return fmt.Errorf("the runner's report: %v", err)
	}
	if e.Manifest == nil {
		return fmt.Errorf("the runner's report has no manifest of the bundle (another pybundle version?)")
	}
	m, err := verify.TreeManifest(filepath.Join(dir, "dist", filepath.FromSlash(bundle.RootInDist())))
	if err != nil {
		return fmt.Errorf("bundle %s: %v", bundle.RootInDist(), err)
	}
	if diff := e.Manifest.Diff(m, verify.CompareOptions{IgnoreModes: bundle.Target.OS == "windows"}, 8); len(diff) > 0 {
		return fmt.Errorf("bundle %s after the copy is not the one the runner verified (%s): %s", bundle.RootInDist(), e.Manifest.Summary(), strings.Join(diff, "; "))
	}
	return checkSBOM(dir, e, bundle)
}

// checkSBOM checks the SBOM the runner's report names: where the plan puts it (next to the
// bundle: a report cannot point the module at any other file), and the bytes it digested.
func checkSBOM(dir string, e report.Entry, b layout.Bundle) error {
	if e.SBOM == "" {
		return errors.New("the runner's report names no SBOM (another pybundle version?)")
	}
	if want := b.Dir() + "/" + sbom.FileName; e.SBOM != want {
		return fmt.Errorf("the runner's SBOM is %q, expected %s", e.SBOM, want)
	}
	p := filepath.Join(dir, "dist", filepath.FromSlash(e.SBOM))
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("SBOM %s: not a regular file from the runner", e.SBOM)
	}
	sum, _, err := verify.FileSHA256(p)
	if err != nil {
		return fmt.Errorf("SBOM %s: %v", e.SBOM, err)
	}
	if sum != e.SBOMSHA256 {
		return fmt.Errorf("SBOM %s: sha256 %s after the copy, the runner wrote %s", e.SBOM, sum, e.SBOMSHA256)
	}
	return nil
}
