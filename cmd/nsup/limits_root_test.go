package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

func statErr(p string) error {
	_, err := os.Stat(p)
	return err
}

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

// TestRootCgroupParent: with NSUP_CGROUP_PARENT the environment's groups
// go under that group in every hierarchy (made by the test here, as an
// administrator would), with its limits; the process is in them from the
// start; down finds them from the state even without the variable, and
// they are gone after, nsup/ too, the parent left as it was.
func TestRootCgroupParent(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	t.Setenv("NSUP_STATE_DIR", filepath.Join(dir, "state"))
	parent := fmt.Sprintf("/nsuptest.%d", os.Getpid())
	hier := []string{"unified", "memory", "pids", "cpu"}
	for _, h := range hier {
		d := filepath.Join("/sys/fs/cgroup", h) + parent
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// What a failure left first, so that the host is as it was.
			left, _ := filepath.Glob(d + "/nsup/*")
			for _, g := range left {
				if fi, err := os.Stat(g); err == nil && fi.IsDir() {
					t.Errorf("%s left", g)
					lifecycle.RemoveGroup(g)
				}
			}
			unix.Rmdir(d + "/nsup")
			if err := unix.Rmdir(d); err != nil {
				t.Errorf("the parent %s: %v (not left as it was)", d, err)
			}
		})
	}
	t.Setenv("NSUP_CGROUP_PARENT", parent)
	f := filepath.Join(dir, "web.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  web:
    rootfs: {closure: [/bin/sh, /bin/cat, /bin/sleep]}
    namespaces: [mnt, pid]
    limits: {memory: 64M, pids: 100, cpu: 0.5}
    mounts: [{type: proc, target: /proc}]
    processes:
      - {name: main, command: [/bin/sh, -c, "cat /proc/self/cgroup; exec sleep ${NAP:-0}"]}
`), 0o644)
	// In the foreground: inside, every group it uses is under the parent.
	code, out, errs := nsup(t, "apply", f)
	if code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errs)
	}
	for _, h := range []string{"memory", "pids", "cpu", ""} {
		want := fmt.Sprintf(":%s:%s/nsup/web.%d\n", h, parent, os.Getpid())
		if !strings.Contains(out, want) {
			t.Errorf("inside, /proc/self/cgroup has no %q:\n%s", want, out)
		}
	}

	// Detached.
	os.WriteFile(f, []byte(strings.Replace(string(mustRead(t, f)), "${NAP:-0}", "1000", 1)), 0o644)
	if code, out, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d\n%s\n%s", code, out, errs)
	}
	groups, _ := filepath.Glob("/sys/fs/cgroup/*" + parent + "/nsup/web.s*")
	if len(groups) != len(hier) {
		nsup(t, "down", "web")
		t.Fatalf("groups under the parent: %v, want one in each of %v", groups, hier)
	}
	for file, want := range map[string]string{"memory/%s/memory.limit_in_bytes": "67108864", "pids/%s/pids.max": "100", "cpu/%s/cpu.cfs_quota_us": "50000"} {
		p := filepath.Join("/sys/fs/cgroup", fmt.Sprintf(file, strings.TrimPrefix(parent, "/")+"/nsup/"+filepath.Base(groups[0])))
		if got := strings.TrimSpace(string(mustRead(t, p))); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	code, out, errs = nsup(t, "ps")
	if code != 0 || !strings.Contains(out, "/100") || !strings.Contains(out, "64") {
		t.Errorf("ps shows no use against the limits: %d\n%s\n%s", code, out, errs)
	}
	// down, without the variable: the state says where the groups are.
	t.Setenv("NSUP_CGROUP_PARENT", "")
	if code, out, errs := nsup(t, "down", "web"); code != 0 {
		t.Fatalf("down: %d\n%s\n%s", code, out, errs)
	}
	for _, h := range hier {
		if d := filepath.Join("/sys/fs/cgroup", h) + parent + "/nsup"; !errors.Is(statErr(d), os.ErrNotExist) {
			t.Errorf("%s after down", d)
		}
	}
}

// TestRootRootlessCgroupParent: rootless, in a cgroup v2 subtree
// delegated to the user as systemd delegates user@UID.service (the
// folder and its cgroup.procs, cgroup.subtree_control and cgroup.threads
// the user's), nsup runs in one group of it and NSUP_CGROUP_PARENT names
// another: the environment's group is made there, and the child is born
// in it (clone3 with CLONE_INTO_CGROUP, which needs the subtree's
// cgroup.procs). This host delegates no memory or pids in v2, so the
// default pids limit is left out, and said.
func TestRootRootlessCgroupParent(t *testing.T) {
	u, dir, bin, cache := rootlessCase(t)
	sub := fmt.Sprintf("/nsupdeleg.%d", os.Getpid())
	top := "/sys/fs/cgroup/unified" + sub
	for _, d := range []string{top, top + "/self", top + "/parent"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range []string{top + "/parent/nsup", top + "/parent", top + "/self/nsup", top + "/self", top} {
			if strings.HasSuffix(d, "/nsup") && statErr(d) == nil {
				t.Errorf("%s left by nsup", d)
			}
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				t.Errorf("rmdir %s: %v", d, err)
			}
		}
	})
	for _, f := range []string{top, top + "/cgroup.procs", top + "/cgroup.subtree_control", top + "/cgroup.threads"} {
		if err := os.Chown(f, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{top + "/self", top + "/parent"} {
		filepath.WalkDir(d, func(p string, _ fs.DirEntry, _ error) error { return os.Lchown(p, u.uid, u.gid) })
	}
	spec := filepath.Join(dir, "c.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  c:
    rootfs: {closure: [/bin/cat]}
    namespaces: [mnt, pid]
    mounts: [{type: proc, target: /proc}]
    processes:
      - {name: main, command: [/bin/cat, /proc/self/cgroup]}
`), 0o644)
	fd, err := unix.Open(top+"/self", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	env := []string{"XDG_CACHE_HOME=" + cache, "NSUP_CGROUP_PARENT=" + sub + "/parent"}
	code, plan, errs := u.asIn(t, fd, env, bin, "plan", spec)
	if code != 0 || !strings.Contains(plan, `mkdir("`+top+`/parent/nsup/c.$NSUP", 0755)`) ||
		!strings.Contains(plan, "# c: no pids limit (the default is 2048): NSUP_CGROUP_PARENT=") {
		t.Fatalf("plan: exit %d %s\n%s", code, errs, plan)
	}
	code, out, errs := u.asIn(t, fd, env, bin, "apply", spec)
	if code != 0 || !regexp.MustCompile(`(?m)^0::`+regexp.QuoteMeta(sub)+`/parent/nsup/c\.[0-9]+$`).MatchString(out) {
		t.Fatalf("apply: exit %d %s\n%s", code, errs, out)
	}
	// Without the parent: in its own group (the user's), under it; in
	// the root group, which is not its, none.
	code, out, errs = u.asIn(t, fd, env[:1], bin, "apply", spec)
	if code != 0 || !regexp.MustCompile(`(?m)^0::`+regexp.QuoteMeta(sub)+`/self/nsup/c\.[0-9]+$`).MatchString(out) {
		t.Errorf("apply in its own group: exit %d %s\n%s", code, errs, out)
	}
	code, plan, errs = u.as(t, env[:1], bin, "plan", spec)
	if code != 0 || strings.Contains(plan, "mkdir(\"/sys/fs/cgroup") || !strings.Contains(plan, "rootless: no cgroup of its own") {
		t.Errorf("plan in the root group: exit %d %s\n%s", code, errs, plan)
	}
}

// TestRootCleanCgroupsOtherPidNamespace: a group in nsup/ whose process
// this nsup cannot see (an nsup in another pid namespace sharing the
// folder: its pid says nothing here) is not cleaned up by ps, nor its
// process killed.
func TestRootCleanCgroupsOtherPidNamespace(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	home := "/sys/fs/cgroup/unified/nsup"
	madeHome := statErr(home) != nil
	g := filepath.Join(home, "foreign.999999999")
	if err := os.MkdirAll(g, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lifecycle.RemoveGroup(g)
		if madeHome {
			unix.Rmdir(home)
		}
	})
	fd, err := unix.Open(g, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sleep := exec.Command("/bin/sleep", "1000")
	sleep.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, Pdeathsig: unix.SIGKILL}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", buildNsup(t), "ps")
	cmd.Env = append(os.Environ(), "NSUP_STATE_DIR="+filepath.Join(dir, "state"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ps in a pid namespace of its own: %v\n%s", err, out)
	}
	// Not reaped, a killed process stays as a zombie: its state says.
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", sleep.Process.Pid)); err != nil || strings.Contains(string(st), ") Z ") {
		t.Errorf("the other pid namespace's process was killed: %s %v", st, err)
	}
	if statErr(g) != nil {
		t.Errorf("%s was removed", g)
	}
}
