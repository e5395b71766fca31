package executor_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
)

// utsHolder starts a process of its own uts namespace, named name, and
// returns its pid once the name is set; it is killed when the test ends.
func utsHolder(t *testing.T, bb, name string) int {
	t.Helper()
	cmd := exec.Command(bb, "sh", "-c", "hostname "+name+" && echo ready && exec sleep 600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("holder %s: %q %v", name, line, err)
	}
	return cmd.Process.Pid
}

// TestRootJoinPathSwapped: a namespace joined by path is the namespace
// the plan was made for, or none. The planner judges a join by path on
// the file as it is then (whose user namespace owns it, whether it is
// the host's: userns.go, hostreach.go), and a /proc/PID path names
// another process's namespace once the PID is reused; here a symlink is
// swapped between plan and apply, as a reused PID would be. Before the
// plan carried the namespace's identity, apply joined the other one.
func TestRootJoinPathSwapped(t *testing.T) {
	requireRoot(t)
	bb := requireBusybox(t)
	checkHost(t)
	a, b := utsHolder(t, bb, "alpha"), utsHolder(t, bb, "beta")
	yaml := func(path string) string {
		return `version: 1
environments:
  joiner:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {uts: ` + path + `}
    processes:
      - {name: main, command: [/bin/busybox, hostname]}
`
	}
	var aNS syscall.Stat_t
	if err := syscall.Stat("/proc/"+strconv.Itoa(a)+"/ns/uts", &aNS); err != nil {
		t.Fatal(err)
	}

	t.Run("planned", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "ns")
		if err := os.Symlink("/proc/"+strconv.Itoa(a)+"/ns/uts", link); err != nil {
			t.Fatal(err)
		}
		p := compile(t, dir, yaml(link))
		op := setnsOf(t, p)
		if op.NS != aNS.Ino || op.Owner == 0 {
			t.Errorf("planned %+v, want the holder's namespace %d and an owner", op.NSIdentity, aNS.Ino)
		}
		if want := "= uts:[" + strconv.FormatUint(aNS.Ino, 10) + "]"; !strings.Contains(planText(p), want) {
			t.Errorf("the plan does not say %q:\n%s", want, planText(p))
		}
		if out := runOK(t, p); out != "alpha\n" {
			t.Errorf("hostname inside: %q, want alpha", out)
		}
	})
	t.Run("swapped", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "ns")
		if err := os.Symlink("/proc/"+strconv.Itoa(a)+"/ns/uts", link); err != nil {
			t.Fatal(err)
		}
		p := compile(t, dir, yaml(link))
		os.Remove(link)
		if err := os.Symlink("/proc/"+strconv.Itoa(b)+"/ns/uts", link); err != nil {
			t.Fatal(err)
		}
		started := false
		_, out, _, err := run(t, p, executor.OnStart(executor.Options{}, func(string, int) { started = true }))
		if err == nil || !strings.Contains(err.Error(), "is no longer the namespace planned (uts:["+strconv.FormatUint(aNS.Ino, 10)+"]") {
			t.Errorf("apply: %v (output %q), want the swap refused", err, out)
		}
		if started {
			t.Error("the environment was started")
		}
		noCacheLeft(t, dir, false)
	})
	t.Run("not there when planned", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "ns")
		p := compile(t, dir, yaml(link))
		if err := os.Symlink("/proc/"+strconv.Itoa(a)+"/ns/uts", link); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(planText(p), "(no uts namespace nsup could open there when planned: apply refuses it)") {
			t.Errorf("the plan does not say the file was not opened:\n%s", planText(p))
		}
		_, out, _, err := run(t, p, executor.Options{})
		if err == nil || !strings.Contains(err.Error(), "could not be opened when the plan was made") {
			t.Errorf("apply: %v (output %q), want it refused", err, out)
		}
		noCacheLeft(t, dir, false)
	})
}

func setnsOf(t *testing.T, p *planner.Plan) planner.Setns {
	t.Helper()
	for _, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.Setns); ok {
			return op
		}
	}
	t.Fatalf("no setns in the plan:\n%s", planText(p))
	return planner.Setns{}
}
