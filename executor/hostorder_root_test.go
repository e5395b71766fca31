package executor_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/planner"
)

// TestRootChildWaitsForHostSteps: the child waits for the host's steps
// that the plan puts after its clone (here nsup's thread back in its own
// v1 group) before its own: held before such a step, apply has not run
// the process, and the child is blocked reading the launcher's pipe. A
// child that went on ran its process while the host step might yet fail,
// and what it wrote outlived the rollback (CI: TestRootVolumes).
func TestRootChildWaitsForHostSteps(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	applets(t, filepath.Join(dir, "rootfs"), "sh")
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	p := compile(t, dir, `version: 1
environments:
  e:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./out, target: /out, readonly: false}
    processes:
      - name: main
        command: [/bin/sh, -c, "echo ran > /out/ran"]
`)
	env := p.Environments[0]
	step, cloned := -1, false
	for i, st := range env.Steps {
		if _, ok := st.Op.(planner.Clone); ok {
			cloned = true
		} else if cloned && st.Stage == planner.Host {
			step = i
			break
		} else if cloned {
			break
		}
	}
	if step < 0 {
		skipOrFail(t, "no host step after the clone on this host (no v1 group to join back): nothing to wait for")
	}
	h := startHelper(t, p, fmt.Sprintf("e %d", step))
	h.waitPaused(t, "e", step)
	defer h.wait(t)
	defer h.cmd.Process.Kill()
	ran := filepath.Join(out, "ran")
	for i := 0; ; i++ {
		if _, err := os.Lstat(ran); err == nil {
			t.Fatalf("held before host step %d (%s), the process ran", step, planner.FormatOp(env.Steps[step].Op))
		}
		if kids := children(h.cmd.Process.Pid); len(kids) == 1 && readingPipe(kids[0]) {
			break
		}
		if i == 800 {
			t.Fatalf("the child is neither waiting nor done: %v", children(h.cmd.Process.Pid))
		}
		time.Sleep(25 * time.Millisecond)
	}
	if _, err := os.Lstat(ran); err == nil {
		t.Errorf("held before host step %d, the process ran", step)
	}
}

// readingPipe says whether process pid is blocked in read(2) of a pipe.
func readingPipe(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
	f := strings.Fields(string(b))
	if err != nil || len(f) < 2 || f[0] != "0" {
		return false
	}
	fd, err := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 32)
	if err != nil {
		return false
	}
	link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	return strings.HasPrefix(link, "pipe:")
}
