// Package main is pybundle: it turns a Python (FastAPI) backend into a standalone executable
// per target, proves it starts in a clean container without Python, times its start to a
// healthy /api/health, and hands it to electron-builder.
package main

import (
	"github.com/pybundle/pybundle/internal/dagger"
)

// Pybundle is the module: one value holding the pinned base images every stage builds on.
type Pybundle struct {
	// Base image of the runtime (no Python) and builder containers.
	// +private
	BaseImage string
}

// New configures pybundle.
func New(
	// Debian base image for the builder and runtime containers; offline engines serve it from
	// their registry mirror.
	// +optional
	// +default="debian:trixie-slim"
	baseImage string,
) *Pybundle {
	return &Pybundle{BaseImage: baseImage}
}

// Runtime returns the clean runtime container artifacts are verified in: the base image with
// no Python installed.
func (m *Pybundle) Runtime(
	// Target platform, e.g. linux/amd64 or linux/arm64 (emulated when it differs from the engine's).
	// +optional
	// +default="linux/amd64"
	platform dagger.Platform,
) *dagger.Container {
	return dag.Container(dagger.ContainerOpts{Platform: platform}).From(m.BaseImage)
}
