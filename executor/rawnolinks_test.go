package executor

import (
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestNoLinksWalk (helper-68's review): a mount placed by its path from
// the root with NoLinks (its target on a host mount below the root) has
// its target walked following no symlink (RESOLVE_NO_SYMLINKS, crossing
// mounts); NoLinks beneath a held mount (whose walk follows none
// already), outside the root, or with NoXDev, is refused when the plan
// is loaded.
func TestNoLinksWalk(t *testing.T) {
	start := []planner.Step{
		{Stage: planner.Child, Op: planner.Mount{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE}},
		{Stage: planner.Child, Op: planner.Mount{Source: "/r", Target: "/r", Flags: unix.MS_BIND | unix.MS_REC}},
		{Stage: planner.Child, Op: planner.Mount{Source: "/host/a", Target: "/a", Flags: unix.MS_BIND, Root: "/r", InRoot: true, Create: "dir", Held: true}},
		{Stage: planner.Child, Op: planner.Mount{Source: "tmpfs", Target: "/mnt/x", FSType: "tmpfs", Root: "/r", InRoot: true, Create: "dir", NoLinks: true}},
	}
	b, _ := buildHeld(t, start, "")
	if rp := b.prog.ops[len(b.prog.ops)-1].p[1]; !rp.noLinks || rp.noXDev {
		t.Errorf("the target's walk: noLinks %v, noXDev %v", rp.noLinks, rp.noXDev)
	}
	if h := b.prog.how[rawHowFollowNoLinks]; h.Resolve&unix.RESOLVE_NO_SYMLINKS == 0 || h.Resolve&unix.RESOLVE_IN_ROOT == 0 {
		t.Errorf("the walk's resolve flags %#x", h.Resolve)
	}
	for _, m := range []planner.Mount{
		{Source: "tmpfs", Target: "/a/x", FSType: "tmpfs", Root: "/r", InRoot: true, Create: "dir", Beneath: "/a", NoLinks: true},
		{Source: "tmpfs", Target: "/elsewhere", FSType: "tmpfs", NoLinks: true},
		{Source: "tmpfs", Target: "/t/x", FSType: "tmpfs", Root: "/r", InRoot: true, Create: "dir", NoXDev: true, NoLinks: true},
	} {
		buildHeld(t, append(append([]planner.Step(nil), start...), planner.Step{Stage: planner.Child, Op: m}), "follows no link")
	}
}
