package main

import (
	"os"
	"path/filepath"
)

// DefaultVersion is the one Dagger release whose whole module graph the Go module proxy serves
// to the ordinary `go` client (every v0.20.x tried lacks dependencies there). dagger.json's
// engineVersion must match it.
const DefaultVersion = "v0.19.10"

// DefaultCacheRoot keeps everything expensive (built binaries, Debian root filesystems, the
// engine's state with its layer cache, the registry's blobs) outside the work tree, so a fresh
// clone on the same machine reuses it. PYBUNDLE_CACHE overrides it.
func DefaultCacheRoot() string {
	if v := os.Getenv("PYBUNDLE_CACHE"); v != "" {
		return v
	}
	return "/var/cache/pybundle"
}

// Layout names every path `up` writes. Everything versioned lives under a folder named after
// the version, so switching versions never mixes binaries.
type Layout struct {
	Root    string // cache root
	Version string // dagger tag, e.g. v0.19.10
}

func (l Layout) versionDir() string { return filepath.Join(l.Root, "dagger", l.Version) }

// Src is the writable copy of github.com/dagger/dagger@Version plus its two nested modules.
func (l Layout) Src() string { return filepath.Join(l.versionDir(), "src") }

// Bin holds dagger, engine, init, dialstdio, dnsname and codegen.
func (l Layout) Bin() string { return filepath.Join(l.versionDir(), "bin") }

// BinPath is one built binary.
func (l Layout) BinPath(name string) string { return filepath.Join(l.Bin(), name) }

// CLI is the dagger CLI users and tests call.
func (l Layout) CLI() string { return l.BinPath("dagger") }

// BaseRootfs is a plain `debootstrap --variant=minbase` of suite/arch: the content behind the
// public image names the registry mirror serves (debian:trixie-slim and friends).
func (l Layout) BaseRootfs(suite, arch string) string {
	return filepath.Join(l.Root, "rootfs", "debian-"+suite+"-"+arch)
}

// EngineBase is the Debian root filesystem with the engine's runtime packages, before any
// Dagger binary is copied in (shared across versions).
func (l Layout) EngineBase() string { return filepath.Join(l.Root, "rootfs", "engine-bookworm-base") }

// EngineRootfs plays the role of the engine container image for this version. Its
// /var/lib/dagger is the engine state, including the layer cache, so it persists across runs.
func (l Layout) EngineRootfs() string { return filepath.Join(l.versionDir(), "engine-rootfs") }

// GoSDKRootfs replaces the golang-alpine based image the Go SDK runtime normally uses.
func (l Layout) GoSDKRootfs() string { return filepath.Join(l.versionDir(), "gosdk-rootfs") }

// PythonRootfs is the stand-in behind python:3.13-slim (see PythonStandInRef).
func (l Layout) PythonRootfs() string {
	return filepath.Join(l.Root, "rootfs", "python-stand-in-trixie-amd64")
}

// Socket is the engine's unix socket as seen from the host.
func (l Layout) Socket() string {
	return filepath.Join(l.EngineRootfs(), "run", "dagger", "engine.sock")
}

// RunnerHost is the value for _EXPERIMENTAL_DAGGER_RUNNER_HOST.
func (l Layout) RunnerHost() string { return "unix://" + l.Socket() }

// Registry holds the unpacked docker-registry binary, its config and its blobs.
func (l Layout) Registry() string { return filepath.Join(l.Root, "registry") }

// Run holds pids, state and logs of the processes `up` started.
func (l Layout) Run() string { return filepath.Join(l.Root, "run") }

// Logs holds one log per step.
func (l Layout) Logs() string { return filepath.Join(l.Root, "logs") }

// StateFile records what `up` started and changed, so `down` undoes exactly that.
func (l Layout) StateFile() string { return filepath.Join(l.Run(), "state.json") }

// EngineLog is the engine's stdout+stderr.
func (l Layout) EngineLog() string { return filepath.Join(l.Logs(), "engine.log") }
