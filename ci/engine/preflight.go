package main

import (
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"syscall"
)

// Host is what preflight needs to know about the machine; tests replace its functions.
type Host struct {
	UID      func() int
	LookPath func(string) (string, error)
	FreeDisk func(path string) (uint64, error) // bytes available to root
}

// RealHost inspects this machine.
func RealHost() Host {
	return Host{
		UID:      syscall.Getuid,
		LookPath: exec.LookPath,
		FreeDisk: func(path string) (uint64, error) {
			var st syscall.Statfs_t
			if err := syscall.Statfs(path, &st); err != nil {
				return 0, err
			}
			return st.Bavail * uint64(st.Bsize), nil
		},
	}
}

// hostTools are the host commands `up` runs. The packages that provide the missing ones are
// installed by `up` itself (apt-get), so a fresh machine needs nothing by hand.
var hostTools = map[string]string{
	"debootstrap":         "debootstrap",
	"unshare":             "util-linux",
	"ip":                  "iproute2",
	"curl":                "curl",
	"dpkg-deb":            "dpkg",
	"qemu-aarch64-static": "qemu-user-static",
	"update-binfmts":      "binfmt-support",
	"ssh":                 "openssh-client", // runners-up: keys, known_hosts, self-checks
	"ssh-keygen":          "openssh-client",
	"scp":                 "openssh-client",
	"tc":                  "iproute2", // runners-up: the slow port's shaping
	"iptables":            "iptables", // the dispatch tests reset connections inside the runner netns
	"go":                  "",
}

// missingPackages lists the Debian packages that provide the host tools not on PATH, sorted,
// and the tools no package of ours provides (go).
func missingPackages(h Host) (pkgs []string, unprovided []string) {
	seen := map[string]bool{}
	for tool, pkg := range hostTools {
		if _, err := h.LookPath(tool); err == nil {
			continue
		}
		if pkg == "" {
			unprovided = append(unprovided, tool)
			continue
		}
		if !seen[pkg] {
			seen[pkg] = true
			pkgs = append(pkgs, pkg)
		}
	}
	sort.Strings(pkgs)
	sort.Strings(unprovided)
	return pkgs, unprovided
}

// Needed disk: a cold setup takes ~7 GB of root filesystems and images plus ~3.4 GB of Go
// caches (ENVIRONMENT.md); a warm one writes little.
const (
	coldDiskBytes = 12 << 30
	warmDiskBytes = 2 << 30
)

// preflight fails early, with one clear message, on what would otherwise fail half an hour in.
func preflight(h Host, cacheRoot string, cold bool) error {
	var errs []error
	if h.UID() != 0 {
		errs = append(errs, errors.New("must run as root: the engine needs mount namespaces, pivot_root, a bridge and NAT rules"))
	}
	if _, unprovided := missingPackages(h); len(unprovided) > 0 {
		errs = append(errs, fmt.Errorf("missing tools: %s (install Go from go.dev/dl into /usr/local/go)", strings.Join(unprovided, ", ")))
	}
	need := uint64(warmDiskBytes)
	if cold {
		need = coldDiskBytes
	}
	if free, err := h.FreeDisk(existingParent(cacheRoot)); err != nil {
		errs = append(errs, fmt.Errorf("disk space of %s: %w", cacheRoot, err))
	} else if free < need {
		errs = append(errs, fmt.Errorf("disk short: %s has %.1f GiB free, setup needs %.1f GiB", cacheRoot, float64(free)/(1<<30), float64(need)/(1<<30)))
	}
	return errors.Join(errs...)
}

// existingParent walks up to the closest existing directory, for statfs before mkdir.
func existingParent(p string) string {
	for p != "/" && p != "." && p != "" {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil {
			return p
		}
		i := strings.LastIndex(strings.TrimRight(p, "/"), "/")
		if i <= 0 {
			return "/"
		}
		p = p[:i]
	}
	return "/"
}
