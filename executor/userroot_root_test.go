package executor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestRootCloneUserRoot: the clone step says whether its child becomes
// root of its new user namespace and drops its groups first
// (Clone.UserRoot, DropGroups); a plan whose step says otherwise than
// its maps (a hand-edited one, or saved by an nsup whose plan did not
// say) is refused before the child is made. As planned, the child is
// root there, without the host's groups.
func TestRootCloneUserRoot(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	checkHost(t)
	const yaml = `version: 1
environments:
  u:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [user, mnt, pid]
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "/bin/busybox id -u; /bin/busybox id -G"]}
`
	dir := t.TempDir()
	p := compile(t, dir, yaml)
	at := -1
	for i, st := range p.Environments[0].Steps {
		if c, ok := st.Op.(planner.Clone); ok {
			at = i
			if !c.UserRoot || !c.DropGroups {
				t.Fatalf("step %d: %s: want the child root of its user namespace, its groups dropped", i, planner.FormatOp(c))
			}
		}
	}
	if at < 0 {
		t.Fatalf("no clone step:\n%s", planText(p))
	}
	if out := runOK(t, p); out != "0\n0\n" {
		t.Errorf("the main process's uid and groups: %q, want %q", out, "0\n0\n")
	}
	for why, edit := range map[string]func(*planner.Clone){
		"not root":              func(c *planner.Clone) { c.UserRoot, c.DropGroups = false, false },
		"root, its groups kept": func(c *planner.Clone) { c.DropGroups = false },
	} {
		t.Run(why, func(t *testing.T) {
			q := compile(t, dir, yaml)
			c := q.Environments[0].Steps[at].Op.(planner.Clone)
			edit(&c)
			q.Environments[0].Steps[at].Op = c
			started := false
			_, _, _, err := run(t, q, executor.OnStart(executor.Options{}, func(string, int) { started = true }))
			if err == nil || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "is not what its maps and joins ask") {
				t.Errorf("apply: %v, want the clone step refused (EINVAL)", err)
			}
			if started {
				t.Error("the environment was started")
			}
		})
	}
}
