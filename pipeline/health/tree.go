package health

import "time"

// Tree follows a process and every descendant it starts: on Linux through /proc (orphans
// included once the caller is a subreaper, see BecomeSubreaper), elsewhere through the
// process group it was started in. It is what tells "this run's processes" from processes that
// merely have the same name: nothing outside the tree is ever reported or killed.
type Tree struct{ t *tracker }

// TrackTree starts following the tree of pid.
func TrackTree(pid int) *Tree { return &Tree{t: newTracker(pid)} }

// Scan notes the tree's current members (call it while the root lives, so descendants are
// seen before they could lose their link to it).
func (t *Tree) Scan() { t.t.scan() }

// Alive describes the members still running, the root excluded on Linux (a root that is gone
// is reaped by its starter).
func (t *Tree) Alive() []string {
	t.t.scan()
	var out []string
	for _, p := range t.t.alive() {
		out = append(out, p.String())
	}
	return out
}

// Kill kills every member still running and gives them a moment to be gone (a killed orphan
// of ours is reaped by the next scan, so it does not linger as a zombie).
func (t *Tree) Kill() {
	t.t.scan()
	for _, p := range t.t.alive() {
		t.t.kill(p)
	}
	for i := 0; i < 20 && len(t.t.alive()) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
		t.t.scan()
	}
	t.t.scan() // reaps what died since the last look
}
