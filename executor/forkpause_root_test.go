package executor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// forkedSteps compiles joinedPidSpec detached (c joins a's pid namespace:
// a forked copy clones c's child stage, which joins it after its root
// switch and clones the process that goes on in there: rawlate.go) and
// returns the plan and c's steps of stage fork, its prctl and its clone,
// and the stage's late setns and clone.
func forkedSteps(t *testing.T, dir, state string) (p *planner.Plan, prctl, clone, setns, late int) {
	t.Helper()
	p = compileDetached(t, dir, joinedPidSpec, state)
	prctl, clone, setns, late = -1, -1, -1, -1
	if len(p.Environments) == 2 && p.Environments[1].Name == "c" {
		for i, st := range p.Environments[1].Steps {
			switch op := st.Op.(type) {
			case planner.Prctl:
				if st.Stage == planner.Forked {
					prctl = i
				}
			case planner.Setns:
				if st.Stage == planner.Child && op.NSType == unix.CLONE_NEWPID {
					setns = i
				}
			case planner.Clone:
				switch {
				case st.Stage == planner.Forked:
					clone = i
				case st.Stage == planner.Child && op.Late:
					late = i
				}
			}
		}
	}
	if prctl < 0 || setns < 0 || clone < 0 || late < 0 {
		t.Fatalf("want a, then c joining its pid namespace from a forked copy's child stage:\n%s", planText(p))
	}
	return p, prctl, clone, setns, late
}

// TestRootPauseForked: the pause hook stops apply before a step of the
// forked copy's, with the steps before it done: paused before its prctl
// or its clone, the copy makes no child in a's pid namespace (its child
// stage joins it later: TestRootKillPausedForked pauses there). Resumed,
// apply goes on and c runs in a's pid namespace. The hook passed over the
// copy's steps (its pause was never reached: a test waiting for it waited
// in vain), while FailAt covered them.
func TestRootPauseForked(t *testing.T) {
	state, dir := detachedRoot(t)
	p, prctl, clone, _, _ := forkedSteps(t, dir, state)
	for _, step := range []int{prctl, clone} {
		t.Run(fmt.Sprintf("step%02d-%s", step, p.Environments[1].Steps[step].Op.Syscall()), func(t *testing.T) {
			checkHost(t)
			defer func() {
				for _, e := range []string{"c", "a"} {
					lifecycle.Down(context.Background(), state, e)
				}
			}()
			fifo := filepath.Join(t.TempDir(), "resume")
			if err := unix.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			pids := map[string]int{}
			var paused []int
			var problems []string
			opts := executor.OnStart(executor.Options{}, func(env string, pid int) { pids[env] = pid })
			opts = executor.PauseAt(opts, "c", step, func(env string, at int) {
				// Called by apply while the copy waits: it is nsup's
				// child that is not a's.
				paused = append(paused, at)
				aNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pids["a"]))
				kids := slices.DeleteFunc(children(os.Getpid()), func(pid int) bool { return pid == pids["a"] })
				if len(kids) != 1 {
					problems = append(problems, fmt.Sprintf("paused at %d: nsup's children but a's %v, want the copy alone", at, kids))
				} else {
					ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid_for_children", kids[0]))
					if err != nil || ns == aNS {
						problems = append(problems, fmt.Sprintf("paused at %d: the copy's pid_for_children %s (%v) is a's", at, ns, err))
					}
				}
				w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					problems = append(problems, err.Error())
					return
				}
				w.Write([]byte{1})
				w.Close()
			})
			opts = executor.ResumeFrom(opts, fifo)
			if st, _, errOut, err := run(t, p, opts); err != nil || st != 0 {
				t.Fatalf("apply -d: %d %v %s", st, err, errOut)
			}
			if !slices.Equal(paused, []int{step}) {
				t.Errorf("paused at %v, want %d", paused, step)
			}
			for _, pr := range problems {
				t.Error(pr)
			}
			a, errA := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pids["a"]))
			c, errC := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pids["c"]))
			if errA != nil || errC != nil || a != c {
				t.Errorf("c's pid namespace %s (%v), a's %s (%v): want a's", c, errC, a, errA)
			}
		})
	}
}

// TestRootKillPausedForked: nsup killed while the forked copy is paused
// before its clone, or its child stage before its late join or clone,
// leaves nothing: the copy or the stage dies with nsup (a process left
// running the test binary is what checkHost finds), and so do a's child
// and everything else. Paused, nsup's child that is not a's is in the
// host's pid namespace, and its children are born in a's only at the
// late clone (after its root switch: a pause there cannot be resumed by
// the host's fifo).
func TestRootKillPausedForked(t *testing.T) {
	state, dir := detachedRoot(t)
	p, _, clone, setns, late := forkedSteps(t, dir, state)
	for _, step := range []int{clone, setns, late} {
		t.Run(fmt.Sprintf("step%02d", step), func(t *testing.T) {
			checkHost(t)
			h := startHelper(t, p, fmt.Sprintf("c %d", step))
			h.waitPaused(t, "c", step)
			self, _ := os.Readlink("/proc/self/ns/pid")
			var stage []int
			aNS := ""
			for _, k := range children(h.cmd.Process.Pid) {
				if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", k)); ns == self {
					stage = append(stage, k)
				} else {
					aNS = ns
				}
			}
			if len(stage) != 1 || aNS == "" {
				t.Errorf("nsup's children in its pid namespace %v, want one (and a's in another, %q)", stage, aNS)
			} else if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid_for_children", stage[0])); (ns == aNS) != (step == late) {
				t.Errorf("paused at %d: pid_for_children of nsup's child %s, a's %s: joined %t, want %t", step, ns, aNS, ns == aNS, step == late)
			}
			h.cmd.Process.Signal(syscall.SIGKILL)
			h.wait(t)
			for _, e := range []string{"c", "a"} {
				if _, err := lifecycle.Down(context.Background(), state, e); err != nil {
					t.Errorf("down %s: %v", e, err)
				}
			}
		})
	}
}
