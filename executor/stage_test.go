package executor

import (
	"context"
	"fmt"
	"go/build"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// fakeKernel records the calls of the child stage's switch, in order.
type fakeKernel struct{ calls []string }

func (k *fakeKernel) rec(format string, args ...any) error {
	k.calls = append(k.calls, fmt.Sprintf(format, args...))
	return nil
}

func (k *fakeKernel) Mount(op planner.Mount) error { return k.rec("%s", planner.FormatOp(op)) }
func (k *fakeKernel) MountSetattr(op planner.MountSetattr) error {
	return k.rec("%s", planner.FormatOp(op))
}
func (k *fakeKernel) Overlay(t, l string, x, d bool) error {
	return k.rec("overlay %q %q %v %v", t, l, x, d)
}
func (k *fakeKernel) AllThreadsPrctl(o int, a uint64) error {
	return k.rec("prctl on every thread %d %d", o, a)
}
func (k *fakeKernel) Seccomp(f uint, p []byte) error     { return k.rec("seccomp %#x %d", f, len(p)/8) }
func (k *fakeKernel) Prlimit(r int, s, h uint64) error   { return k.rec("prlimit %d %d %d", r, s, h) }
func (k *fakeKernel) Setctty() error                     { return k.rec("ioctl TIOCSCTTY") }
func (k *fakeKernel) Unshare(f int) error                { return k.rec("unshare %#x", f) }
func (k *fakeKernel) Write(p, d string) error            { return k.rec("write %q %q", p, d) }
func (k *fakeKernel) Symlink(r, t, l string) error       { return k.rec("symlink %q %q %q", r, t, l) }
func (k *fakeKernel) Sethostname(n string) error         { return k.rec("sethostname %q", n) }
func (k *fakeKernel) Setdomainname(n string) error       { return k.rec("setdomainname %q", n) }
func (k *fakeKernel) Chdir(p string) error               { return k.rec("chdir %q", p) }
func (k *fakeKernel) PivotRoot(n, o string) error        { return k.rec("pivot_root %q %q", n, o) }
func (k *fakeKernel) Umount2(t string, f int) error      { return k.rec("umount2 %q %d", t, f) }
func (k *fakeKernel) Prctl(o int, a uint64) error        { return k.rec("prctl %d %d", o, a) }
func (k *fakeKernel) SetName(n string) error             { return k.rec("prctl PR_SET_NAME %s", n) }
func (k *fakeKernel) CloseRange(f uint32) error          { return k.rec("close_range %d", f) }
func (k *fakeKernel) Capset(keep []string) error         { return k.rec("capset %v", keep) }
func (k *fakeKernel) LinkUp(name string) error           { return k.rec("linkup %s", name) }
func (k *fakeKernel) Setgroups(g []uint32) error         { return k.rec("setgroups %v", g) }
func (k *fakeKernel) Setresgid(g uint32) error           { return k.rec("setresgid %d", g) }
func (k *fakeKernel) Setresuid(u uint32) error           { return k.rec("setresuid %d", u) }
func (k *fakeKernel) Exec(p string, a, e []string) error { return k.rec("execve %q %q %q", p, a, e) }
func (k *fakeKernel) Setsid() error                      { return k.rec("setsid") }
func (k *fakeKernel) Spawn(a *spawnAttr) (int, error) {
	groups := ""
	if !a.setgroups {
		groups = " groups kept"
	}
	if a.stdio != [3]int{0, 1, 2} {
		return 0, k.rec("fork+execve %q %q %q %q %d:%d%s stdio %v", a.path, a.argv, a.env, a.dir, a.uid, a.gid, groups, a.stdio)
	}
	return 0, k.rec("fork+execve %q %q %q %q %d:%d%s", a.path, a.argv, a.env, a.dir, a.uid, a.gid, groups)
}

// discard is a stage's connection for tests: the "exec" reply goes nowhere.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestEveryOpHandled runs every operation type through both switches:
// none may reach the "unhandled operation" default, so a new operation
// cannot be forgotten by the executor.
func TestEveryOpHandled(t *testing.T) {
	for _, op := range planner.AllOps() {
		c := &stage{sys: &fakeKernel{}, conn: discard{}}
		if err := c.do(0, planner.Step{Stage: planner.Child, Op: op}); err != nil && strings.Contains(err.Error(), "unhandled") {
			t.Errorf("child stage: %T: %v", op, err)
		}
		// The host side, after a clone, so that nothing is created.
		r := &envRun{a: &applier{}, env: &planner.Env{}, proc: &os.Process{}}
		if err := r.do(context.Background(), 0, planner.Step{Stage: planner.Host, Op: op}); err != nil && strings.Contains(err.Error(), "unhandled") {
			t.Errorf("host stage: %T: %v", op, err)
		}
	}
}

// TestStageCalls: each operation makes its call, with its arguments, in
// plan order.
func TestStageCalls(t *testing.T) {
	steps := []planner.Step{
		{Stage: planner.Child, Op: planner.Execve{Path: "/proc/self/exe", Argv: planner.StageArgv}},
		{Stage: planner.Child, Op: planner.Unshare{Flags: unix.CLONE_NEWTIME}},
		{Stage: planner.Child, Op: planner.TimeOffsets{Monotonic: 1e9}},
		{Stage: planner.Child, Op: planner.Mount{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE}},
		{Stage: planner.Child, Op: planner.Mount{Source: "/r", Target: "/r", Flags: unix.MS_BIND | unix.MS_REC}},
		{Stage: planner.Child, Op: planner.Mount{Source: "tmpfs", Target: "/tmp", FSType: "tmpfs", Data: "size=1m", Root: "/r", InRoot: true, Create: "dir"}},
		{Stage: planner.Child, Op: planner.Overlay{Target: "/o", Lower: "/o", UserXattr: true}},
		{Stage: planner.Child, Op: planner.Symlink{Target: "pts/ptmx", Link: "/dev/ptmx", Root: "/r"}},
		{Stage: planner.Child, Op: planner.Sethostname{Name: "h"}},
		{Stage: planner.Child, Op: planner.Setdomainname{Name: "d"}},
		{Stage: planner.Child, Op: planner.Chdir{Path: "/r"}},
		{Stage: planner.Child, Op: planner.PivotRoot{NewRoot: ".", PutOld: "."}},
		{Stage: planner.Child, Op: planner.Umount2{Target: ".", Flags: unix.MNT_DETACH}},
		{Stage: planner.Child, Op: planner.Prctl{Option: unix.PR_SET_NO_NEW_PRIVS, Arg: 1}},
		{Stage: planner.Child, Op: planner.MountSetattr{Path: "/data", Root: "/r", InRoot: true, Recursive: true, Set: unix.MOUNT_ATTR_RDONLY}},
		{Stage: planner.Child, Op: planner.Capset{Keep: []string{"CAP_KILL"}}},
		{Stage: planner.Child, Op: planner.CloseRange{First: 3}},
		{Stage: planner.Child, Op: planner.Seccomp{Flags: unix.SECCOMP_FILTER_FLAG_TSYNC, Program: make([]byte, 16)}},
		{Stage: planner.Init, Op: planner.Prlimit{Resource: unix.RLIMIT_NOFILE, Soft: 1, Hard: 2}},
		{Stage: planner.Init, Op: planner.Setctty{}},
		{Stage: planner.Init, Op: planner.Setgroups{Groups: []uint32{}}},
		{Stage: planner.Init, Op: planner.Setresgid{GID: 2}},
		{Stage: planner.Init, Op: planner.Setresuid{UID: 1}},
		{Stage: planner.Init, Op: planner.Execve{Path: "/bin/sh", Argv: []string{"sh"}, Env: []string{"A=b"}}},
		{Stage: planner.Init, Op: planner.Start{Process: "p", Path: "/bin/x", Argv: []string{"x"}, Env: []string{}, Cwd: "/w", UID: 3, GID: 4}},
		{Stage: planner.Init, Op: planner.Start{Process: "q", Path: "/bin/y", Argv: []string{"y"}, Env: []string{}, Cwd: "/", NoSetgroups: true}},
	}
	k := &fakeKernel{}
	c := &stage{sys: k, conn: discard{}}
	for i, st := range steps {
		if err := c.do(i, st); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []string{
		`unshare 0x80`,
		`write "/proc/$TID/timens_offsets" "monotonic 1 0\nboottime 0 0\n"`,
		`mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)`,
		`mount("/r", "/r", NULL, MS_BIND|MS_REC, NULL)`,
		`mount("tmpfs", <root>/tmp, "tmpfs", 0, "size=1m"), mkdir target if missing`,
		`overlay "/o" "/o" true false`,
		`symlink "/r" "pts/ptmx" "/dev/ptmx"`,
		`sethostname "h"`,
		`setdomainname "d"`,
		`chdir "/r"`,
		`pivot_root "." "."`,
		`umount2 "." 2`,
		`prctl on every thread 38 1`,
		`mount_setattr(<root>/data, AT_RECURSIVE, MOUNT_ATTR_RDONLY)`,
		`capset [CAP_KILL]`,
		`close_range 3`,
		`seccomp 0x1 2`,
		`prlimit 7 1 2`,
		`ioctl TIOCSCTTY`,
		`setgroups []`,
		`setresgid 2`,
		`setresuid 1`,
		`execve "/bin/sh" ["sh"] ["A=b"]`,
		`fork+execve "/bin/x" ["x"] [] "/w" 3:4`,
		`fork+execve "/bin/y" ["y"] [] "/" 0:0 groups kept`,
	}
	if !slices.Equal(k.calls, want) {
		t.Errorf("calls:\n  %s\nwant\n  %s", strings.Join(k.calls, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestImports: the executor imports only the plan types of this module
// (design.md) and its own store and lifecycle packages, which import only
// the plan types too, so that it applies plans and nothing else.
func TestImports(t *testing.T) {
	allowed := map[string][]string{
		".":         {"planner", "executor/store", "executor/lifecycle"},
		"store":     {"planner"},
		"lifecycle": {"planner"},
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
