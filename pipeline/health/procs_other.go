//go:build !linux

package health

import (
	"errors"
	"fmt"
)

// BecomeSubreaper is Linux-only.
func BecomeSubreaper() error { return errors.New("child subreaper is Linux-only") }

// proc stands for the backend's process group: without /proc, descendants
// cannot be listed one by one, but the group can still be probed and killed.
type proc struct{ pgid int }

func (p proc) String() string { return fmt.Sprintf("process group %d", p.pgid) }

// tracker is the portable fallback: it only sees descendants that stayed in
// the backend's process group.
type tracker struct{ root int }

func newTracker(root int) *tracker { return &tracker{root: root} }

func (t *tracker) scan() {}

// cpuMS is Linux-only (read from /proc): 0 elsewhere, which Run.CPUMS omits.
func (t *tracker) cpuMS() float64 { return 0 }

func (t *tracker) alive() []proc {
	if groupAlive(t.root) {
		return []proc{{pgid: t.root}}
	}
	return nil
}

func (t *tracker) kill(p proc) { killGroup(p.pgid) }
