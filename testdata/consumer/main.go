// Package main is a small module that uses pybundle as a dependency, the way an Electron app's
// own CI module would: one function builds the backend and packages the app around it. The
// tests call it (`dagger call -m testdata/consumer release …`) to prove pybundle works as a
// dependency, not only from the command line.
package main

import (
	"context"

	"dagger/consumer/internal/dagger"
)

// Consumer releases an Electron app whose backend pybundle builds.
type Consumer struct{}

// Release builds the backend for linux/amd64 with pybundle, packages the app around it and
// returns the installers with report.json.
func (m *Consumer) Release(
	ctx context.Context,
	// The app's Python backend.
	// +defaultPath="/testdata/backend"
	backend *dagger.Directory,
	// The Electron app.
	// +defaultPath="/testdata/app"
	// +ignore=["**/node_modules", "dist", "backend/dist"]
	app *dagger.Directory,
	// The Electron distribution to package (pybundle's stand-in offline).
	// +defaultPath="/testdata/electron-stand-in"
	electron *dagger.Directory,
) (*dagger.Directory, error) {
	return dag.Pybundle().
		Backend(backend).
		Package(app, dagger.PybundleBackendPackageOpts{Targets: "dir", ElectronDist: electron}).
		Sync(ctx)
}

// Report is pybundle's report of the backend build alone.
func (m *Consumer) Report(
	ctx context.Context,
	// The app's Python backend.
	// +defaultPath="/testdata/backend"
	backend *dagger.Directory,
) (string, error) {
	return dag.Pybundle().Backend(backend).Report(ctx)
}
