package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestSignWindowsRoundTrip: a real PE file (a Go program cross-compiled for windows/amd64) is
// signed with a throwaway certificate through the module's Authenticode stage, the signature
// verifies against that certificate, a tampered copy does not, and the password never shows up
// in dagger's output.
func TestSignWindowsRoundTrip(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	dir := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		assert.NilError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
	}
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hello from a signed exe\") }\n"), 0o644))
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644))
	run("go", "build", "-o", "hello.exe", ".")
	const password = "s3cret-Pa55word-never-logged"
	run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pybundle test signing",
		"-addext", "extendedKeyUsage=codeSigning", "-keyout", "key.pem", "-out", "cert.pem")
	run("openssl", "pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-out", "cert.p12", "-passout", "pass:"+password)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "password"), []byte(password), 0o600))

	signed := filepath.Join(dir, "signed", "hello.exe")
	r := dagger(t, long, "sign-windows", "--file", filepath.Join(dir, "hello.exe"),
		"--certificate", "file:"+filepath.Join(dir, "cert.p12"), "--password", "file:"+filepath.Join(dir, "password"),
		"export", "--path", signed)
	assert.Equal(t, r.Code, 0, errorTail(r.Stderr))
	assert.Check(t, !strings.Contains(r.Stdout+r.Stderr, password), "the password must never be printed")

	out := mustDagger(t, long, "verify-windows-signature", "--file", signed, "--ca", filepath.Join(dir, "cert.pem"))
	assert.Check(t, is.Contains(out, "Signature verification: ok"))
	assert.Check(t, is.Contains(out, "pybundle test signing"))

	// One flipped byte in the signed file: the signature must no longer verify.
	b, err := os.ReadFile(signed)
	assert.NilError(t, err)
	b[len(b)/3] ^= 0xff
	tampered := filepath.Join(dir, "tampered.exe")
	assert.NilError(t, os.WriteFile(tampered, b, 0o644))
	r = dagger(t, long, "verify-windows-signature", "--file", tampered, "--ca", filepath.Join(dir, "cert.pem"))
	assert.Check(t, r.Code != 0)
	assert.Check(t, is.Contains(errorLine(r.Stderr), "verify-signature windows: tampered.exe: signature does not verify"))

	// A wrong password is one clear error, not a signed file.
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "wrong"), []byte("nope"), 0o600))
	r = dagger(t, long, "sign-windows", "--file", filepath.Join(dir, "hello.exe"),
		"--certificate", "file:"+filepath.Join(dir, "cert.p12"), "--password", "file:"+filepath.Join(dir, "wrong"))
	assert.Check(t, r.Code != 0)
	assert.Check(t, is.Contains(errorLine(r.Stderr), "sign windows: hello.exe: osslsigncode could not sign it"))
}
