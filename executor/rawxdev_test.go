package executor

import (
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestNoXDevWalk: a mount placed by its path from the root with NoXDev
// has its target walked crossing no mount (RESOLVE_NO_XDEV, after a
// first lookup without it, which may end on a mount point); one beneath
// a held mount, whose walk crosses the mounts below it, or outside the
// root, is refused when the plan is loaded.
func TestNoXDevWalk(t *testing.T) {
	start := []planner.Step{
		{Stage: planner.Child, Op: planner.Mount{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE}},
		{Stage: planner.Child, Op: planner.Mount{Source: "/r", Target: "/r", Flags: unix.MS_BIND | unix.MS_REC}},
		{Stage: planner.Child, Op: planner.Mount{Source: "/host/a", Target: "/a", Flags: unix.MS_BIND, Root: "/r", InRoot: true, Create: "dir", Held: true}},
		{Stage: planner.Child, Op: planner.Mount{Source: "tmpfs", Target: "/t/x", FSType: "tmpfs", Root: "/r", InRoot: true, Create: "dir", NoXDev: true}},
	}
	b, _ := buildHeld(t, start, "")
	if rp := b.prog.ops[len(b.prog.ops)-1].p[1]; !rp.noXDev {
		t.Errorf("the target's walk crosses mounts")
	}
	if h := b.prog.how[rawHowFollowNoXDev]; h.Resolve&unix.RESOLVE_NO_XDEV == 0 || h.Resolve&unix.RESOLVE_IN_ROOT == 0 {
		t.Errorf("the walk's resolve flags %#x", h.Resolve)
	}
	for _, m := range []planner.Mount{
		{Source: "tmpfs", Target: "/a/x", FSType: "tmpfs", Root: "/r", InRoot: true, Create: "dir", Beneath: "/a", NoXDev: true},
		{Source: "tmpfs", Target: "/elsewhere", FSType: "tmpfs", NoXDev: true},
	} {
		buildHeld(t, append(append([]planner.Step(nil), start...), planner.Step{Stage: planner.Child, Op: m}), "crosses no mount")
	}
}
