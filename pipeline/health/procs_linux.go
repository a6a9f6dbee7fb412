package health

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// subreaper is set once BecomeSubreaper succeeded: orphans of the backend are
// then re-parented to this process instead of init, so they stay findable.
var subreaper atomic.Bool

// BecomeSubreaper makes the calling process a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER): a backend descendant that double-forks and
// detaches between two /proc scans is re-parented to us rather than to init,
// so Probe still finds it. It is process-wide, hence opt-in: pybundle-probe
// calls it at start; a library user with other children should not.
func BecomeSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", errno)
	}
	subreaper.Store(true)
	return nil
}

// proc is one line of /proc/<pid>/stat, reduced to what identifies a process
// and its place in the tree. start (clock ticks since boot) tells a process
// from a later one that reuses its pid.
type proc struct {
	pid, ppid, pgid int
	start           uint64
	state           byte
	comm            string
	// cpu is the CPU time used in clock ticks: user and system, its own and that of the
	// children it waited for.
	cpu uint64
}

func (p proc) alive() bool { return p.state != 'Z' && p.state != 'X' }

// tracker follows every descendant of the backend. A process that outlives its
// parent is re-parented (to init or a subreaper), which cuts the ppid chain, so
// the tracker remembers every descendant it has seen and also counts members
// of the backend's process group and, when we are a subreaper, our orphans.
type tracker struct {
	root int
	self int

	mu        sync.Mutex
	known     map[int]proc // descendants seen so far (root excluded), by pid
	start     uint64       // the root's start time, once seen
	haveStart bool
}

func newTracker(root int) *tracker {
	return &tracker{root: root, self: os.Getpid(), known: map[int]proc{}}
}

// scan reads /proc once and updates the set of known descendants.
func (t *tracker) scan() {
	table := readProcs()
	t.mu.Lock()
	defer t.mu.Unlock()
	in := map[int]bool{t.root: true}
	for pid, old := range t.known {
		if p, ok := table[pid]; ok && p.start == old.start {
			in[pid] = true
		} else {
			delete(t.known, pid) // gone (or pid reused by an unrelated process)
		}
	}
	rootStart, haveRoot := t.rootStart(table)
	for _, p := range table {
		// An orphan of ours joins the tree only if it started after the root: a child of ours
		// from before (another run, another tool) is no part of this tree.
		orphan := subreaper.Load() && p.ppid == t.self && haveRoot && p.start >= rootStart
		if p.pid != t.root && (p.pgid == t.root || orphan) {
			in[p.pid] = true
		}
	}
	for grew := true; grew; { // close over the ppid relation
		grew = false
		for _, p := range table {
			if !in[p.pid] && in[p.ppid] {
				in[p.pid], grew = true, true
			}
		}
	}
	for pid := range in {
		if p, ok := table[pid]; ok && pid != t.root {
			t.known[pid] = p
			if !p.alive() && p.ppid == t.self {
				reap(pid) // our orphan (we are a subreaper): collect the zombie
			}
		}
	}
}

// rootStart is the root's start time, remembered once seen (the root may be gone later).
func (t *tracker) rootStart(table map[int]proc) (uint64, bool) {
	if !t.haveStart {
		if p, ok := table[t.root]; ok {
			t.start, t.haveStart = p.start, true
		}
	}
	return t.start, t.haveStart
}

// alive returns the known descendants still running, sorted by pid.
func (t *tracker) alive() []proc {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []proc
	for _, p := range t.known {
		if p.alive() {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// kill SIGKILLs p unless its pid now belongs to another process.
func (t *tracker) kill(p proc) {
	if cur, ok := readProc(p.pid); ok && cur.start == p.start {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

func (p proc) String() string { return fmt.Sprintf("pid %d (%s)", p.pid, p.comm) }

func readProcs() map[int]proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	table := make(map[int]proc, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			table[pid] = p
		}
	}
	return table
}

// readProc parses /proc/<pid>/stat. comm sits in parentheses and may itself
// contain spaces and ')', so the fields are counted from the last ')'.
func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return proc{}, false
	}
	f := bytes.Fields(b[end+1:]) // state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime
	if len(f) < 20 || len(f[0]) != 1 {
		return proc{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgid, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return proc{}, false
	}
	var cpu uint64
	for _, x := range f[11:15] { // utime stime cutime cstime
		n, _ := strconv.ParseInt(string(x), 10, 64)
		cpu += uint64(max(n, 0))
	}
	return proc{pid: pid, ppid: ppid, pgid: pgid, start: start, state: f[0][0], comm: string(b[open+1 : end]), cpu: cpu}, true
}

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat: fixed at 100 for user
// space on every Linux architecture, whatever the kernel's own HZ.
const clockTicks = 100

// cpuMS is the CPU time the backend's process tree has used so far, in ms: the root's own and
// that of the children it waited for, and every known descendant still running (a onefile
// bundle's Python runs in the child). Only for benchmarks: wall time to healthy is what users
// see, but on a busy machine it mostly measures the other load, CPU time much less.
func (t *tracker) cpuMS() float64 {
	t.scan()
	var ticks uint64
	if p, ok := readProc(t.root); ok {
		ticks += p.cpu
	}
	for _, k := range t.alive() {
		if p, ok := readProc(k.pid); ok && p.start == k.start {
			ticks += p.cpu
		}
	}
	return float64(ticks) * 1000 / clockTicks
}
