package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/pybundle/pybundle/pipeline/report"
)

// TestMain doubles as the fake backend the build tests start through the health stage: the
// fake bundle's executable execs this test binary with fakeBackendEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(fakeBackendEnv) == "1" {
		os.Exit(fakeBackend(os.Args[1:]))
	}
	os.Exit(m.Run())
}

const fakeBackendEnv = "PYBUNDLE_RUNNER_FAKE_BACKEND"

// fakeBackend serves {"status": "ok"} on /api/health at --port until SIGTERM, like the sample
// backend; FAKE_BACKEND_EXIT makes it fail during start-up instead.
func fakeBackend(args []string) int {
	if code := os.Getenv("FAKE_BACKEND_EXIT"); code != "" {
		fmt.Fprintln(os.Stderr, "RuntimeError: database schema version 7 is newer than this backend supports (5)")
		var n int
		fmt.Sscan(code, &n)
		return n
	}
	port := ""
	for i, a := range args {
		if a == "--port" && i+1 < len(args) {
			port = args[i+1]
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status": "ok"}`)
	})
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: mux}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testApp is an app on the given host with captured output.
func testApp(hostOS, hostArch string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr)
	if hostOS != "" {
		a.hostOS, a.hostArch = hostOS, hostArch
	}
	a.hostname = func() (string, error) { return "testhost", nil }
	return a, &stdout, &stderr
}

func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{nil, exitUsage, "", "usage: pybundle-runner <command>"},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"help"}, exitPass, "merge-reports", ""},
		{[]string{"version"}, exitPass, "pybundle-runner " + report.ToolVersion + " (PyInstaller 6.22.2; go", ""},
		{[]string{"build"}, exitUsage, "", "pybundle-runner: build: --source and --out are required"},
		{[]string{"build", "-h"}, exitPass, "", "-skip-health"},
		{[]string{"env", "--platform", "darwin/arm64"}, exitUsage, "", "PyInstaller is not a cross-compiler"},
		{[]string{"merge-reports"}, exitUsage, "", "give the report.json files to merge"},
	} {
		a, stdout, stderr := testApp("linux", "amd64")
		code := a.run(context.Background(), tc.args)
		assert.Equal(t, code, tc.code, "%v: stderr %s", tc.args, stderr)
		assert.Assert(t, strings.Contains(stdout.String(), tc.stdout), "%v stdout: %s", tc.args, stdout)
		assert.Assert(t, strings.Contains(stderr.String(), tc.stderr), "%v stderr: %s", tc.args, stderr)
	}
}
