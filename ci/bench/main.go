// Command bench measures pybundle side by side in ONE run on one machine and prints each figure
// with its ratio and goal, as markdown (docs/BENCHMARKS.md holds recorded results):
//
//	go run ./ci/bench [-runs 10] [-arm64] [-source testdata/backend] [-chart docs/startup.svg]
//	go run ./ci/bench -source testdata/corpus/torch-ml -build=false -onefile=false  # the heavy backend's start-up
//
// It drives the real module through `dagger call`, like a user: start-up (bundled onedir and
// onefile, with pybundle's static bootloader and with PyInstaller's stock one, vs the same
// backend from source with the builder's Python; wall time and the CPU time used until healthy,
// which a busy machine distorts much less; -chart writes their distributions as an SVG), build
// time (cold, warm, one-file change incremental and from scratch, each against a clean bare
// PyInstaller run of the same spec in the same container),
// linux/amd64+arm64 together vs alone (-arm64: ~45 min under QEMU), and sizes (slim vs
// PyInstaller's defaults). Speed is measured here, never asserted by a timed test.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/pybundle/pybundle/ci/bench/chart"
	"github.com/pybundle/pybundle/images"
	"github.com/pybundle/pybundle/pipeline/health"
	"github.com/pybundle/pybundle/pipeline/plan"
	srctree "github.com/pybundle/pybundle/pipeline/source"
	"github.com/pybundle/pybundle/pipeline/verify"
)

var (
	runs    = flag.Int("runs", 10, "start-ups per variant")
	arm64   = flag.Bool("arm64", false, "also measure linux/amd64+linux/arm64 together vs alone (slow: QEMU)")
	source  = flag.String("source", "testdata/backend", "backend to measure")
	chartTo = flag.String("chart", "", "write the start-up distributions as an SVG chart to this file (e.g. docs/startup.svg)")
	startup = flag.Bool("startup", true, "measure start-up (section 1); -startup=false -sizes=false measures build time alone")
	sizes   = flag.Bool("sizes", true, "measure sizes (section 4)")
	build   = flag.Bool("build", true, "measure build time (sections 2 and 2b); -build=false -sizes=false measures start-up alone")
	onefile = flag.Bool("onefile", true, "measure onefile bundles too (-onefile=false for heavy backends: a onefile extracts its whole bundle at every start)")
	tmp     string
)

func main() {
	flag.Parse()
	var err error
	tmp, err = os.MkdirTemp("", "pybundle-bench-")
	check(err)
	defer os.RemoveAll(tmp)
	token := fmt.Sprint(time.Now().UnixNano()) // busts every cache this run relies on being cold

	fmt.Printf("# pybundle benchmark\n\n%s\n\n", machine())
	note := machineShort() // the chart's, as the run starts

	// 1. Start-up: the default (static) bootloader and PyInstaller's stock one, onedir and onefile.
	onedir := filepath.Join(tmp, "onedir")
	onefileDir := filepath.Join(tmp, "onefile")
	stockDir := filepath.Join(tmp, "stock-onedir")
	stockFile := filepath.Join(tmp, "stock-onefile")
	if *startup || *sizes {
		dagger("compile", "--source", *source, "export", "--path", onedir)
		dagger("compile", "--source", *source, "--option", "bootloader=stock", "export", "--path", stockDir)
		if *onefile {
			dagger("compile", "--source", *source, "--mode", "onefile", "export", "--path", onefileDir)
			dagger("compile", "--source", *source, "--mode", "onefile", "--option", "bootloader=stock", "export", "--path", stockFile)
		}
	}
	if *startup {
		// Interleaved rounds, so load drift on a shared machine spreads over all variants alike; the
		// order within a round turns every other round, so no variant always runs first.
		const rounds = 5
		per := max(1, *runs/rounds)
		variants := []struct {
			name string
			args []string
			st   *stats
		}{
			{"from source (builder's Python)", []string{"health-from-source", "--source", *source}, new(stats)},
			{"bundled onedir (static bootloader, default)", []string{"health", "--dist", onedir, "--budget", "10s"}, new(stats)},
			{"bundled onedir, stock bootloader", []string{"health", "--dist", stockDir, "--budget", "10s"}, new(stats)},
		}
		if *onefile {
			variants = append(variants, []struct {
				name string
				args []string
				st   *stats
			}{
				{"bundled onefile (static bootloader, default)", []string{"health", "--dist", onefileDir, "--mode", "onefile", "--budget", "10s"}, new(stats)},
				{"bundled onefile, stock bootloader", []string{"health", "--dist", stockFile, "--mode", "onefile", "--budget", "10s"}, new(stats)},
			}...)
		}
		for r := 0; r < rounds; r++ {
			for i := range variants {
				v := variants[i]
				if r%2 == 1 {
					v = variants[len(variants)-1-i]
				}
				v.st.add(dagger(append(v.args, "--runs", fmt.Sprint(per))...))
			}
		}
		hs := *variants[0].st
		fmt.Printf("## 1. Start to first 200 on /api/health (%d runs each, %d interleaved rounds)\n\n", per*rounds, rounds)
		fmt.Println("| variant | min | median | max | median vs from source | CPU median | CPU vs from source |")
		fmt.Println("|---|---|---|---|---|---|---|")
		for _, v := range variants {
			fmt.Printf("| %s | %.0f ms | %.0f ms | %.0f ms | %.2f× | %.0f ms | %.2f× |\n", v.name, v.st.min(), v.st.median(), v.st.max(),
				v.st.median()/hs.median(), v.st.cpuMedian(), v.st.cpuMedian()/hs.cpuMedian())
		}
		fmt.Println("\nCPU: user+system time of the backend's processes when first healthy (10 ms ticks). Wall time is what users see;")
		fmt.Println("on a busy machine it mostly measures the other load, CPU time much less: read both.")
		if *chartTo != "" {
			var wall, cpu []chart.Series
			for _, v := range variants {
				wall = append(wall, chart.Series{Name: v.name, Values: v.st.ms})
				cpu = append(cpu, chart.Series{Name: v.name, Values: v.st.cpu})
			}
			c := chart.Chart{
				Title: fmt.Sprintf("Start to first 200 on /api/health: %s, %d runs per variant in %d interleaved rounds", *source, per*rounds, rounds),
				Note:  note,
				Panels: []chart.Panel{
					{XLabel: "wall time (ms): what users see", Series: wall},
					{XLabel: "CPU time of the backend's processes until healthy (ms, 10 ms ticks)", Series: cpu},
				},
			}
			check(os.WriteFile(*chartTo, c.SVG(), 0o644))
			fmt.Printf("\nChart: %s (every run a dot, the middle half a box, the median a bar).\n", *chartTo)
		}
		goal("onedir median ≤ 1.0× from source", variants[1].st.median()/hs.median() <= 1.0)
		if *onefile {
			goal("onefile median ≤ 1.1× from source", variants[3].st.median()/hs.median() <= 1.1)
		}
	} else {
		fmt.Printf("## 1. Start to first 200 on /api/health\n\nnot measured in this run (-startup=false)\n")
	}

	// 2. Build time.
	if *build {
		buildTime(tmp, token)
	} else {
		fmt.Printf("\n## 2. Build time\n\nnot measured in this run (-build=false)\n")
	}
	section3and4(tmp, token, onedir, onefileDir, stockDir, stockFile)
}

// editedCopy copies the backend to dst and appends a comment to its entry file (every backend
// has one, whatever its layout): a one-file change, as a developer's next build sees it.
func editedCopy(dst, note string) {
	check(exec.Command("cp", "-a", *source, dst).Run())
	o, tree, err := plan.Load(*source, nil)
	check(err)
	p, err := plan.New(o, tree)
	check(err)
	f, err := os.OpenFile(filepath.Join(dst, filepath.FromSlash(p.Entry.File)), os.O_APPEND|os.O_WRONLY, 0)
	check(err)
	fmt.Fprintf(f, "\n# %s\n", note)
	check(f.Close())
}

// buildTime is section 2: cold, warm, a one-file change incremental and from scratch, and a
// bare PyInstaller run of the same spec; then 2b, what generality costs.
func buildTime(tmp, token string) {
	changed := filepath.Join(tmp, "changed")
	editedCopy(changed, "benchmark edit "+token)
	bust := []string{"--cache-buster", token, "--builder-cache-buster", token}
	// The cache busters are part of the work folder's key (plan.WorkCache): cold starts from an
	// empty folder, and the one-file change reuses the folder cold left, as a developer's next
	// build would. The from-scratch rebuild comes second, so it finds the changed source's trace
	// cached and measures PyInstaller's part, not the whole stage again.
	cold := timed(append(bust, "compile", "--source", *source, "export", "--path", filepath.Join(tmp, "cold"))...)
	warm := timed(append(bust, "compile", "--source", *source, "export", "--path", filepath.Join(tmp, "warm"))...)
	oneFile := timed(append(bust, "compile", "--source", changed, "export", "--path", filepath.Join(tmp, "changed-out"))...)
	scratch := timed(append(bust, "compile", "--source", changed, "--option", "incremental=false", "export", "--path", filepath.Join(tmp, "changed-scratch"))...)
	same := sameTree(filepath.Join(tmp, "changed-out"), filepath.Join(tmp, "changed-scratch"))
	// Bare PyInstaller: the plan's spec, runtime hook and command line (--clean), in the same
	// (cached) builder, no pybundle stages around it.
	tree, err := srctree.Read(changed, nil)
	check(err)
	p, err := plan.New(plan.Defaults(), tree)
	check(err)
	b := p.Builds[0]
	b.Incremental = false
	args := append(bust, "builder", "with-directory", "--path", "/src", "--source", changed)
	for _, f := range b.Files {
		local := filepath.Join(tmp, f.Name)
		check(os.WriteFile(local, f.Data, 0o644))
		args = append(args, "with-file", "--path", "/src/"+f.Name, "--source", local)
	}
	for _, kv := range b.PyInstallerEnv() {
		k, v, _ := strings.Cut(kv, "=")
		args = append(args, "with-env-variable", "--name", k, "--value", v)
	}
	args = append(args, "with-env-variable", "--name", "BARE_RUN", "--value", token,
		"with-exec", "--args", strings.Join(append([]string{images.Debian.Python()}, b.PyInstallerArgs("/out/dist", "/tmp/pyi-build")...), ","),
		"directory", "--path", "/out/dist", "export", "--path", filepath.Join(tmp, "bare"))
	bare := timed(args...)
	fmt.Printf("\n## 2. Build time (linux/amd64, onedir)\n\n")
	fmt.Println("| build | time | ratio |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| cold (builder image + PyInstaller, nothing cached) | %s | 1.00× cold |\n", secs(cold))
	fmt.Printf("| warm, no change | %s | %.3f× cold |\n", secs(warm), warm.Seconds()/cold.Seconds())
	fmt.Printf("| one source file changed (incremental, the default) | %s | %.2f× bare PyInstaller |\n", secs(oneFile), oneFile.Seconds()/bare.Seconds())
	fmt.Printf("| one source file changed, incremental=false (its trace cached by the row above) | %s | %.2f× bare PyInstaller |\n", secs(scratch), scratch.Seconds()/bare.Seconds())
	fmt.Printf("| bare PyInstaller, same spec, same container, --clean | %s | 1.00× |\n", secs(bare))
	fmt.Printf("\nIncremental and from-scratch bundles of the changed source identical: %v\n", same)
	goal("warm no-change ≤ 5 % of cold", warm.Seconds() <= 0.05*cold.Seconds())
	goal("one source file changed ≤ 0.5× a clean bare PyInstaller run", oneFile.Seconds() <= 0.5*bare.Seconds())
	traceCost(tmp, token, bust)
}

// section3and4 measures both Linux targets together (with -arm64) and the sizes (with -sizes).
func section3and4(tmp, token, onedir, onefileDir, stockDir, stockFile string) {
	// 3. Both Linux targets together vs alone.
	if *arm64 {
		t3 := token + "-a"
		together := timed("--cache-buster", t3+"both", "build", "--source", *source, "--platforms", "linux/amd64,linux/arm64", "export", "--path", filepath.Join(tmp, "both"))
		amd := timed("--cache-buster", t3+"amd", "build", "--source", *source, "--platforms", "linux/amd64", "export", "--path", filepath.Join(tmp, "amd"))
		arm := timed("--cache-buster", t3+"arm", "build", "--source", *source, "--platforms", "linux/arm64", "export", "--path", filepath.Join(tmp, "arm"))
		slower := max(amd, arm)
		fmt.Printf("\n## 3. linux/amd64 + linux/arm64 (arm64 under QEMU; builder images cached)\n\n")
		fmt.Println("| build | time | ratio |")
		fmt.Println("|---|---|---|")
		fmt.Printf("| linux/amd64 alone | %s | |\n| linux/arm64 alone | %s | |\n| both together | %s | %.2f× the slower alone |\n",
			secs(amd), secs(arm), secs(together), together.Seconds()/slower.Seconds())
		goal("together ≤ 1.1× the slower alone", together.Seconds() <= 1.1*slower.Seconds())
	} else {
		fmt.Printf("\n## 3. linux/amd64 + linux/arm64\n\nnot measured in this run (pass -arm64)\n")
	}

	if *sizes && *onefile {
		// 4. Size.
		fatDir := filepath.Join(tmp, "fat-onedir")
		fatFile := filepath.Join(tmp, "fat-onefile")
		dagger("compile", "--source", *source, "--no-slim", "export", "--path", fatDir)
		dagger("compile", "--source", *source, "--no-slim", "--mode", "onefile", "export", "--path", fatFile)
		fmt.Printf("\n## 4. Size\n\n| bundle | slim (pybundle default) | PyInstaller defaults | slim / defaults |\n|---|---|---|---|\n")
		for _, r := range [][3]string{{"onedir", onedir, fatDir}, {"onefile", onefileDir, fatFile}} {
			s, d := treeSize(r[1]), treeSize(r[2])
			fmt.Printf("| %s | %.1f MiB | %.1f MiB | %.3f× |\n", r[0], mib(s), mib(d), float64(s)/float64(d))
		}
		fmt.Printf("\n| bundle | static bootloader (default) | stock bootloader | static / stock |\n|---|---|---|---|\n")
		for _, r := range [][3]string{{"onedir", onedir, stockDir}, {"onefile", onefileDir, stockFile}} {
			s, d := treeSize(r[1]), treeSize(r[2])
			fmt.Printf("| %s | %.1f MiB | %.1f MiB | %.3f× |\n", r[0], mib(s), mib(d), float64(s)/float64(d))
		}
	} else {
		fmt.Printf("\n## 4. Size\n\nnot measured in this run (-sizes=false or -onefile=false)\n")
	}
}

// goal prints a goal line, met or missed: the figures are judged where they are printed.
// traceCost measures what issue 11's generality costs a build: the plan (reading the source,
// collecting own modules and data, scanning; in-process, median of 5) and tracing (a clean
// compile of a freshly edited source with and without trace; the untraced one first, so
// neither finds the other's work cached).
func traceCost(tmp, token string, bust []string) {
	var plans []float64
	for range 5 {
		start := time.Now()
		o, tree, err := plan.Load(*source, nil)
		check(err)
		_, err = plan.New(o, tree)
		check(err)
		plans = append(plans, float64(time.Since(start).Microseconds())/1000)
	}
	src := filepath.Join(tmp, "traced")
	editedCopy(src, "benchmark trace cost "+token)
	compile := func(extra ...string) time.Duration {
		args := append(append(append([]string{}, bust...), "compile", "--source", src, "--option", "incremental=false"), extra...)
		return timed(append(args, "export", "--path", filepath.Join(tmp, "traced-"+strings.Join(extra, "")))...)
	}
	untraced := compile("--option", "trace=false")
	traced := compile()
	fmt.Printf("\n## 2b. What generality costs (linux/amd64, onedir, clean compile)\n\n")
	fmt.Println("| stage | time | share |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| plan: read the source, collect own modules and data, scan (in-process, median of 5) | %.1f ms | %.1f %% of a traced compile |\n",
		median(plans), median(plans)/float64(traced.Milliseconds())*100)
	fmt.Printf("| compile, trace=false | %s | 1.00× |\n", secs(untraced))
	fmt.Printf("| compile, traced (the default) | %s | %.2f× (trace: %s) |\n", secs(traced), traced.Seconds()/untraced.Seconds(), secs(traced-untraced))
}

func goal(what string, met bool) {
	mark := "**met**"
	if !met {
		mark = "**missed**"
	}
	fmt.Printf("\nGoal: %s — %s\n", what, mark)
}

// dagger runs `dagger call …` in the repo root and returns stdout; any failure ends the run.
func dagger(args ...string) string {
	cmd := exec.Command("dagger", append([]string{"call"}, args...)...)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: dagger call %s: %v\n", strings.Join(args, " "), err)
		os.Exit(1)
	}
	return out.String()
}

// timed is a dagger call's wall time, as a user waiting for it sees it.
func timed(args ...string) time.Duration {
	start := time.Now()
	dagger(args...)
	return time.Since(start)
}

// decode reads a function's JSON answer; anything else ends the run, showing it.
func decode(s string, v any) {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		fmt.Fprintf(os.Stderr, "bench: not JSON: %v\n%s\n", err, s)
		os.Exit(1)
	}
}

// treeSize is the bytes of a bundle's regular files, what a user downloads.
func treeSize(root string) int64 {
	var n int64
	check(filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return err
	}))
	return n
}

// cpuModel is the machine's CPU as /proc/cpuinfo names it.
func cpuModel() string {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
			}
		}
	}
	return "unknown CPU"
}

// machine is the run's heading line: date, CPU, cores, load, engine.
func machine() string {
	model := cpuModel()
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("Date: %s. Machine: %s, %d cores (%s/%s), load at start %s. Engine: %s.",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH,
		strings.Join(strings.Fields(string(load))[:3], " "), engine())
}

// machineShort is the chart's note: date, CPU, cores, load when called.
func machineShort() string {
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%s · %s, %d cores · load at start %s · pybundle ci/bench", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		cpuModel(), runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
}

// sameTree reports whether two folders hold the same files with the same bytes and modes, and
// the same links (verify.TreeFiles: never followed).
func sameTree(a, b string) bool {
	da, err := verify.TreeFiles(a)
	check(err)
	db, err := verify.TreeFiles(b)
	check(err)
	return maps.Equal(da, db)
}

// engine names the engine the run used, for the heading.
func engine() string {
	if h := os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST"); h != "" {
		return "pybundle's own Dagger v0.19.10 engine (" + h + ")"
	}
	return "default Dagger engine"
}

// secs and mib format figures as the tables show them.
func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
func mib(n int64) float64         { return float64(n) / (1 << 20) }

// check ends the run on an error: a benchmark with a failed step has no figures.
func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// stats pools the start-up times (wall and CPU) of several health calls.
type stats struct{ ms, cpu []float64 }

// add pools a health call's runs.
func (s *stats) add(out string) {
	var h health.Result
	decode(out, &h)
	for _, r := range h.Runs {
		s.ms = append(s.ms, r.StartupMS)
		s.cpu = append(s.cpu, r.CPUMS)
	}
}

// sorted is a sorted copy, for the order statistics.
func sorted(xs []float64) []float64 {
	v := append([]float64(nil), xs...)
	sort.Float64s(v)
	return v
}
func (s stats) min() float64       { return sorted(s.ms)[0] }
func (s stats) max() float64       { v := sorted(s.ms); return v[len(v)-1] }
func (s stats) median() float64    { return median(s.ms) }
func (s stats) cpuMedian() float64 { return median(s.cpu) }

// median is the middle run (the mean of the two middle ones for an even count).
func median(xs []float64) float64 {
	v := sorted(xs)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
