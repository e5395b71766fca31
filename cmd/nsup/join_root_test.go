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
//
// As root, the host's pid namespace is refused outside a user namespace
// that maps root elsewhere: a has one (root inside is the host's uid
// 100000), which b joins with a's mount namespace, and the host's process
// runs as uid 100000, which root inside may signal.
func TestRootJoinedMntPlantedProc(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	checkHost(t)
	bin := buildNsup(t)
	dir := t.TempDir()
	// A root tree the mapped ids may read (nsup's cache is root's only).
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "bin"), 0o755)
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tree, "bin", "busybox"), bb, 0o755)
	os.Symlink("busybox", filepath.Join(tree, "bin", "sh"))
	victim := exec.Command("sleep", "1000")
	victim.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: 100000, Gid: 100000}}
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
    rootfs: {dir: %s, overlay: true}
    namespaces: [user, mnt, pid, uts, ipc, net]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
    processes:
      - name: main
        command: [/bin/sh, -c, 'busybox mkdir -p /proc/self/task/1 && echo %d > /proc/self/task/1/children && exec busybox sleep 1000']
  b:
    rootfs: {dir: %s}
    namespaces: []
    join: {user: a, mnt: a}
    processes:
      - name: main
        command: [/bin/busybox, sleep, "1"]
      - name: side
        command: [/bin/busybox, sleep, "100"]
`, tree, victim.Process.Pid, tree)
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
