package planner

import (
	"os"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

func compileLimits(t *testing.T, text string, caller Caller, layout string) (*Plan, error) {
	t.Helper()
	s, err := spec.ParseBytes("l.yaml", t.TempDir(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &caller})
	o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/" + layout)) }
	return Compile(s, o)
}

const limitsText = `version: 1
environments:
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid, cgroup]
    LIMITS
    processes:
      - {name: main, command: [/bin/sh]}
`

// Rootless, limits are refused naming the key; without them the plan
// says there is no group.
func TestLimitsRootless(t *testing.T) {
	_, err := compileLimits(t, strings.Replace(limitsText, "LIMITS", "limits: {memory: 64M}", 1), userCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "l.yaml:6:5: environments.web.limits: rootless") {
		t.Fatalf("err = %v", err)
	}
	p, err := compileLimits(t, strings.Replace(limitsText, "LIMITS", "", 1), userCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(p.Environments[0].Notes, "\n"), "rootless: no cgroup of its own") {
		t.Errorf("notes: %q", p.Environments[0].Notes)
	}
	for _, st := range p.Environments[0].Steps {
		if _, ok := st.Op.(CgroupMkdir); ok {
			t.Errorf("a rootless plan makes a group: %s", FormatOp(st.Op))
		}
	}
}

// Where nsup's group hands no pids controller down, the default pids
// limit is left out and said; a pids limit written is refused.
func TestLimitsDefaultPidsWhereNone(t *testing.T) {
	p, err := compileLimits(t, strings.Replace(limitsText, "LIMITS", "", 1), rootCaller, "v2-scope")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(p.Environments[0].Notes, "\n"), "no pids limit (the default is 2048)") {
		t.Errorf("notes: %q", p.Environments[0].Notes)
	}
	_, err = compileLimits(t, strings.Replace(limitsText, "LIMITS", "limits: {pids: 100}", 1), rootCaller, "v2-scope")
	if err == nil || !strings.Contains(err.Error(), "environments.web.limits.pids: no pids controller nsup may use here") {
		t.Fatalf("err = %v", err)
	}
}

// With v1 groups, the cgroup namespace is made by the child once it is
// in them (an unshare step), not by the clone; with the unified one alone,
// by the clone.
func TestLimitsCgroupNamespace(t *testing.T) {
	for _, tc := range []struct {
		layout  string
		inChild bool
	}{{"hybrid", true}, {"v2-delegated", false}} {
		p, err := compileLimits(t, strings.Replace(limitsText, "LIMITS", "limits: {memory: 64M}", 1), rootCaller, tc.layout)
		if err != nil {
			t.Fatal(err)
		}
		unshared, cloned := false, false
		for _, st := range p.Environments[0].Steps {
			switch op := st.Op.(type) {
			case Unshare:
				unshared = unshared || st.Stage == Child && op.Flags == nsFlag(spec.NSCgroup)
			case Clone:
				cloned = op.Flags&nsFlag(spec.NSCgroup) != 0
			}
		}
		if unshared != tc.inChild || cloned == tc.inChild {
			var b strings.Builder
			Render(&b, p)
			t.Errorf("%s: unshared by the child %v, by the clone %v:\n%s", tc.layout, unshared, cloned, b.String())
		}
	}
}
