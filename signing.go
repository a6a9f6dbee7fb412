package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/internal/dagger"
	"github.com/pybundle/pybundle/pipeline/diagnose"
)

// signer is a Debian container with osslsigncode: Authenticode signing runs on Linux, so a
// Windows executable or installer can be signed by the same pipeline that built it.
func (m *Pybundle) signer() *dagger.Container {
	return dag.Container().From(m.BaseImage).
		WithMountedCache("/var/cache/apt/archives", dag.CacheVolume("pybundle-apt-signer"), dagger.ContainerWithMountedCacheOpts{Sharing: dagger.CacheSharingModeLocked}).
		WithExec([]string{"sh", "-c", images.AptInstallScript(images.SignerPackages)}).
		WithoutMount("/var/cache/apt/archives").
		WithWorkdir("/work")
}

// SignWindows signs a Windows executable or installer with Authenticode (osslsigncode). The
// certificate and its password are Secrets: mounted only while signing, never in a layer, a
// log or the report. Returns the signed file.
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
	args := []string{"osslsigncode", "sign", "-pkcs12", "/run/secrets/cert.p12", "-readpass", "/run/secrets/password",
		"-h", "sha256", "-n", description, "-in", "/work/in/" + name, "-out", "/work/out/" + name}
	if timestampUrl != "" {
		args = append(args, "-ts", timestampUrl)
	}
	signed := m.signer().
		WithFile("/work/in/"+name, file).
		WithMountedSecret("/run/secrets/cert.p12", certificate).
		WithMountedSecret("/run/secrets/password", password).
		WithExec([]string{"mkdir", "-p", "/work/out"}).
		WithExec(args, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	// osslsigncode's exit 255 surfaces as an exec error even with Expect: Any; both mean the
	// same to a user.
	code, err := signed.ExitCode(ctx)
	if err != nil || code != 0 {
		out, _ := signed.Stdout(ctx)
		errOut, _ := signed.Stderr(ctx)
		return nil, &diagnose.Error{Stage: "sign", Target: "windows", File: name,
			Reason: "osslsigncode could not sign it (wrong password, or not a PE file?)", Tail: diagnose.Tail(out+"\n"+errOut, 8)}
	}
	return signed.File("/work/out/" + name), nil
}

// VerifyWindowsSignature checks a file's Authenticode signature with osslsigncode and returns
// the signer and digest lines; fails when it is unsigned, tampered with, or not trusted by ca.
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
