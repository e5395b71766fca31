package executor_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestRootJoinPidLateReportNotForged (helper-162): the late clone's child
// holds nsup's report pipe until its execve, and root of the pid
// namespace it joins by path, with CAP_SYS_PTRACE on the host (another
// runtime's container), opens it through /proc/PID/fd. A record it
// writes there, the late clone's pid told again, made nsup take a host
// process of the holder's choosing (a pid of nsup's pid namespace, which
// it cannot even see) for b's: nsup waited for it, and killed it at the
// end. The holder writes that record while the late child is paused at
// its first step, the test kills the late child; the victim, a host
// process, must live, and the apply must fail.
func TestRootJoinPidLateReportNotForged(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	script := `while [ ! -e /shared/go ]; do sleep 0.02; done
read p f < /shared/go
if cat /shared/rec > /proc/$p/fd/$f; then echo wrote; else echo refused; fi > /shared/out 2>&1
mv /shared/out /shared/done
exec sleep 1000
`
	root, init := foreignPidHolder(t, dir, script)
	shared := filepath.Join(root, "shared")
	victim := exec.Command("sleep", "1000")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		victim.Process.Kill()
		victim.Wait()
	}()
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
	h := startHelper(t, p, fmt.Sprintf("b %d", late+1))
	waited := false
	defer func() {
		if !waited {
			h.cmd.Process.Kill()
			h.wait(t)
		}
	}()
	h.waitPaused(t, "b", late+1)
	kids := children(h.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("nsup's children: %v, want the late clone's child alone", kids)
	}
	child := kids[0]
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", child))
	if err != nil {
		t.Fatal(err)
	}
	inner := ""
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "NSpid:" {
			inner = f[len(f)-1]
		}
	}
	fd := ""
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", child))
	for _, f := range fds {
		n, _ := strconv.Atoi(f.Name())
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", child, f.Name())); n >= 6 && strings.HasPrefix(l, "pipe:") {
			fd = f.Name()
		}
	}
	if inner == "" || fd == "" {
		t.Fatalf("the late child's pid in the holder's namespace %q, its report pipe %q", inner, fd)
	}
	// The record the stage writes for its late clone: (reportPid, step,
	// pid), the victim's pid instead.
	var rec [24]byte
	binary.NativeEndian.PutUint64(rec[0:], 1)
	binary.NativeEndian.PutUint64(rec[8:], uint64(late))
	binary.NativeEndian.PutUint64(rec[16:], uint64(victim.Process.Pid))
	if err := os.WriteFile(filepath.Join(shared, "rec"), rec[:], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shared, "go"), []byte(inner+" "+fd+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i := 0; ; i++ {
		if out, err = os.ReadFile(filepath.Join(shared, "done")); err == nil {
			break
		}
		if i == 800 {
			t.Fatal("the holder did not write")
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Logf("the holder: %s", strings.TrimSpace(string(out)))
	unix.Kill(child, unix.SIGKILL) // paused for good: as a holder would end it
	code, stderr := h.wait(t)
	waited = true
	var ws unix.WaitStatus
	if pid, _ := unix.Wait4(victim.Process.Pid, &ws, unix.WNOHANG, nil); pid == victim.Process.Pid {
		t.Errorf("nsup killed the host process the holder named (%v); apply: %d %s", ws, code, stderr)
	}
	if code == 0 {
		t.Errorf("apply succeeded after a forged report: %s", stderr)
	}
}
