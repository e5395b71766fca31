package executor_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner/cgroup"
	"golang.org/x/sys/unix"
)

// TestRootGroupKilledFirst (helper-81's review, low): RemoveGroup (nsup
// down, and the next apply's clean-up of what an ended environment
// left) kills what is in a group before it removes the groups made
// inside it. It removed those first: a process of the environment in
// the top group, where its cgroups are writable to it, ran on while its
// groups went, and could make new ones as fast as they were removed, so
// that down never got to kill it. Here P, in the top group, waits on a
// pipe whose only writer is Q, in a group inside it: Q's death wakes P,
// which then writes a file. Before the fix Q was killed with its group
// first, and P wrote the file; now both die at once (cgroup.kill of the
// top group) and P runs no more.
func TestRootGroupKilledFirst(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	l, err := cgroup.Discover(os.DirFS("/"))
	if err != nil || l.Unified == nil {
		t.Fatalf("no unified hierarchy here (%v): the v2 path is untested", err)
	}
	home := filepath.Join(l.Unified.Dir(l.Unified.Group), "nsup")
	g := filepath.Join(home, fmt.Sprintf("killfirst.%d", os.Getpid()))
	sub := filepath.Join(g, "inner")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lifecycle.RemoveGroup(g) })
	marker := filepath.Join(t.TempDir(), "ran")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	start := func(dir string, cmd *exec.Cmd) {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, Pdeathsig: unix.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	p := exec.Command("/bin/sh", "-c", `read x; echo ran > "$1"; mkdir "$2/again"`, "sh", marker, g)
	p.Stdin = r
	start(g, p)
	q := exec.Command("/bin/sleep", "1000")
	q.Stdout = w
	start(sub, q)
	r.Close()
	w.Close() // Q holds the only writer now
	if err := lifecycle.RemoveGroup(g); err != nil {
		t.Errorf("RemoveGroup: %v", err)
		p.Process.Kill()
		q.Process.Kill()
	}
	for _, c := range []*exec.Cmd{p, q} {
		if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("%s: %v, want killed", c.Args[0], err)
		}
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("P, in %s, ran after Q, in %s, was killed (it wrote %q): it could make groups while they are removed", g, sub, b)
	}
	if _, err := os.Stat(g); !os.IsNotExist(err) {
		t.Errorf("%s after RemoveGroup: %v", g, err)
	}
}
