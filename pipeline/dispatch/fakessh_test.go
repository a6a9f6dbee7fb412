package dispatch

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/diagnose"
	"github.com/pybundle/pybundle/pipeline/report"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// The test binary doubles as a fake ssh client for Run: with PYBUNDLE_FAKE_SSH_HOME set it
// takes ssh's arguments, runs the remote command itself in that folder (the runner login's
// home) the way sh on the runner would, and exits with the command's status. No network,
// no ssh server.
func TestMain(m *testing.M) {
	if home := os.Getenv("PYBUNDLE_FAKE_SSH_HOME"); home != "" {
		os.Exit(fakeSSH(home, os.Getenv("PYBUNDLE_FAKE_SSH_MODE"), os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeSSH(home, mode string, args []string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "fake ssh: "+format+"\n", a...)
		return 3
	}
	i := slices.Index(args, "--")
	if i < 0 || len(args) != i+3 || !slices.Contains(args, "BatchMode=yes") {
		return fail("unexpected arguments %q", args)
	}
	host, remote := args[i+1], args[i+2]
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(home), "ssh.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintln(logf, remote)
	logf.Close()
	if mode == "refused" {
		fmt.Fprintf(os.Stderr, "ssh: connect to host %s port 22: Connection refused\r\n", host)
		return 255
	}
	argv, err := decodeSh(remote)
	if err != nil {
		return fail("%v", err)
	}
	at := func(p string) string { return filepath.Join(home, filepath.FromSlash(p)) }
	switch {
	case argv[0] == "echo":
		fmt.Println(strings.Join(argv[1:], " "))
	case slices.Equal(argv, []string{"tar", "-xf", "-"}):
		tr := tar.NewReader(os.Stdin)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fail("upload: %v", err)
			}
			if h.Typeflag == tar.TypeDir {
				err = os.MkdirAll(at(h.Name), 0o755)
			} else {
				var b []byte
				if b, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(at(h.Name), b, fs.FileMode(h.Mode))
				}
			}
			if err != nil {
				return fail("upload: %v", err)
			}
		}
	case strings.HasSuffix(argv[0], "/pybundle-runner"):
		return fakeBuild(at, mode, argv)
	case len(argv) > 4 && argv[0] == "tar" && argv[1] == "-cf" && argv[3] == "-C":
		tw := tar.NewWriter(os.Stdout)
		for _, top := range argv[5:] {
			err := filepath.WalkDir(at(argv[4]+"/"+top), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(at(argv[4]), p)
				h, err := tar.FileInfoHeader(fi, "")
				if err != nil {
					return err
				}
				h.Name = filepath.ToSlash(rel)
				if err := tw.WriteHeader(h); err != nil || !fi.Mode().IsRegular() {
					return err
				}
				b, err := os.ReadFile(p)
				if err == nil {
					_, err = tw.Write(b)
				}
				return err
			})
			if err != nil {
				return fail("download: %v", err)
			}
		}
		if err := tw.Close(); err != nil {
			return fail("download: %v", err)
		}
	case argv[0] == "rm" && argv[1] == "-rf":
		os.RemoveAll(at(argv[2]))
	default:
		return fail("unexpected command %q", argv)
	}
	return 0
}

// fakeBuild is pybundle-runner build on the fake runner: a onedir bundle, its report and
// summary in --out.
func fakeBuild(at func(string) string, mode string, argv []string) int {
	flag := func(name string) string {
		if i := slices.Index(argv, name); i > 0 && i+1 < len(argv) {
			return argv[i+1]
		}
		return ""
	}
	if fi, err := os.Stat(at(argv[0])); err != nil || fi.Mode().Perm() != 0o755 {
		fmt.Fprintf(os.Stderr, "sh: 1: %s: not found\n", argv[0])
		return 127
	}
	src, err := os.ReadFile(at(flag("--source") + "/main.py"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "pybundle-runner: spec %s: %v\n", flag("--platform"), err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "pybundle-runner: build %s from %s\n", flag("--platform"), flag("--source"))
	if mode == "build-fail" {
		fmt.Fprintf(os.Stderr, "pybundle-runner: env %s: no Python 3.13 found (tried python3.13, python3, python)\n", flag("--platform"))
		return 1
	}
	out := flag("--out")
	exe := append([]byte("exe built from "), src...)
	lib := []byte("libpython")
	files := map[string][]byte{
		"dist/linux-amd64/peft_engine/peft_engine":         exe,
		"dist/linux-amd64/peft_engine/_internal/libpython": lib,
		"summary.txt": []byte("linux/amd64 ok\n"),
	}
	for name, b := range files {
		p := at(out + "/" + name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 1
		}
		if err := os.WriteFile(p, b, 0o755); err != nil {
			return 1
		}
	}
	m, err := verify.TreeManifest(at(out + "/dist/linux-amd64/peft_engine"))
	if err != nil {
		return 1
	}
	e := report.Entry{Target: flag("--platform"), Mode: "onedir", Artifact: "linux-amd64/peft_engine/peft_engine",
		SizeBytes: int64(len(exe) + len(lib)), SHA256: sha(exe), Checks: []report.Check{{Name: "exists", OK: true}}, Manifest: &m}
	if mode == "tamper" { // the report does not match the bytes that will be sent
		e.SHA256 = sha([]byte("something else"))
	}
	doc := []byte(`{"bomFormat": "CycloneDX"}`)
	e.SBOM, e.SBOMSHA256 = "linux-amd64/sbom.cdx.json", sha(doc)
	if err := os.WriteFile(at(out+"/dist/"+e.SBOM), doc, 0o644); err != nil {
		return 1
	}
	rep := report.New()
	rep.Add(e)
	js, _ := rep.JSON()
	if err := os.WriteFile(at(out+"/report.json"), js, 0o644); err != nil {
		return 1
	}
	return 0
}

// fakeRun runs j through Run with the fake ssh in the given mode, and returns what the fake
// runner was asked to do.
func fakeRun(t *testing.T, mode string) (Job, Result, error, []string, string) {
	self, err := os.Executable()
	assert.NilError(t, err)
	base := t.TempDir()
	home := filepath.Join(base, "home")
	assert.NilError(t, os.Mkdir(home, 0o755))
	t.Setenv("PYBUNDLE_FAKE_SSH_HOME", home)
	t.Setenv("PYBUNDLE_FAKE_SSH_MODE", mode)
	j := runFiles(t)
	j.ID = "j1"
	var log bytes.Buffer
	res, err := Run(context.Background(), j, Runtime{SSH: self, Log: &log})
	b, _ := os.ReadFile(filepath.Join(base, "ssh.log"))
	_, herr := os.Stat(filepath.Join(home, j.Dir()))
	assert.Assert(t, errors.Is(herr, fs.ErrNotExist), "the job folder is left on the runner")
	return j, res, err, strings.Split(strings.TrimSpace(string(b)), "\n"), log.String()
}

func stepNames(res Result) []string {
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Name)
	}
	return names
}

func TestRunWithFakeSSH(t *testing.T) {
	j, res, err, calls, log := fakeRun(t, "ok")
	assert.NilError(t, err)
	assert.Assert(t, res.OK)
	assert.Equal(t, res.Target, "linux/amd64")
	assert.Equal(t, res.Runner, "ssh://pybundle@10.213.0.2:22")
	assert.DeepEqual(t, stepNames(res), []string{"connect", "upload", "build", "download"})
	assert.Assert(t, is.Len(res.Warnings, 1))
	assert.Assert(t, is.Contains(res.Warnings[0], "--runner-known-hosts"))
	assert.DeepEqual(t, calls, []string{j.ConnectCommand(), j.UploadCommand(), j.BuildCommand(), j.DownloadCommand(), j.CleanupCommand()})
	b, err := os.ReadFile(filepath.Join(j.Out, "dist/linux-amd64/peft_engine/peft_engine"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "exe built from print(1)\n")
	for _, f := range []string{"report.json", "summary.txt", "dist/linux-amd64/peft_engine/_internal/libpython"} {
		_, err := os.Stat(filepath.Join(j.Out, f))
		assert.NilError(t, err, f)
	}
	_, err = os.Stat(j.Out + ".partial")
	assert.Assert(t, errors.Is(err, fs.ErrNotExist))
	assert.Assert(t, is.Contains(log, "pybundle dispatch: build linux/amd64 on ssh://pybundle@10.213.0.2:22"))
	assert.Assert(t, is.Contains(log, "pybundle-runner: build linux/amd64 from pybundle-job-j1/src"), "the runner's log is passed on")
}

func TestRunWithFakeSSHFailures(t *testing.T) {
	for _, tc := range []struct {
		mode, stage string
		kind        Kind
		reason      string
		steps       []string
		cleanup     bool
	}{
		{"refused", "runner-connect", KindUnreachable, "cannot reach ssh://pybundle@10.213.0.2:22 (Connection refused)", []string{"connect"}, false},
		{"build-fail", "runner-build", KindBuildFailed, "the runner's build failed: env linux/amd64: no Python 3.13 found", []string{"connect", "upload", "build"}, true},
		{"tamper", "runner-check", KindRemote, "artifact linux-amd64/peft_engine/peft_engine: sha256", []string{"connect", "upload", "build", "download"}, true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			j, res, err, calls, _ := fakeRun(t, tc.mode)
			var de *diagnose.Error
			assert.Assert(t, errors.As(err, &de), "%T: %v", err, err)
			assert.Equal(t, de.Stage, tc.stage)
			assert.Equal(t, de.Target, "linux/amd64")
			assert.Equal(t, de.File, "ssh://pybundle@10.213.0.2:22")
			assert.Assert(t, is.Contains(de.Reason, tc.reason))
			assert.Assert(t, !res.OK)
			assert.Equal(t, res.Kind, tc.kind)
			assert.Equal(t, res.Error, de)
			assert.DeepEqual(t, stepNames(res), tc.steps)
			assert.Equal(t, calls[len(calls)-1] == j.CleanupCommand(), tc.cleanup, "cleanup after an upload only: %q", calls)
			for _, p := range []string{j.Out, j.Out + ".partial"} {
				_, err := os.Lstat(p)
				assert.Assert(t, errors.Is(err, fs.ErrNotExist), "%s exists after a failure", p)
			}
		})
	}
}
