package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/pack"
)

// packTree writes what `tar xzf peft-desktop-0.1.0.tar.gz` gives, plus the
// output folder's latest-linux.yml and the app's package.json.
func packTree(t *testing.T, backendMode os.FileMode) (root, yml, pkg, sum string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "peft-desktop-0.1.0")
	res := filepath.Join(root, "resources")
	assert.NilError(t, os.MkdirAll(filepath.Join(res, "app"), 0o755))
	assert.NilError(t, os.MkdirAll(filepath.Join(res, "backend"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(res, "app", "main.js"), []byte("//"), 0o644))
	exe := filepath.Join(res, "backend", "peft_engine")
	assert.NilError(t, os.WriteFile(exe, []byte("ELF backend"), backendMode))
	assert.NilError(t, os.Chmod(exe, backendMode))
	h := sha256.Sum256([]byte("ELF backend"))
	sum = hex.EncodeToString(h[:])

	tarball := []byte("the tarball")
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "peft-desktop-0.1.0.tar.gz"), tarball, 0o644))
	h5 := sha512.Sum512(tarball)
	b64 := base64.StdEncoding.EncodeToString(h5[:])
	yml = filepath.Join(dir, "latest-linux.yml")
	assert.NilError(t, os.WriteFile(yml, []byte("version: 0.1.0\nfiles:\n  - url: peft-desktop-0.1.0.tar.gz\n    sha512: "+b64+
		"\n    size: "+strconv.Itoa(len(tarball))+"\npath: peft-desktop-0.1.0.tar.gz\nsha512: "+b64+"\nreleaseDate: '2026-11-25T10:00:00.000Z'\n"), 0o644))
	pkg = filepath.Join(dir, "package.json")
	assert.NilError(t, os.WriteFile(pkg, []byte(`{"build":{"win":{"requestedExecutionLevel":"asInvoker"}}}`), 0o644))
	return root, yml, pkg, sum
}

func TestPackCheckUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"pack-check"}, exitUsage, "--root is required"},
		{[]string{"pack-check", "--root", "x", "--kind", "msi"}, exitUsage, `--kind "msi" is not one of dir, tar.gz, zip, deb, rpm`},
		{[]string{"pack-check", "--root", "x", "--sha256", "xyz"}, exitUsage, `--sha256 "xyz" is not a hex sha256`},
		{[]string{"pack-check", "--root", "x", "--exe", "bin/peft_engine"}, exitUsage, "must be a file name"},
		{[]string{"pack-check", "--root", "x", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"pack-check", "-h"}, exitPass, "-update-info"},
		{[]string{"help"}, exitPass, "pack-check"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		assert.Equal(t, code, tc.code, "%q: %s", tc.args, stderr)
		assert.Assert(t, is.Contains(stdout+stderr, tc.msg), "%q", tc.args)
		if code == exitUsage {
			assert.Equal(t, stdout, "", "%q: nothing on stdout for a usage error", tc.args)
		}
	}
}

func TestPackCheckJSON(t *testing.T) {
	root, yml, pkg, sum := packTree(t, 0o755)
	code, stdout, stderr := runCLI(t, "pack-check", "--root", root, "--sha256", sum,
		"--artifact-name", "peft-desktop-0.1.0.tar.gz", "--update-info", yml, "--package-json", pkg, "--json")
	assert.Equal(t, code, exitPass, stderr)
	var r PackResult
	assert.NilError(t, json.Unmarshal([]byte(stdout), &r), "stdout must be exactly one JSON document: %s", stdout)
	assert.Equal(t, r.OK, true)
	assert.Equal(t, r.Artifact.Name, "peft-desktop-0.1.0.tar.gz")
	assert.Equal(t, r.Artifact.Kind, pack.KindTarGz)
	assert.Equal(t, r.Artifact.BackendPath, "resources/backend/peft_engine")
	assert.Equal(t, len(r.Artifact.Checks), 5) // resources location mode outside-asar sha256
	assert.Equal(t, len(r.UpdateInfo), 2)
	assert.Assert(t, r.WinConfig != nil && r.WinConfig.OK)
	assert.Assert(t, is.Contains(r.WinConfig.Detail, pkg+": package.json build.win.requestedExecutionLevel is asInvoker"))
	assert.Assert(t, is.Contains(stderr, "pack-check: pass"))

	// The raw document has the documented top-level keys.
	var raw map[string]json.RawMessage
	assert.NilError(t, json.Unmarshal([]byte(stdout), &raw))
	for _, k := range []string{"artifact", "update_info", "win_config", "ok"} {
		_, ok := raw[k]
		assert.Assert(t, ok, "key %s missing", k)
	}
}

func TestPackCheckFails(t *testing.T) {
	root, yml, _, _ := packTree(t, 0o644)
	code, stdout, stderr := runCLI(t, "pack-check", "--root", root, "--update-info", yml, "--json")
	assert.Equal(t, code, exitFail, stderr)
	var r PackResult
	assert.NilError(t, json.Unmarshal([]byte(stdout), &r))
	assert.Equal(t, r.OK, false)
	assert.Equal(t, r.Artifact.Kind, pack.KindDir) // guessed from the root's name
	assert.Equal(t, r.Artifact.Name, "peft-desktop-0.1.0")
	assert.Assert(t, is.Contains(stderr, "check mode failed"))
	assert.Assert(t, is.Contains(stderr, "EACCES"))

	// A broken yml is a failed check of the output, not a usage error.
	assert.NilError(t, os.WriteFile(yml, []byte("files: [x]\n"), 0o644))
	assert.NilError(t, os.Chmod(filepath.Join(root, "resources", "backend", "peft_engine"), 0o755))
	code, stdout, stderr = runCLI(t, "pack-check", "--root", root, "--update-info", yml,
		"--package-json", filepath.Join(root, "missing.json"))
	assert.Equal(t, code, exitFail, stderr)
	assert.Assert(t, is.Contains(stdout, "FAIL update-info  update info "+yml+": line 1: files must be a block list"))
	assert.Assert(t, is.Contains(stdout, "FAIL win-config"))
	assert.Assert(t, is.Contains(stdout, "missing.json"))
	assert.Assert(t, is.Contains(stdout, "ok   mode"))
}
