package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pybundle/pybundle/pipeline/pack"
)

// PackResult is the JSON document `pack-check --json` prints.
type PackResult struct {
	Artifact pack.Artifact `json:"artifact"`
	// UpdateInfo holds the checks of --update-info; an unreadable or malformed
	// yml is one failed "update-info" check.
	UpdateInfo []pack.Check `json:"update_info,omitempty"`
	// WinConfig is the check of --package-json.
	WinConfig *pack.Check `json:"win_config,omitempty"`
	OK        bool        `json:"ok"`
}

// Err names the first failed check, artifact first.
func (r PackResult) Err() error {
	if err := r.Artifact.Err(); err != nil {
		return err
	}
	for _, c := range r.UpdateInfo {
		if !c.OK {
			return fmt.Errorf("pack-check: check %s failed: %s", c.Name, c.Detail)
		}
	}
	if r.WinConfig != nil && !r.WinConfig.OK {
		return fmt.Errorf("pack-check: check %s failed: %s", r.WinConfig.Name, r.WinConfig.Detail)
	}
	return nil
}

// runPackCheck checks one extracted electron-builder output (Property 6) and,
// optionally, an update-info yml (Property 9) and the app's package.json.
func runPackCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("pack-check", stderr)
	var root, name, exe, sha, kind, artifactName, updateInfo, packageJSON string
	var asJSON bool
	fs.StringVar(&root, "root", "", "the tree extracted from one electron-builder output (required)")
	fs.StringVar(&name, "name", "peft_engine", "the backend's base name (the onedir folder's name)")
	fs.StringVar(&exe, "exe", "", "the backend executable's file name, e.g. peft_engine.exe (default: --name)")
	fs.StringVar(&sha, "sha256", "", "hex sha256 the verify step recorded for the backend: the packaged one must be that file")
	fs.StringVar(&kind, "kind", "", "how the tree was obtained: "+strings.Join(pack.Kinds, ", ")+" (default: guessed from --artifact-name)")
	fs.StringVar(&artifactName, "artifact-name", "", "the output's name, e.g. peft-desktop_0.1.0_amd64.deb (default: the base name of --root)")
	fs.StringVar(&updateInfo, "update-info", "", "a latest*.yml to check against the files next to it")
	fs.StringVar(&packageJSON, "package-json", "", "the app's package.json: build.win.requestedExecutionLevel must be asInvoker")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON document on stdout")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	switch {
	case root == "":
		return usageError(fs, stderr, "--root is required")
	case name == "" || strings.ContainsAny(name, `/\`):
		return usageError(fs, stderr, fmt.Sprintf("--name %q must be a file name", name))
	case strings.ContainsAny(exe, `/\`):
		return usageError(fs, stderr, fmt.Sprintf("--exe %q must be a file name", exe))
	case sha != "" && !pack.IsHexSHA256(sha):
		return usageError(fs, stderr, fmt.Sprintf("--sha256 %q is not a hex sha256", sha))
	case kind != "" && !slices.Contains(pack.Kinds, kind):
		return usageError(fs, stderr, fmt.Sprintf("--kind %q is not one of %s", kind, strings.Join(pack.Kinds, ", ")))
	}
	if artifactName == "" {
		artifactName = filepath.Base(filepath.Clean(root))
	}
	if kind == "" {
		kind = pack.KindOf(artifactName)
	}

	var r PackResult
	r.Artifact = pack.CheckBackend(root, name, exe, sha)
	r.Artifact.Name, r.Artifact.Kind = artifactName, kind
	if updateInfo != "" {
		checks, err := pack.CheckUpdateInfo(updateInfo)
		if err != nil {
			checks = []pack.Check{{Name: pack.CheckUpdateInfoDoc, Detail: err.Error()}}
		}
		r.UpdateInfo = checks
	}
	if packageJSON != "" {
		var c pack.Check
		if data, err := os.ReadFile(packageJSON); err != nil {
			c = pack.Check{Name: pack.CheckWinConfigName, Detail: err.Error()}
		} else {
			c = pack.CheckWinConfig(data)
			c.Detail = packageJSON + ": " + c.Detail
		}
		r.WinConfig = &c
	}
	r.OK = r.Artifact.OK
	for _, c := range r.UpdateInfo {
		r.OK = r.OK && c.OK
	}
	if r.WinConfig != nil {
		r.OK = r.OK && r.WinConfig.OK
	}

	human := stdout
	if asJSON {
		human = stderr
	}
	fmt.Fprintf(human, "%s (%s): %s\n", r.Artifact.Name, r.Artifact.Kind, r.Artifact.Root)
	all := slices.Concat(r.Artifact.Checks, r.UpdateInfo)
	if r.WinConfig != nil {
		all = append(all, *r.WinConfig)
	}
	for _, c := range all {
		fmt.Fprintf(human, "%-4s %-12s %s\n", okWord(c.OK), c.Name, c.Detail)
	}
	if asJSON {
		if code := printJSON(stdout, stderr, r); code != exitPass {
			return code
		}
	}
	return finish(stderr, "pack-check", nil, r.Err())
}
