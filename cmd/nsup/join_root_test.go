package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRootJoinedMntPlantedProc: root in environment a (its own pid
// namespace, a writable root without a proc mount) writes
// /proc/self/task/1/children in its tree, naming a host process it cannot
// see. Environment b joins a's mount namespace without a pid namespace of
// its own: its init is not PID 1, and when b's main process exits, init
// kills what is left of b, its children, read from /proc. It read a's
// planted file and SIGKILLed the host's process (found by a review); now
// it reads only a procfs of its own.
func TestRootJoinedMntPlantedProc(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	bin := buildNsup(t)
	dir := t.TempDir()
	victim := exec.Command("sleep", "1000")
	victim.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- victim.Wait() }()
	defer func() {
		victim.Process.Kill()
		<-done
	}()
	spec := fmt.Sprintf(`version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh, /bin/busybox], overlay: true}
    namespaces: [mnt, pid, uts, ipc, net]
    processes:
      - name: main
        command: [/bin/sh, -c, 'busybox mkdir -p /proc/self/task/1 && echo %d > /proc/self/task/1/children && exec busybox sleep 1000']
  b:
    rootfs: {closure: [/bin/sh, /bin/busybox]}
    namespaces: []
    join: {mnt: a}
    processes:
      - name: main
        command: [/bin/busybox, sleep, "1"]
      - name: side
        command: [/bin/busybox, sleep, "100"]
`, victim.Process.Pid)
	file := filepath.Join(dir, "nsup.yaml")
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "NSUP_STATE_DIR="+filepath.Join(dir, "state"), "NSUP_CACHE_DIR="+filepath.Join(dir, "cache"), "NO_COLOR=1")
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	defer run("down", file)
	if code, out := run("apply", "-d", file); code != 0 {
		t.Fatalf("apply -d: %d\n%s", code, out)
	}
	// b's main ends after 1 s; its init then kills what is left (side)
	// and exits.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, out := run("ps", "-a")
		bUp := false
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[1] == "b" && f[2] == "running" {
				bUp = true
			}
		}
		if !bUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b still runs after 10 s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case err := <-done:
		done <- err
		t.Errorf("the host's process %d (outside a's pid namespace) was killed by b's init, reading a's planted /proc: %v", victim.Process.Pid, err)
	case <-time.After(1500 * time.Millisecond):
	}
}
