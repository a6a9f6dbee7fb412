package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pybundle/pybundle/pipeline/pack"
	"github.com/pybundle/pybundle/pipeline/target"
)

// packageConfig is a parsed `package` command line; every path is absolute.
type packageConfig struct {
	Target       target.Target
	App, Dist    string
	Targets      []string // electron-builder target names, canonical spelling
	ElectronDist string   // "" = electron-builder downloads Electron
	Output       string   // electron-builder's output folder; "" = the app's build.directories.output
	Result       string   // where to write the Result JSON; "" = nowhere
	StartCheck   bool
	NpmCI        bool
}

const packageUsageHeader = `usage: pybundle-runner package --app DIR --dist DIR [flags]

Packages the Electron app in --app around the verified backend from --dist with
electron-builder, for this machine's OS (NSIS on Windows, dmg/zip on macOS), and checks every
output as the module's Linux package stage does: the backend at resources/backend/, outside
app.asar, mode 0755, the sha256 report.json vouches for; latest*.yml digests; Windows
asInvoker. Then it starts the unpacked app with PEFT_SELFTEST=1 and requires a healthy backend
and no backend process left after quit. report.json (the build's, with a packages section) and
summary.txt are written next to electron-builder's outputs.

Signing is electron-builder's: set CSC_LINK (base64 .p12/.pfx or a path) and CSC_KEY_PASSWORD
(WIN_CSC_LINK / WIN_CSC_KEY_PASSWORD on Windows) and it signs the app, the backend and the
installer; on macOS it signs with the hardened runtime and notarizes when APPLE_ID,
APPLE_APP_SPECIFIC_PASSWORD and APPLE_TEAM_ID are set. Without CSC_LINK/CSC_NAME the runner
sets CSC_IDENTITY_AUTO_DISCOVERY=false, so development builds are unsigned instead of signed
with whatever identity the keychain holds. A backend signed during packaging no longer has the
verified sha256: it is then accepted when its signature verifies (codesign --verify --strict,
Authenticode Valid) and the copy handed to electron-builder had the verified sha256.

electron-builder comes from the app's node_modules (a devDependency, installed with npm ci
when package-lock.json is there and node_modules is not) or from PATH, never from npx.

flags:
`

// parsePackage parses the package command line.
func parsePackage(args []string, hostOS, hostArch string, stderr io.Writer) (packageConfig, error) {
	var c packageConfig
	fs := newFlagSet("package", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), packageUsageHeader)
		fs.PrintDefaults()
	}
	var platform, app, dist, targets, electronDist, output string
	var noNpmCI bool
	fs.StringVar(&platform, "platform", "auto", "target os/arch; auto = this machine. Only this machine's OS can be packaged here")
	fs.StringVar(&app, "app", "", "the Electron app: package.json with an electron-builder \"build\" section whose extraResources take the backend from backend/dist/<name> (required)")
	fs.StringVar(&dist, "dist", "", "the output of build: the module's dist/ or the runner's --out folder, with report.json (required)")
	fs.StringVar(&targets, "targets", "", "electron-builder targets, comma-separated (default: darwin "+strings.Join(pack.DefaultTargets["darwin"], ",")+
		"; windows "+strings.Join(pack.DefaultTargets["windows"], ",")+"; linux "+strings.Join(pack.DefaultTargets["linux"], ",")+")")
	fs.StringVar(&electronDist, "electron-dist", "", "Electron distribution folder to package (electron-builder's electronDist); default: electron-builder downloads Electron")
	fs.BoolVar(&c.StartCheck, "start-check", true, "start the unpacked app with PEFT_SELFTEST=1 (xvfb-run on Linux without DISPLAY) and require a healthy backend and none left after quit")
	fs.StringVar(&output, "output", "", "electron-builder's output folder (default: the app's build.directories.output, or <app>/dist); cleared first")
	fs.StringVar(&c.Result, "result", "", "write the outcome as JSON ({\"ok\": …, \"error\": {stage, target, file, reason, tail}}) to this file")
	fs.BoolVar(&noNpmCI, "no-npm-ci", false, "do not run npm ci in the app even when package-lock.json is there and node_modules is not")
	if err := parseFlags(fs, args, false); err != nil {
		return c, err
	}
	c.NpmCI = !noNpmCI
	if app == "" || dist == "" {
		return c, usageErr("package: --app and --dist are required")
	}
	var err error
	if c.Target, err = resolvePlatform(platform, hostOS, hostArch); err != nil {
		return c, err
	}
	if c.Target.ElectronBuilderPlatform() == "" || c.Target.ElectronBuilderArch() == "" {
		return c, usageErr("--platform %s: electron-builder cannot package it", c.Target)
	}
	if c.App, err = absDir("--app", app); err != nil {
		return c, err
	}
	if c.Dist, err = absDir("--dist", dist); err != nil {
		return c, err
	}
	if electronDist != "" {
		if c.ElectronDist, err = absDir("--electron-dist", electronDist); err != nil {
			return c, err
		}
	}
	if output != "" {
		if c.Output, err = filepath.Abs(output); err != nil {
			return c, usageErr("--output: %v", err)
		}
	}
	if c.Result != "" {
		if c.Result, err = filepath.Abs(c.Result); err != nil {
			return c, usageErr("--result: %v", err)
		}
	}
	if c.Targets, err = pack.ParseTargets(targets, c.Target.OS); err != nil {
		return c, usageErr("--targets: %v", err)
	}
	return c, nil
}

func validComponent(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}

// appConfig is what `package` reads from the app's package.json.
type appConfig struct {
	Name        string `json:"name"`
	ProductName string `json:"productName"`
	Build       *struct {
		ProductName    string `json:"productName"`
		ExecutableName string `json:"executableName"`
		Directories    struct {
			Output string `json:"output"`
		} `json:"directories"`
		Linux struct {
			ExecutableName string `json:"executableName"`
		} `json:"linux"`
		Win struct {
			ExecutableName string `json:"executableName"`
		} `json:"win"`
	} `json:"build"`
}

// parseAppConfig reads package.json; an error is worded for the user.
func parseAppConfig(b []byte) (appConfig, error) {
	var c appConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("not valid JSON: %v", err)
	}
	return c, nil
}

// product is the app's product name as electron-builder takes it.
func (c appConfig) product() string {
	if c.Build != nil && c.Build.ProductName != "" {
		return c.Build.ProductName
	}
	if c.ProductName != "" {
		return c.ProductName
	}
	return c.Name
}

// outputDir is electron-builder's output folder: build.directories.output (relative to the
// app) or <app>/dist. electron-builder.yml and other config files are not read: the runner
// passes the folder it resolved with -c.directories.output, so it always knows where to look.
func (c appConfig) outputDir(appDir string) (string, error) {
	out := "dist"
	if c.Build != nil && c.Build.Directories.Output != "" {
		out = c.Build.Directories.Output
	}
	if strings.Contains(out, "${") {
		return "", fmt.Errorf("build.directories.output %q uses a macro: pybundle-runner needs a plain folder to clear and check", out)
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(appDir, filepath.FromSlash(out))
	}
	return filepath.Clean(out), nil
}

// executableCandidates are the names the unpacked app's executable may have on goos, most
// specific first (electron-builder: <os>.executableName, executableName, then the package
// name on Linux or the product name on Windows and macOS).
func (c appConfig) executableCandidates(goos string) []string {
	var names []string
	add := func(n string) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if c.Build != nil {
		switch goos {
		case "linux":
			add(c.Build.Linux.ExecutableName)
		case "windows":
			add(c.Build.Win.ExecutableName)
		}
		if goos != "darwin" {
			add(c.Build.ExecutableName)
		}
	}
	if goos == "linux" {
		add(strings.ToLower(c.Name))
		add(c.product())
	} else {
		add(c.product())
		add(c.Name)
	}
	if goos == "windows" {
		for i, n := range names {
			names[i] = n + ".exe"
		}
	}
	return names
}
