package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
)

// signer is a Debian container with osslsigncode: Authenticode signing runs on Linux, so a
// Windows executable or installer can be signed by the same pipeline that built it.
func (m *Pybundle) signer() *dagger.Container {
	return m.debian(dag.Container().From(m.BaseImage), "pybundle-apt-signer", images.SignerPackages).WithWorkdir("/work")
}

// SignWindows signs a Windows executable or installer with Authenticode (osslsigncode). The
// certificate and its password are Secrets: mounted only while signing, never in a layer, a
// log or the report. Returns the signed file.
//
// +cache="session"
func (m *Pybundle) SignWindows(
	ctx context.Context,
	// The .exe (or .msi/.dll) to sign.
	file *dagger.File,
	// PKCS#12 (.pfx/.p12) holding the code-signing certificate and its key.
	certificate *dagger.Secret,
	// Password of the PKCS#12 file.
	password *dagger.Secret,
	// Program name shown in the signature (and by Windows' UAC prompt).
	// +optional
	// +default="PeftDesktop"
	description string,
	// Timestamp server URL (RFC 3161); empty: no timestamp (offline builds).
	// +optional
	timestampUrl string,
) (*dagger.File, error) {
	name, err := file.Name(ctx)
	if err != nil {
		return nil, err
	}
	// Bounded: a timestamp server that accepts and never answers must not hold the pipeline.
	args := []string{"timeout", "-k", "5", strconv.Itoa(int(signTimeout.Seconds())),
		"osslsigncode", "sign", "-pkcs12", "/run/secrets/cert.p12", "-readpass", "/run/secrets/password",
		"-h", "sha256", "-n", description, "-in", "/work/in/" + name, "-out", "/work/out/" + name}
	if timestampUrl != "" {
		args = append(args, "-ts", timestampUrl)
	}
	// osslsigncode exits 255 on most failures, which the engine reports as its own exec error:
	// the status is written to a file instead, so an engine failure stays one, with its cause.
	const status = "/work/status"
	signed := m.signer().
		WithFile("/work/in/"+name, file).
		WithMountedSecret("/run/secrets/cert.p12", certificate).
		WithMountedSecret("/run/secrets/password", password).
		WithExec([]string{"mkdir", "-p", "/work/out"}).
		WithExec(append([]string{"sh", "-c", `"$@"; echo $? > ` + status, "sh"}, args...))
	text, err := signed.File(status).Contents(ctx)
	if err != nil {
		return nil, &diagnose.Error{Stage: "sign", Target: "windows", File: name, Reason: "the signing container failed: " + err.Error()}
	}
	code, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil {
		return nil, &diagnose.Error{Stage: "sign", Target: "windows", File: name, Reason: "the signing container reported no exit status: " + text}
	}
	if code != 0 {
		out, _ := signed.Stdout(ctx)
		errOut, _ := signed.Stderr(ctx)
		return nil, &diagnose.Error{Stage: "sign", Target: "windows", File: name,
			Reason: signFailure(code, timestampUrl), Tail: diagnose.Tail(out+"\n"+errOut, 8)}
	}
	return signed.File("/work/out/" + name), nil
}

// signTimeout bounds one osslsigncode run, the timestamp request included.
const signTimeout = 2 * time.Minute

// signFailure says why osslsigncode failed, from its exit status (its output follows as the tail).
func signFailure(code int, timestampURL string) string {
	switch {
	case code == 124 || code == 137:
		if timestampURL != "" {
			return fmt.Sprintf("osslsigncode did not finish within %s: the timestamp server %s did not answer", signTimeout, timestampURL)
		}
		return fmt.Sprintf("osslsigncode did not finish within %s", signTimeout)
	}
	return fmt.Sprintf("osslsigncode could not sign it (exit %d): see its output below (a wrong password, a file that is not a PE, an unreachable timestamp server)", code)
}

// VerifyWindowsSignature checks a file's Authenticode signature with osslsigncode and returns
// the signer and digest lines; fails when it is unsigned, tampered with, or not trusted by ca.
//
// +cache="session"
func (m *Pybundle) VerifyWindowsSignature(
	ctx context.Context,
	// The signed .exe.
	file *dagger.File,
	// CA certificate(s), PEM, the signature must chain to (a self-signed development
	// certificate is its own CA).
	ca *dagger.File,
) (string, error) {
	name, err := file.Name(ctx)
	if err != nil {
		return "", err
	}
	run := m.signer().
		WithFile("/work/"+name, file).
		WithFile("/work/ca.pem", ca).
		WithExec([]string{"osslsigncode", "verify", "-CAfile", "/work/ca.pem", "-in", "/work/" + name},
			dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	code, err := run.ExitCode(ctx)
	if err != nil {
		return "", err
	}
	out, _ := run.Stdout(ctx)
	if code != 0 || !strings.Contains(out, "Signature verification: ok") {
		errOut, _ := run.Stderr(ctx)
		return "", &diagnose.Error{Stage: "verify-signature", Target: "windows", File: name,
			Reason: fmt.Sprintf("signature does not verify (osslsigncode exit %d)", code), Tail: diagnose.Tail(out+"\n"+errOut, 8)}
	}
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Subject:") || strings.HasPrefix(l, "Message digest algorithm") ||
			strings.HasPrefix(l, "Signature verification") || strings.HasPrefix(l, "Number of verified signatures") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n") + "\n", nil
}
