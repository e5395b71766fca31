package executor_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// foreignPidHolder starts a shell as another runtime would start it, host
// root with every capability (SYS_PTRACE among them) in a pid namespace
// of its own, chrooted in a root of its own (dir/holder/rootfs), running
// script; it returns that root and the pid of the namespace's init.
func foreignPidHolder(t *testing.T, dir, script string) (string, int) {
	t.Helper()
	root := busyboxRoot(t, filepath.Join(dir, "holder"))
	for _, d := range []string{filepath.Join(root, "shared"), filepath.Join(root, "proc")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	holder := exec.Command("unshare", "--pid", "--fork", "--kill-child", "--mount-proc="+filepath.Join(root, "proc"),
		"chroot", root, "/bin/sh", "-c", script)
	if err := holder.Start(); err != nil {
		skipOrFail(t, fmt.Sprintf("unshare: %v", err))
	}
	t.Cleanup(func() {
		holder.Process.Kill()
		holder.Wait()
	})
	for i := 0; ; i++ {
		if kids := children(holder.Process.Pid); len(kids) == 1 {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", kids[0])); strings.TrimSpace(string(b)) != "unshare" {
				return root, kids[0]
			}
		}
		if i == 400 {
			t.Fatal("unshare made no pid namespace")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// joinerByPath is the plan of b, which joins init's pid namespace by path.
func joinerByPath(t *testing.T, dir string, init int, command string) *planner.Plan {
	t.Helper()
	return compile(t, dir, fmt.Sprintf(`version: 1
environments:
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    join: {pid: /proc/%d/ns/pid}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: %s}
`, init, command))
}

// TestRootPtraceJoinerByPathStageUnreachable (helper-148): the window
// TestRootPtraceJoinerStageUnreachable closed for an environment of
// nsup's, left open for a pid namespace joined by path: the holder here
// is no environment of nsup's but a shell as another runtime would start
// it (foreignPidHolder). b joins that pid namespace by path and its child
// stage is paused before its first mount; the holder's probe writes
// through every /proc/PID/root it sees. Only a process whose root is the
// host's lets the write reach the host's file. The stage is outside that
// namespace now until its root switch (executor/rawlate.go).
func TestRootPtraceJoinerByPathStageUnreachable(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	escaped := filepath.Join(dir, "escaped")
	probe := fmt.Sprintf(`while [ ! -e /shared/go ]; do sleep 0.02; done
for p in /proc/[0-9]*; do
  echo "$p $(readlink $p/root 2>&1)"
  echo "$p" > $p/root%s && echo "$p: wrote the host's file"
done > /shared/out 2>&1
touch /shared/done
exec sleep 1000
`, escaped)
	root, init := foreignPidHolder(t, dir, probe)
	shared := filepath.Join(root, "shared")
	p := joinerByPath(t, dir, init, "[/bin/true]")
	first := -1
	for i, st := range p.Environments[0].Steps {
		if _, ok := st.Op.(planner.Mount); ok && st.Stage == planner.Child && first < 0 {
			first = i
		}
	}
	if first < 0 {
		t.Fatalf("no mount in b's child stage:\n%s", planText(p))
	}
	pausedStage(t, p, "b", first)
	if err := os.WriteFile(filepath.Join(shared, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(shared, "done")); err == nil {
			break
		}
		if i == 800 {
			t.Fatal("the holder's probe did not finish")
		}
		time.Sleep(25 * time.Millisecond)
	}
	out, _ := os.ReadFile(filepath.Join(shared, "out"))
	if !strings.Contains(string(out), "/proc/1 ") {
		t.Fatalf("the holder's probe saw no process: %s", out)
	}
	if b, err := os.ReadFile(escaped); err == nil {
		t.Errorf("root in the holder's pid namespace wrote the host's %s through b's child stage (%s); its probe:\n%s", escaped, strings.TrimSpace(string(b)), out)
	}
}

// TestRootJoinPidLateHoldsNothing: the first process of b in the pid
// namespace it joins by path, the late clone's child, paused at its first
// step, is in that namespace, has b's root (not the host's) and holds no
// fd of nsup's but fds 0 to 5 (stdio, init's channels), the report pipe
// and nsup's binary for init's execveat; the stage that made it is gone.
func TestRootJoinPidLateHoldsNothing(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	rootfs := busyboxRoot(t, dir)
	_, init := foreignPidHolder(t, dir, "exec sleep 1000")
	p := joinerByPath(t, dir, init, "[/bin/true]")
	late := -1
	for i, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.Clone); ok && op.Late {
			late = i
		}
	}
	if late < 0 {
		t.Fatalf("no late clone in b's plan:\n%s", planText(p))
	}
	stage := pausedStage(t, p, "b", late+1)
	if len(stage) != 1 {
		t.Fatalf("nsup's children: %v, want the late clone's child alone", stage)
	}
	pid := stage[0]
	want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); got != want {
		t.Errorf("the late clone's child is in %s, want %s (the holder's)", got, want)
	}
	var root, own unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/root", pid), &root); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(rootfs, &own); err != nil {
		t.Fatal(err)
	}
	if root.Dev != own.Dev || root.Ino != own.Ino {
		t.Errorf("the late clone's child's root is not b's")
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var pipes, other []string
	for _, f := range fds {
		n, _ := strconv.Atoi(f.Name())
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, f.Name()))
		switch {
		case n < 6:
		case strings.HasPrefix(l, "pipe:"):
			pipes = append(pipes, f.Name()+" "+l)
		case l == exeOf(t):
		default:
			other = append(other, f.Name()+" "+l)
		}
	}
	if len(other) > 0 || len(pipes) > 1 {
		t.Errorf("the late clone's child holds fds of nsup's besides the report pipe and its binary: %v %v", other, pipes)
	}
}

// exeOf is the test binary, as /proc/PID/fd shows it.
func exeOf(t *testing.T) string {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestRootJoinPidByPathRuns: b's process runs in the pid namespace it
// joins by path, and its /proc is that namespace's.
func TestRootJoinPidByPathRuns(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	_, init := foreignPidHolder(t, dir, "exec sleep 1000")
	p := joinerByPath(t, dir, init, `[/bin/sh, -c, 'readlink /proc/self/ns/pid; cat /proc/1/cmdline']`)
	var stdout syncBuffer
	st, err := executor.Apply(context.Background(), p, executor.Options{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stdout})
	if err != nil || st != 0 {
		t.Fatalf("apply: %d, %v; output %q", st, err, stdout.String())
	}
	want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if got := stdout.String(); !strings.Contains(got, want) || !strings.Contains(got, "sleep\x001000") {
		t.Errorf("b's process said %q, want its pid namespace %s and the holder's /proc/1/cmdline (sleep 1000)", got, want)
	}
}
