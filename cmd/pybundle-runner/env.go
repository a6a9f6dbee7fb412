package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/pybundle/pybundle/images"
)

// runEnv is step 1 alone, for CI to fail fast: it finds the pinned Python for the target and
// prints it, and the PyInstaller of the build venv when there is one already. It installs
// nothing. Exit 1 (with install instructions) when no suitable Python is found.
func (a *app) runEnv(ctx context.Context, args []string) error {
	c, err := parseEnv(args, a.hostOS, a.hostArch, a.stderr)
	if err != nil {
		return err
	}
	py, err := a.stageEnv(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "target       %s\n", c.Target)
	fmt.Fprintf(a.stdout, "python       %s %s (%s, via %s)\n", py.Version, py.Executable, py.Machine, strings.Join(py.Argv, " "))
	fmt.Fprintf(a.stdout, "pyinstaller  %s\n", a.venvPyInstaller(ctx, c))
	return nil
}

// venvPyInstaller describes the PyInstaller in the build venv, without installing anything.
func (a *app) venvPyInstaller(ctx context.Context, c envConfig) string {
	installs := fmt.Sprintf("`build` installs %s", images.PipRequirement)
	if c.Venv == "" {
		return "not checked: no venv given (--out or --venv); " + installs
	}
	v := venv{Dir: c.Venv, GOOS: a.hostOS}
	if !v.exists() {
		return fmt.Sprintf("not installed yet: no venv at %s; %s", v.Dir, installs)
	}
	got, err := a.output(ctx, pyinstallerVersionArgs(v)...)
	if err != nil {
		return fmt.Sprintf("not in the venv %s (%v); %s", v.Dir, err, installs)
	}
	if err := checkPyInstaller(got); err != nil {
		return fmt.Sprintf("%s in %s: %v; %s", strings.TrimSpace(got), v.Dir, err, installs)
	}
	return fmt.Sprintf("%s in %s", strings.TrimSpace(got), v.Dir)
}
