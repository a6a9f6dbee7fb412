package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/pybundle/pybundle/pipeline/runson"
)

// A real `iptables-legacy -t nat -S` listing taken while the engine ran two containers, plus a
// rule of somebody else's network that must survive `down`.
const natListing = `-P PREROUTING ACCEPT
-P POSTROUTING ACCEPT
-N CNI-1e015f8279268a48b9f8c6f5
-N CNI-30e36cbb9923ce8a8f672e1d
-N CNI-other0000000000000000000
-A POSTROUTING -s 10.213.0.18/32 -m comment --comment "name: \"pybundle\" id: \"hn1dy72pab6zicrzo30g1rser\"" -j CNI-1e015f8279268a48b9f8c6f5
-A POSTROUTING -s 10.213.0.19/32 -m comment --comment "name: \"pybundle\" id: \"pqkl0cy0c6m437hcykfhz6lb7\"" -j CNI-30e36cbb9923ce8a8f672e1d
-A POSTROUTING -s 10.88.0.2/32 -m comment --comment "name: \"podman\" id: \"abc\"" -j CNI-other0000000000000000000
-A CNI-1e015f8279268a48b9f8c6f5 -d 10.213.0.0/16 -m comment --comment "name: \"pybundle\" id: \"hn1dy72pab6zicrzo30g1rser\"" -j ACCEPT
-A CNI-1e015f8279268a48b9f8c6f5 ! -d 224.0.0.0/4 -m comment --comment "name: \"pybundle\" id: \"hn1dy72pab6zicrzo30g1rser\"" -j MASQUERADE
`

func TestNatCleanupRemovesOnlyOurNetwork(t *testing.T) {
	cmds := natCleanup(natListing, "pybundle")
	var joined []string
	for _, c := range cmds {
		joined = append(joined, strings.Join(c, " "))
	}
	assert.DeepEqual(t, joined, []string{
		`-t nat -D POSTROUTING -s 10.213.0.18/32 -m comment --comment name: "pybundle" id: "hn1dy72pab6zicrzo30g1rser" -j CNI-1e015f8279268a48b9f8c6f5`,
		`-t nat -D POSTROUTING -s 10.213.0.19/32 -m comment --comment name: "pybundle" id: "pqkl0cy0c6m437hcykfhz6lb7" -j CNI-30e36cbb9923ce8a8f672e1d`,
		`-t nat -F CNI-1e015f8279268a48b9f8c6f5`,
		`-t nat -X CNI-1e015f8279268a48b9f8c6f5`,
		`-t nat -F CNI-30e36cbb9923ce8a8f672e1d`,
		`-t nat -X CNI-30e36cbb9923ce8a8f672e1d`,
	})
	// The comment must reach iptables as ONE argument, or -D matches nothing.
	assert.Check(t, is.Equal(cmds[0][9], `name: "pybundle" id: "hn1dy72pab6zicrzo30g1rser"`))
}

func TestNatCleanupNothingToDo(t *testing.T) {
	assert.Check(t, is.Len(natCleanup("-P POSTROUTING ACCEPT\n", "pybundle"), 0))
	assert.Check(t, is.Len(natCleanup(natListing, "someone-else"), 0))
}

const filterListing = `-P FORWARD ACCEPT
-N CNI-ADMIN
-N CNI-FORWARD
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
-A CNI-FORWARD -s 10.213.0.18/32 -j ACCEPT
`

func TestFilterCleanup(t *testing.T) {
	t.Run("chains created by us are removed", func(t *testing.T) {
		var joined []string
		for _, c := range filterCleanup(filterListing, nil) {
			joined = append(joined, strings.Join(c, " "))
		}
		assert.DeepEqual(t, joined, []string{
			`-D FORWARD -m comment --comment CNI firewall plugin rules -j CNI-FORWARD`,
			`-F CNI-FORWARD`, `-X CNI-FORWARD`, `-F CNI-ADMIN`, `-X CNI-ADMIN`,
		})
	})
	t.Run("chains that existed before up are kept", func(t *testing.T) {
		assert.Check(t, is.Len(filterCleanup(filterListing, []string{"CNI-ADMIN", "CNI-FORWARD"}), 0))
	})
}

func TestSplitRule(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`-A X -j Y`, []string{"-A", "X", "-j", "Y"}},
		{`-A X -m comment --comment "a b" -j Y`, []string{"-A", "X", "-m", "comment", "--comment", "a b", "-j", "Y"}},
		{`-A X --comment "name: \"n\" id: \"i\""`, []string{"-A", "X", "--comment", `name: "n" id: "i"`}},
		{`  -A   X  `, []string{"-A", "X"}},
		{`-A X --comment ""`, []string{"-A", "X", "--comment", ""}},
	} {
		assert.Check(t, is.DeepEqual(splitRule(tc.line), tc.want), tc.line)
	}
}

func TestChainNames(t *testing.T) {
	assert.DeepEqual(t, chainNames(filterListing), []string{"CNI-ADMIN", "CNI-FORWARD"})
}

func TestEngineJSONMirrorsDockerHubToLocalRegistry(t *testing.T) {
	s := DefaultSettings()
	s.RegistryAddr = "127.0.0.1:5999"
	b, err := engineJSON(s)
	assert.NilError(t, err)
	var cfg struct {
		Registries map[string]struct {
			Mirrors  []string
			HTTP     bool `json:"http"`
			Insecure bool
		}
	}
	assert.NilError(t, json.Unmarshal(b, &cfg))
	assert.DeepEqual(t, cfg.Registries["docker.io"].Mirrors, []string{"127.0.0.1:5999"})
	assert.Check(t, cfg.Registries["127.0.0.1:5999"].HTTP)
	assert.Check(t, cfg.Registries["127.0.0.1:5999"].Insecure)
}

func TestEngineEnv(t *testing.T) {
	s := DefaultSettings()
	s.GoProxy = "off"
	env := engineEnv(s, "sha256:abc")
	assert.Check(t, is.Contains(env, "DAGGER_GO_SDK_MANIFEST_DIGEST=sha256:abc"))
	assert.Check(t, is.Contains(env, "_DAGGER_ENGINE_SYSTEMENV_GOPROXY=off"))
	for _, e := range engineEnv(s, "") {
		assert.Check(t, !strings.HasPrefix(e, "DAGGER_GO_SDK_MANIFEST_DIGEST="), "no digest yet → no variable")
	}
}

// The start script is real bash: check it parses, and that it pivots into our rootfs with our
// network settings.
func TestStartScriptIsValidBash(t *testing.T) {
	s := DefaultSettings()
	s.Root = "/tmp/cache with space"
	script := startScript(s, engineEnv(s, "sha256:0123"))
	p := filepath.Join(t.TempDir(), "start.sh")
	assert.NilError(t, os.WriteFile(p, []byte(script), 0o755))
	out, err := exec.Command("bash", "-n", p).CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Check(t, is.Contains(script, "pivot_root . .oldroot"))
	assert.Check(t, is.Contains(script, `"/tmp/cache with space/dagger/v0.19.10/engine-rootfs"`))
	assert.Check(t, is.Contains(script, "--network-name pybundle --network-cidr 10.213.0.0/16"))
	assert.Check(t, is.Contains(script, "DAGGER_GO_SDK_MANIFEST_DIGEST=sha256:0123"))
}

func TestLayoutIsVersioned(t *testing.T) {
	a := Layout{Root: "/c", Version: "v0.19.10"}
	b := Layout{Root: "/c", Version: "v0.19.11"}
	assert.Check(t, a.Bin() != b.Bin())
	assert.Check(t, a.EngineRootfs() != b.EngineRootfs())
	assert.Equal(t, a.RunnerHost(), "unix:///c/dagger/v0.19.10/engine-rootfs/run/dagger/engine.sock")
	assert.Equal(t, a.BaseRootfs("trixie", "arm64"), "/c/rootfs/debian-trixie-arm64")
	// Shared, version-independent content stays shared.
	assert.Equal(t, a.EngineBase(), b.EngineBase())
	assert.Equal(t, a.Registry(), b.Registry())
}

func TestRefusedModuleNamesTheModule(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"go: github.com/vito/tuist@v0.1.0: reading https://goproxy.invalid/github.com/vito/tuist/@v/v0.1.0.mod: 404 Not Found", "github.com/vito/tuist@v0.1.0"},
		{"go: github.com/dagger/dagger@v0.20.0: reading https://goproxy.invalid/...: 410 Gone", "github.com/dagger/dagger@v0.20.0"},
		{"go: github.com/a/b@v1.2.3: verifying module: checksum mismatch", "github.com/a/b@v1.2.3"},
		{"everything fine", ""},
	} {
		assert.Check(t, is.Equal(refusedModule(tc.out), tc.want), tc.out)
	}
}

func fakeHost(uid int, free uint64, missing ...string) Host {
	return Host{
		UID: func() int { return uid },
		LookPath: func(name string) (string, error) {
			for _, m := range missing {
				if m == name {
					return "", exec.ErrNotFound
				}
			}
			return "/usr/bin/" + name, nil
		},
		FreeDisk: func(string) (uint64, error) { return free, nil },
	}
}

func TestPreflight(t *testing.T) {
	assert.NilError(t, preflight(fakeHost(0, 100<<30), "/tmp", true))

	err := preflight(fakeHost(1000, 100<<30), "/tmp", true)
	assert.ErrorContains(t, err, "must run as root")

	err = preflight(fakeHost(0, 5<<30), "/tmp", true)
	assert.ErrorContains(t, err, "disk short: /tmp has 5.0 GiB free, setup needs 12.0 GiB")
	assert.NilError(t, preflight(fakeHost(0, 5<<30), "/tmp", false), "a warm setup needs little disk")

	err = preflight(fakeHost(0, 100<<30, "go"), "/tmp", true)
	assert.ErrorContains(t, err, "missing tools: go")

	// Every problem at once, not one per run.
	err = preflight(fakeHost(1000, 1<<30, "go"), "/tmp", true)
	assert.Check(t, is.Len(strings.Split(err.Error(), "\n"), 3))
}

func TestMissingPackagesAreInstallable(t *testing.T) {
	pkgs, unprovided := missingPackages(fakeHost(0, 0, "debootstrap", "qemu-aarch64-static", "update-binfmts", "go"))
	assert.DeepEqual(t, pkgs, []string{"binfmt-support", "debootstrap", "qemu-user-static"})
	assert.DeepEqual(t, unprovided, []string{"go"})
}

func TestIndexDigest(t *testing.T) {
	d, err := indexDigest([]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:aa","mediaType":"x"}]}`))
	assert.NilError(t, err)
	assert.Equal(t, d, "sha256:aa")
	_, err = indexDigest([]byte(`{"manifests":[]}`))
	assert.ErrorContains(t, err, "exactly one")
}

func TestStateRoundTripAndMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run", "state.json")
	st, err := loadState(p)
	assert.NilError(t, err)
	assert.DeepEqual(t, st, State{})
	want := State{EnginePID: 42, RegistryPID: 43, IPForwardBefore: "0", FilterChains: []string{"X"}, NetworkName: "pybundle", Bridge: "pybundle0"}
	assert.NilError(t, saveState(p, want))
	got, err := loadState(p)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, want)
	assert.NilError(t, os.WriteFile(p, []byte("{"), 0o644))
	_, err = loadState(p)
	assert.Check(t, err != nil && strings.Contains(err.Error(), p))
}

// A pid that runs something else (recycled) is never ours to kill.
func TestAliveChecksTheCommandLine(t *testing.T) {
	assert.Check(t, alive(os.Getpid(), filepath.Base(os.Args[0])))
	assert.Check(t, !alive(os.Getpid(), "dagger-engine"))
	assert.Check(t, !alive(0, ""))
}

func TestTailLines(t *testing.T) {
	assert.Equal(t, tailLines("a\nb\nc\n", 2), "    b\n    c")
	assert.Equal(t, tailLines("a", 5), "    a")
}

func TestExistingParent(t *testing.T) {
	d := t.TempDir()
	assert.Equal(t, existingParent(filepath.Join(d, "x", "y")), d)
	assert.Equal(t, existingParent(d), d)
}

// Every runtime of the module's default matrix is served offline under its public name, for
// linux/amd64 from a minbase debootstrap of its suite: a default build pulls nothing the
// registry lacks.
func TestMirroredImagesServeTheRuntimeMatrix(t *testing.T) {
	s := DefaultSettings()
	s.Root = "/c"
	refs := map[string]MirroredImage{}
	for _, img := range mirroredImages(s, false) {
		refs[img.Ref] = img
	}
	for _, image := range runson.Default {
		img, ok := refs["library/"+image]
		assert.Assert(t, ok, "%s is not published by up", image)
		suite := strings.TrimSuffix(strings.TrimPrefix(image, "debian:"), "-slim")
		assert.DeepEqual(t, img.Rootfs, map[string]string{"linux/amd64": s.BaseRootfs(suite, "amd64")})
	}
	assert.Check(t, is.Contains(refs, "library/debian:trixie-slim"), "the base stays")
}
