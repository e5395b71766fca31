package executor

import (
	"context"
	"fmt"
	"go/build"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// fakeKernel records the calls of init's switch, in order.
type fakeKernel struct{ calls []string }

func (k *fakeKernel) rec(format string, args ...any) error {
	k.calls = append(k.calls, fmt.Sprintf(format, args...))
	return nil
}

func (k *fakeKernel) AllThreadsPrctl(o int, a uint64) error {
	return k.rec("prctl on every thread %d %d", o, a)
}
func (k *fakeKernel) Seccomp(f uint, p []byte) error { return k.rec("seccomp %#x %d", f, len(p)/8) }
func (k *fakeKernel) Prctl(o int, a uint64) error    { return k.rec("prctl %d %d", o, a) }
func (k *fakeKernel) SetName(n string) error         { return k.rec("prctl PR_SET_NAME %s", n) }
func (k *fakeKernel) CloseRange(f uint32) error      { return k.rec("close_range %d", f) }
func (k *fakeKernel) Capset(keep []string) error     { return k.rec("capset %v", keep) }
func (k *fakeKernel) Spawn(p *rawProg) (int, error) {
	var ops []string
	for _, o := range p.ops {
		ops = append(ops, fmt.Sprintf("%d:%d", o.step, o.kind))
	}
	return 0, k.rec("spawn fds %v steps %s", p.fds[:p.nfds], strings.Join(ops, " "))
}

// discard is a stage's connection for tests: replies go nowhere.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestEveryOpHandled runs every operation of each stage (planner's stage
// table) through that stage's switch: none may be refused as another
// stage's, so a new operation cannot be forgotten by the executor.
func TestEveryOpHandled(t *testing.T) {
	for _, sg := range planner.Stages() {
		for _, op := range planner.StageOps(sg) {
			st := planner.Step{Stage: sg, Op: op}
			var err error
			switch sg {
			case planner.Host:
				// After a clone, so that nothing is created.
				r := &envRun{a: &applier{}, env: &planner.Env{}, child: 1 << 30, gone: true}
				err = r.do(context.Background(), 0, st)
			case planner.Forked:
				continue // a fork's setns and clone are the launcher's
			case planner.Child, planner.Proc:
				b := &rawBuilder{prog: newRawProg(), exe: 0, lookPath: func([]string, []string) (string, error) { return "/x", nil }}
				err = b.add(0, st)
			case planner.Init:
				c := &stage{sys: &fakeKernel{}, conn: discard{}}
				c.init.sys = c.sys
				_, err = c.steps(request{Steps: []indexedStep{{Step: st}}})
			}
			if err != nil && (strings.Contains(err.Error(), "is not a step") || strings.Contains(err.Error(), "is not a host step")) {
				t.Errorf("stage %s: %T: %v", sg, op, err)
			}
		}
	}
}

// TestInitCalls: init's steps make their calls, with their arguments, in
// plan order; a Spawn takes the proc steps after it.
func TestInitCalls(t *testing.T) {
	steps := []planner.Step{
		{Stage: planner.Init, Op: planner.Prctl{Option: unix.PR_SET_DUMPABLE, Arg: 0}},
		{Stage: planner.Init, Op: planner.Capset{Keep: []string{"CAP_KILL"}}},
		{Stage: planner.Init, Op: planner.Prctl{Option: unix.PR_SET_NAME, Name: "nsup-init"}},
		{Stage: planner.Init, Op: planner.CloseRange{First: 3}},
		{Stage: planner.Init, Op: planner.Seccomp{Flags: unix.SECCOMP_FILTER_FLAG_TSYNC, Program: make([]byte, 16)}},
		{Stage: planner.Init, Op: planner.Spawn{Process: "p", Main: true}},
		{Stage: planner.Proc, Op: planner.Prlimit{Resource: unix.RLIMIT_NOFILE, Soft: 1, Hard: 2}},
		{Stage: planner.Proc, Op: planner.Setresgid{GID: 2}},
		{Stage: planner.Proc, Op: planner.Setresuid{UID: 1}},
		{Stage: planner.Proc, Op: planner.Chdir{Path: "/w"}},
		{Stage: planner.Proc, Op: planner.Execve{Path: "/bin/x", Argv: []string{"x"}, Env: []string{}}},
		{Stage: planner.Init, Op: planner.Spawn{Process: "q", Parent: "p"}},
		{Stage: planner.Proc, Op: planner.Execve{Path: "/bin/y", Argv: []string{"y"}, Env: []string{}}},
		{Stage: planner.Init, Op: planner.Prctl{Option: unix.PR_SET_NO_NEW_PRIVS, Arg: 1}},
	}
	k := &fakeKernel{}
	c := &stage{sys: k, conn: discard{}}
	c.init.sys = k
	var req request
	for i, st := range steps {
		req.Steps = append(req.Steps, indexedStep{Index: i, Step: st})
	}
	if i, err := c.steps(req); err != nil {
		t.Fatalf("step %d: %v", i, err)
	}
	want := []string{
		`prctl 4 0`,
		`capset [CAP_KILL]`,
		`prctl PR_SET_NAME nsup-init`,
		`close_range 3`,
		`seccomp 0x1 2`,
		fmt.Sprintf("spawn fds [0 1 2] steps 6:%d 7:%d 8:%d 9:%d 10:%d", rawSys, rawSys, rawSys, rawChdir, rawExec),
		fmt.Sprintf("spawn fds [0 1 2] steps 12:%d", rawExec),
		`prctl on every thread 38 1`,
	}
	if !slices.Equal(k.calls, want) {
		t.Errorf("calls:\n  %s\nwant\n  %s", strings.Join(k.calls, "\n  "), strings.Join(want, "\n  "))
	}
	if len(c.init.procs) != 2 || c.init.procs[1].parent != c.init.procs[0] || c.init.main != c.init.procs[0] {
		t.Errorf("the tree: %+v", c.init.procs)
	}
}

// TestImports: the executor imports only the plan types of this module
// (design.md) and its own store and lifecycle packages, which import only
// the plan types too (and lifecycle where the cgroups are, the check of
// a folder of one's own, internal/owndir, and which runes mislead a
// reader, internal/textsafe; and this package who besides a folder's
// owner may write it, internal/owndir), so that it applies plans and
// nothing else.
func TestImports(t *testing.T) {
	allowed := map[string][]string{
		".":         {"planner", "executor/store", "executor/lifecycle", "internal/owndir"},
		"store":     {"planner", "internal/fserr"},
		"lifecycle": {"planner", "planner/cgroup", "internal/owndir", "internal/textsafe"},
	}
	for dir, ok := range allowed {
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range p.Imports {
			name, ours := strings.CutPrefix(imp, "github.com/nsup/nsup/")
			if ours && !slices.Contains(ok, name) {
				t.Errorf("%s imports %s; it may import only %v of this module", path.Join("executor", dir), imp, ok)
			}
		}
	}
}

// lastCap, found by prctl(2), is what the kernel says in
// /proc/sys/kernel/cap_last_cap.
func TestLastCap(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if got := lastCap(); got != n {
		t.Fatalf("lastCap() = %d, cap_last_cap says %d", got, n)
	}
}
