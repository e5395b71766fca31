package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// releasedSpec: b waits for a to be healthy, which releases a (apply -d)
// before anything of b is made, and, with join, joins a's pid namespace
// by name.
func releasedSpec(join bool) string {
	s := `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sleep, "1000"]
        healthcheck: {command: [/bin/true], interval: 50ms}
  b:
    rootfs: {dir: ./rootfs}
    depends_on: {a: healthy}
    processes:
      - {name: main, command: [/bin/sleep, "1000"]}
`
	if join {
		return s + "    namespaces: [mnt]\n    join: {pid: a}\n"
	}
	return s + "    namespaces: [mnt, pid]\n"
}

// TestRootDetachJoinReleased: an environment released early, since a
// later one waits for its health, is still joined by name by that later
// one, in the namespace the plan says. Its run closed the namespace's fd
// as it ended, at the release, and the join then used the fd's number,
// another file by then (setns: EINVAL; a namespace of another
// environment's, had that number been reused by one).
func TestRootDetachJoinReleased(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, releasedSpec(true), state)
	defer func() {
		for _, e := range []string{"b", "a"} {
			lifecycle.Down(context.Background(), state, e)
		}
	}()
	pids := map[string]int{}
	opts := executor.OnStart(executor.Options{}, func(env string, pid int) { pids[env] = pid })
	if st, _, errOut, err := run(t, p, opts); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	for _, e := range []string{"a", "b"} {
		es, err := lifecycle.Inspect(state, e)
		if err != nil || !es.Running {
			t.Errorf("%s: %+v %v", e, es, err)
		}
	}
	// a's child is a's PID 1; b's child was born in a's pid namespace.
	a, errA := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pids["a"]))
	b, errB := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pids["b"]))
	if errA != nil || errB != nil || a != b {
		t.Errorf("b's pid namespace %s (%v), a's %s (%v): want a's", b, errB, a, errA)
	}
}

// TestRootDetachTakeBackReleased: a failure of an environment after it
// waited for another's health takes that other one back too, released
// as it was, and with it everything it had made: no group of its is left
// (checkHost), nor its state (testStateDir).
func TestRootDetachTakeBackReleased(t *testing.T) {
	state, dir := detachedRoot(t)
	// b joins nothing of a's: its failure is its own.
	p := compileDetached(t, dir, releasedSpec(false), state)
	a := p.Environments[0]
	if !slices.ContainsFunc(a.Steps, func(st planner.Step) bool { _, ok := st.Op.(planner.CgroupMkdir); return ok }) {
		skipOrFail(t, "no cgroup for the environment on this host")
	}
	b := p.Environments[1]
	wait := slices.IndexFunc(b.Steps, func(st planner.Step) bool { _, ok := st.Op.(planner.WaitHealthy); return ok })
	if wait < 0 {
		t.Fatalf("b does not wait for a:\n%s", planText(p))
	}
	var steps []int
	for i, st := range b.Steps {
		switch st.Op.(type) {
		case planner.Rootfs, planner.Clone, planner.SaveState:
			if i > wait {
				steps = append(steps, i)
			}
		}
	}
	for _, i := range steps {
		t.Run(fmt.Sprintf("step%02d-%s", i, b.Steps[i].Op.Syscall()), func(t *testing.T) {
			checkHost(t)
			_, _, _, err := run(t, p, executor.FailAt(executor.Options{}, "b", i, unix.EPERM))
			var se *executor.StepError
			if !errors.As(err, &se) || se.Env != "b" || se.Step != i {
				t.Fatalf("apply: %v, want b's step %d to fail", err, i)
			}
		})
	}
}

// TestRootDetachFailAtEveryStepMulti: a detached apply of several
// environments that fails at any step of any of them leaves nothing: no
// process (a pod's holder, pasta's keeper: checkHost), no group, no
// mount, no state, no folder it made. a is released early (b waits for
// its health), its network is pasta's and a pod's (b joins it), and c
// joins its pid namespace by name after that release.
func TestRootDetachFailAtEveryStepMulti(t *testing.T) {
	requireRoot(t)
	requireStaticSelf(t)
	if _, err := exec.LookPath("pasta"); err != nil {
		skipOrFail(t, "needs pasta (apt-get install passt)")
	}
	checkHost(t)
	state := testStateDir(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	vols := filepath.Join(dir, "volumes")
	t.Setenv("NSUP_VOLUME_DIR", vols)
	p := compileDetached(t, dir, `version: 1
volumes:
  vol: {}
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net, ipc]
    net: {network: user}
    processes:
      - name: main
        command: [/bin/sleep, "1000"]
        healthcheck: {command: [/bin/true], interval: 50ms}
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    join: {net: a, ipc: a}
    depends_on: {a: healthy}
    mounts:
      - {type: volume, source: vol, target: /vol}
      - {type: bind, source: ./made/x, target: /made, create: true}
    processes:
      - {name: main, command: [/bin/sleep, "1000"]}
  c:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    join: {pid: a}
    processes:
      - {name: main, command: [/bin/sleep, "1000"]}
`, state)
	for _, e := range p.Environments {
		for i, st := range e.Steps {
			t.Run(fmt.Sprintf("%s-%02d-%s", e.Name, i, st.Op.Syscall()), func(t *testing.T) {
				checkHost(t)
				_, _, _, err := run(t, p, executor.FailAt(executor.Options{}, e.Name, i, unix.EPERM))
				// This step's error, also for a's last steps, done by b's
				// wait for its health (they were reported as b's step).
				var se *executor.StepError
				if !errors.As(err, &se) || se.Env != e.Name || se.Step != i || !errors.Is(se, unix.EPERM) {
					t.Fatalf("apply: %v, want %s's step %d to fail with EPERM", err, e.Name, i)
				}
				if ents, _ := os.ReadDir(state); len(ents) != 0 {
					t.Errorf("state left: %v", ents)
				}
				for _, d := range []string{filepath.Join(vols, "proj", "vol"), filepath.Join(dir, "made")} {
					if _, err := os.Lstat(d); err == nil {
						t.Errorf("%s is left", d)
						os.RemoveAll(d)
					}
				}
			})
		}
	}
}

// joinedPidSpec is a, and c, which joins a's pid namespace.
const joinedPidSpec = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sleep, "1000"]}
  c:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    join: {pid: a}
    processes:
      - {name: main, command: [/bin/sleep, "1000"]}
`

// TestRootDetachTakeBackJoinedPid: a detached apply that fails after c
// joined a's pid namespace takes everything back, and ends. Rolled back
// in plan order, it waited for a's child first, PID 1 of that namespace,
// which the kernel lets end only once every process of its namespace has
// been reaped: c's child among them, nsup's child (CLONE_PARENT), which
// c's run reaps only once it is taken back, after a. nsup hung for good,
// deaf to SIGINT and SIGTERM (found by a review: nsup apply -d of a, c
// and d, with d running already, never ended). Run by a helper: that
// hang would be the test's.
func TestRootDetachTakeBackJoinedPid(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, joinedPidSpec+`  d:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {c: started}
    processes:
      - {name: main, command: [/bin/sleep, "1000"]}
`, state)
	if names := []string{p.Environments[0].Name, p.Environments[1].Name, p.Environments[2].Name}; strings.Join(names, ",") != "a,c,d" {
		t.Fatalf("planned as %v, want a, c, d", names)
	}
	// d's first step fails: a and c are up, waiting for their release.
	h := startHelper(t, p, "", "NSUP_TEST_FAIL=d 0")
	code, out := h.wait(t)
	if code != 1 || !strings.Contains(out, "step 0: mkdir(") || !strings.Contains(out, "operation not permitted") {
		t.Errorf("apply -d: status %d: %s", code, out)
	}
}

// TestRootDetachReleaseFailsJoinedPid: a's release fails (its last step,
// run once every environment is set up) after c joined a's pid namespace:
// apply takes both back and ends. a's run waited for its child (a's PID 1,
// which cannot end before c's child in its namespace is reaped) before it
// reported the failure, and Apply, waiting for that report, never took c
// back: nsup hung for good (found by helper-76's review).
func TestRootDetachReleaseFailsJoinedPid(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, joinedPidSpec, state)
	if p.Environments[0].Name != "a" {
		t.Fatalf("planned %s first, want a", p.Environments[0].Name)
	}
	last := len(p.Environments[0].Steps) - 1
	h := startHelper(t, p, "", fmt.Sprintf("NSUP_TEST_FAIL=a %d", last))
	code, out := h.wait(t)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("step %d:", last)) || !strings.Contains(out, "operation not permitted") {
		t.Errorf("apply -d: status %d: %s", code, out)
	}
}

// TestRootDetachReleaseFailsWaited: a's release, done early by b's wait
// for its health, fails at a's last step: the error is a's step (its
// number, origin and call), said to have run for b's wait, and b is not
// started since a failed; nothing is left. It was reported as b's wait
// step, wrapping a's error (found by a review).
func TestRootDetachReleaseFailsWaited(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, releasedSpec(false), state)
	a, b := p.Environments[0], p.Environments[1]
	wait := slices.IndexFunc(b.Steps, func(st planner.Step) bool { _, ok := st.Op.(planner.WaitHealthy); return ok })
	if a.Name != "a" || wait < 0 {
		t.Fatalf("want a, then b waiting for it:\n%s", planText(p))
	}
	last := len(a.Steps) - 1
	_, _, _, err := run(t, p, executor.FailAt(executor.Options{}, "a", last, unix.EPERM))
	var se *executor.StepError
	if !errors.As(err, &se) || se.Env != "a" || se.Step != last || se.Origin != a.Steps[last].Origin || !errors.Is(err, unix.EPERM) {
		t.Fatalf("apply: %v, want a's step %d to fail with EPERM", err, last)
	}
	want := fmt.Sprintf("%s: step %d: %s: operation not permitted (released early, as b's step %d waited for a to be healthy); not started, since a failed: b (depends on a)",
		a.Steps[last].Origin, last, planner.FormatOp(a.Steps[last].Op), wait)
	if err.Error() != want {
		t.Errorf("apply:\n%v\nwant\n%s", err, want)
	}
}
