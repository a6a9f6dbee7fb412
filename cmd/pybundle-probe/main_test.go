package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/verify"
)

// With this variable set the test binary acts as a minimal healthy backend
// (helper-process pattern), so the health command runs against a real server.
const fakeRole = "PYBUNDLE_PROBE_FAKE_BACKEND"

func TestMain(m *testing.M) {
	if os.Getenv(fakeRole) != "" {
		os.Exit(fakeBackend())
	}
	os.Exit(m.Run())
}

func fakeBackend() int {
	port := os.Args[len(os.Args)-1]
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	if os.Getenv(fakeRole) == "crash" {
		fmt.Println("fatal: cannot open database")
		return 4
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return 1
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status": "ok", "version": "1.0.0"}`)
	}))
	select {
	case <-terms:
		return 0
	case <-time.After(20 * time.Second):
		return 99
	}
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// standIn writes a shell script standing in for a frozen binary whose runtime
// hook answers the import check (see pipeline/verify for the contract).
func standIn(t *testing.T, hook string) string {
	p := filepath.Join(t.TempDir(), "peft_engine")
	assert.NilError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+hook+"\n"), 0o755))
	return p
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, exitUsage, "usage: pybundle-probe"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"help"}, exitPass, ""},
		{[]string{"verify"}, exitUsage, "--artifact is required"},
		{[]string{"verify", "--artifact", "x", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"verify", "--artifact", "x", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"verify", "--artifact", "x", "--min-size", "10", "--max-size", "5"}, exitUsage, "not a range"},
		{[]string{"verify", "-h"}, exitPass, "-modules"},
		{[]string{"health"}, exitUsage, "--artifact is required"},
		{[]string{"health", "--artifact", "x", "--runs", "0"}, exitUsage, "--runs must be at least 1"},
		{[]string{"health", "--artifact", "x", "--env", "NOEQUALS"}, exitUsage, "not KEY=VALUE"},
		{[]string{"health", "--artifact", "x", "--port", "99999"}, exitUsage, "port 99999 out of range"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		assert.Equal(t, code, tc.code, "%q: %s", tc.args, stderr)
		assert.Assert(t, is.Contains(stdout+stderr, tc.msg), "%q", tc.args)
		if code == exitUsage {
			assert.Equal(t, stdout, "", "%q: nothing on stdout for a usage error", tc.args)
		}
	}
}

func TestVerifyJSON(t *testing.T) {
	ok := `echo 'PYBUNDLE_CHECK {"ok": true, "imported": ["services.users", "connectors.csv_export"], "failed": {}, "frozen": true, "python": "3.13.5", "dumped": 0}'`
	fails := `echo 'PYBUNDLE_CHECK {"ok": false, "imported": [], "failed": {"services.users": "ModuleNotFoundError: No module named services.users"}, "frozen": true, "python": "3.13.5", "dumped": 0}'; exit 3`
	for _, tc := range []struct {
		name string
		hook string
		code int
	}{
		{"pass", ok, exitPass},
		{"import fails", fails, exitFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exe := standIn(t, tc.hook)
			code, stdout, stderr := runCLI(t, "verify", "--artifact", exe, "--bundle", exe,
				"--modules", "services.users, connectors.csv_export", "--min-size", "1",
				"--python-dirs", t.TempDir(), "--json")
			assert.Equal(t, code, tc.code, stderr)
			var r verify.Result
			assert.NilError(t, json.Unmarshal([]byte(stdout), &r), "stdout must be exactly one JSON document: %s", stdout)
			assert.Equal(t, r.Artifact, exe)
			assert.Equal(t, r.OK, tc.code == exitPass)
			assert.Equal(t, r.Python, "3.13.5")
			assert.Assert(t, is.Contains(stderr, "ok   exists"), "human lines on stderr")
			if tc.code == exitFail {
				assert.Assert(t, is.Contains(stderr, exe))
				assert.Assert(t, is.Contains(stderr, "check imports failed"))
			}
		})
	}
}

func TestVerifyHumanOutput(t *testing.T) {
	code, stdout, _ := runCLI(t, "verify", "--artifact", filepath.Join(t.TempDir(), "missing"))
	assert.Equal(t, code, exitFail)
	assert.Assert(t, strings.HasPrefix(stdout, "FAIL exists"), stdout)
}

func TestHealthJSON(t *testing.T) {
	t.Setenv(fakeRole, "serve")
	code, stdout, stderr := runCLI(t, "health", "--artifact", os.Args[0], "--port", "0",
		"--budget", "2s", "--interval", "10ms", "--runs", "2", "--emulated=false", "--json")
	assert.Equal(t, code, exitPass, stderr)
	var r health.Result
	assert.NilError(t, json.Unmarshal([]byte(stdout), &r), stdout)
	assert.Assert(t, r.OK)
	assert.Equal(t, len(r.Runs), 2)
	assert.Equal(t, r.BudgetMS, 2000.0)
	assert.Assert(t, is.Contains(stderr, "median"))
}

func TestHealthFailure(t *testing.T) {
	t.Setenv(fakeRole, "crash")
	code, stdout, stderr := runCLI(t, "health", "--artifact", os.Args[0], "--json")
	assert.Equal(t, code, exitFail)
	var r health.Result
	assert.NilError(t, json.Unmarshal([]byte(stdout), &r), stdout)
	assert.Equal(t, r.Reason, "backend exited with code 4 during start-up")
	assert.DeepEqual(t, r.LogTail, []string{"fatal: cannot open database"})
	assert.Assert(t, is.Contains(stderr, "health "+os.Args[0]+": backend exited with code 4"))
}
