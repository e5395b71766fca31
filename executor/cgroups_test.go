package executor

import (
	"testing"

	"github.com/nsup/nsup/planner"
)

// The thread goes back from each of the environment's v1 groups to the
// group the plan pairs with it (the k-th join back), which is nsup's own
// in that hierarchy: not the parent of nsup/ under NSUP_CGROUP_PARENT, nor
// the hierarchy's root when nsup's group is elsewhere. Moved to the guess
// instead, the thread stayed in the parent group, which then could not be
// removed (TestRootCgroupParent, once the caller's thread made the clone).
func TestHomeOf(t *testing.T) {
	join := func(p string) planner.Step { return planner.Step{Stage: planner.Host, Op: planner.CgroupJoin{Path: p}} }
	env := &planner.Env{Steps: []planner.Step{
		join("/sys/fs/cgroup/memory/parent/nsup/web." + planner.NsupPid),
		join("/sys/fs/cgroup/pids/parent/nsup/web." + planner.NsupPid),
		{Stage: planner.Host, Op: planner.Clone{}},
		join("/sys/fs/cgroup/memory/agent/42"),
		join("/sys/fs/cgroup/pids"),
	}}
	r := &envRun{env: env, cgroups: []string{nsupPath("/sys/fs/cgroup/memory/parent/nsup/web." + planner.NsupPid), nsupPath("/sys/fs/cgroup/pids/parent/nsup/web." + planner.NsupPid)}}
	for i, want := range []string{"/sys/fs/cgroup/memory/agent/42", "/sys/fs/cgroup/pids"} {
		if got := r.homeOf(r.cgroups[i]); got != want {
			t.Errorf("homeOf(%s) = %q, want %q", r.cgroups[i], got, want)
		}
	}
	for _, dir := range r.cgroups {
		r.noteJoin(dir)
	}
	if want := []string{"/sys/fs/cgroup/memory/agent/42", "/sys/fs/cgroup/pids"}; len(r.away) != 2 || r.away[0] != want[0] || r.away[1] != want[1] || r.strayThread {
		t.Errorf("away %q (stray %v), want %q", r.away, r.strayThread, want)
	}
	r.noteJoin("/sys/fs/cgroup/memory/agent/42")
	r.noteJoin("/sys/fs/cgroup/pids")
	if len(r.away) != 0 {
		t.Errorf("away %q after going back", r.away)
	}
}
