package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRootLimitsRefused: a limit this host cannot honour is refused at
// plan time, exit 2, naming its key: more CPUs than the host has.
func TestRootLimitsRefused(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "big.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  big:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt]
    limits: {cpu: 1024}
    processes:
      - {name: main, command: [/bin/sh, -c, "true"]}
`), 0o644)
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	code, _, errs := nsup(t, "plan", f)
	if code != 2 || !strings.Contains(errs, "big.yaml:6:19: environments.big.limits.cpu: 1024 CPUs, but this host has") {
		t.Errorf("plan: exit %d\n%s", code, errs)
	}
}

// TestRootLimitsKilledNsup: the groups of an environment whose nsup was
// killed (SIGKILL: nothing of nsup's ran after) are there until the next
// nsup command (here ps) removes them; its processes died with nsup.
func TestRootLimitsKilledNsup(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := filepath.Join(dir, "k.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  killed:
    rootfs: {closure: [/bin/sh, /bin/sleep]}
    namespaces: [mnt, pid]
    limits: {pids: 32}
    processes:
      - {name: main, command: [/bin/sleep, "1000"]}
`), 0o644)
	cmd := exec.Command(buildNsup(t), "apply", f)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	group := filepath.Join("/sys/fs/cgroup/pids/nsup", "killed."+strconv.Itoa(cmd.Process.Pid))
	for i := 0; ; i++ {
		if b, err := os.ReadFile(filepath.Join(group, "cgroup.procs")); err == nil && len(strings.Fields(string(b))) > 0 {
			break
		}
		if i == 400 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%s never had a process", group)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// Its processes go (the parent-death signal, then the pid namespace).
	for i := 0; ; i++ {
		b, _ := os.ReadFile(filepath.Join(group, "cgroup.procs"))
		if len(strings.Fields(string(b))) == 0 {
			break
		}
		if i == 400 {
			t.Fatalf("%s still has %s", group, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(group); err != nil {
		t.Fatalf("%s is gone before any nsup command: %v", group, err)
	}
	if code, _, errs := nsup(t, "ps"); code != 0 {
		t.Fatalf("ps: %d %s", code, errs)
	}
	if _, err := os.Stat(group); !os.IsNotExist(err) {
		t.Errorf("%s is still there after nsup ps: %v", group, err)
	}
}

// TestRootLimitsTwoStateDirs: a detached environment's groups are its
// state directory's: nsup ps (which removes ended environments' groups)
// with another state directory leaves a running one of the same name
// alone, and down removes only its own.
func TestRootLimitsTwoStateDirs(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := filepath.Join(dir, "web.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  web:
    rootfs: {closure: [/bin/sh, /bin/sleep]}
    namespaces: [mnt, pid]
    limits: {pids: 64}
    processes:
      - {name: main, command: [/bin/sleep, "1000"]}
`), 0o644)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, st := range []string{a, b} {
		t.Setenv("NSUP_STATE_DIR", st)
		if code, _, errs := nsup(t, "apply", "-d", f); code != 0 {
			t.Fatalf("apply -d in %s: %d %s", st, code, errs)
		}
	}
	defer func() {
		for _, st := range []string{a, b} {
			t.Setenv("NSUP_STATE_DIR", st)
			nsup(t, "down", "web")
		}
	}()
	// b's web taken down: a's, running, must not notice.
	if code, _, errs := nsup(t, "down", "web"); code != 0 {
		t.Fatalf("down in b: %d %s", code, errs)
	}
	t.Setenv("NSUP_STATE_DIR", b)
	nsup(t, "ps")
	t.Setenv("NSUP_STATE_DIR", a)
	code, out, errs := nsup(t, "ps")
	if code != 0 || !strings.Contains(out, "running") || !strings.Contains(out, "/64") {
		t.Fatalf("ps in a after b's down and ps: %d\n%s\n%s", code, out, errs)
	}
}
