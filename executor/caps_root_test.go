package executor_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestRootCapabilities: a root process inside keeps only the planned
// capabilities, in its effective, permitted and bounding sets, so it can
// neither make a device node of the host's disk nor mount anything, and
// setuid binaries could not give more back (no_new_privs aside).
func TestRootCapabilities(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, a := range []string{"mknod", "mount"} {
		os.Symlink("busybox", dir+"/rootfs/bin/"+a)
	}
	p := compile(t, dir, `version: 1
environments:
  caps:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, uts, ipc, net]
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
            echo "== status"; grep -E '^Cap(Eff|Prm|Bnd|Amb|Inh):' /proc/self/status
            echo "== mknod"; mknod /tmp/disk b 254 0 2>&1 && echo "made a device node"
            echo "== mount"; mount -t tmpfs none /tmp 2>&1 && echo "mounted"
            true
`)
	out := runOK(t, p)
	s := sections(out)
	var want uint64
	for _, n := range planner.DefaultCapabilities {
		want |= 1 << capNumber(t, n)
	}
	got := map[string]uint64{}
	for _, l := range s["status"] {
		f := strings.Fields(l)
		v, err := strconv.ParseUint(f[1], 16, 64)
		if err != nil {
			t.Fatal(l)
		}
		got[strings.TrimSuffix(f[0], ":")] = v
	}
	for k, w := range map[string]uint64{"CapEff": want, "CapPrm": want, "CapBnd": want, "CapAmb": 0, "CapInh": 0} {
		if got[k] != w {
			t.Errorf("%s = %#x, want %#x", k, got[k], w)
		}
	}
	if m := strings.Join(s["mknod"], " "); strings.Contains(m, "made a device node") || !strings.Contains(m, "not permitted") {
		t.Errorf("mknod of a block device: %q, want EPERM", m)
	}
	// busybox words EPERM from mount(2) as "permission denied (are you root?)".
	if m := strings.Join(s["mount"], " "); strings.Contains(m, "mounted") || !strings.Contains(m, "permission denied") {
		t.Errorf("mount: %q, want EPERM", m)
	}
}

// capNumber is the bit of a capability name, from capabilities(7).
func capNumber(t *testing.T, name string) uint {
	nums := map[string]uint{"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4,
		"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10,
		"CAP_SYS_CHROOT": 18, "CAP_SYS_ADMIN": 21, "CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31}
	n, ok := nums[name]
	if !ok {
		t.Fatalf("capNumber: add %s", name)
	}
	return n
}

// TestRootLoopbackUp: a new network namespace has lo, up (IFF_UP|
// IFF_LOOPBACK = 0x9 in sysfs), and only lo.
func TestRootLoopbackUp(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  net:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net]
    mounts:
      - {type: sysfs, target: /sys}
    processes:
      - {name: main, command: [/bin/sh, -c, 'echo "== flags"; cat /sys/class/net/lo/flags; echo "== links"; ls /sys/class/net']}
`)
	out := runOK(t, p)
	s := sections(out)
	if got := strings.Join(s["flags"], ""); got != "0x9" {
		t.Errorf("lo flags %q, want 0x9 (up, loopback)", got)
	}
	if got := strings.Join(s["links"], " "); got != "lo" {
		t.Errorf("interfaces %q, want only lo", got)
	}
}

// TestRootInitNotReachable: root inside cannot reach nsup's init through
// /proc/1: not its binary (the host's nsup, CVE-2019-5736), not its fds.
func TestRootInitNotReachable(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  init:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: dev, target: /dev}
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
            echo "== exe"; cat /proc/1/exe > /dev/null 2>&1 && echo "read nsup's binary" || echo denied
            echo "== link"; readlink /proc/1/exe >/dev/null 2>&1 && echo "resolved" || echo denied
            echo "== fds"; readlink /proc/1/fd/0 > /dev/null 2>&1 && echo "resolved init's fd 0" || echo denied
            echo "== self"; cat /proc/self/exe > /dev/null && echo ok
`)
	out := runOK(t, p)
	s := sections(out)
	for _, k := range []string{"exe", "link", "fds"} {
		if got := strings.Join(s[k], " "); got != "denied" {
			t.Errorf("%s of PID 1: %q, want denied", k, got)
		}
	}
	// The processes init starts are dumpable again: their own /proc works.
	if got := strings.Join(s["self"], " "); got != "ok" {
		t.Errorf("the main process reading its own /proc/self/exe: %q", got)
	}
}

// TestRootStageNotDumpableWithDroppedCaps: the child stage is not
// dumpable by the time its capabilities are down to the kept set: else a
// root process of the host's user namespace with that set (root inside
// another environment that can see the stage: one without a pid
// namespace, or whose pid namespace the environment joins) passes the
// ptrace access check in between, and can open /proc/PID/exe, the host's
// nsup binary (CVE-2019-5736), or /proc/PID/fd, the state and the
// setup channel. Paused between capset and the next step, the stage is
// looked at by such a process (setpriv with the kept set as its bounding
// set).
func TestRootStageNotDumpableWithDroppedCaps(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		skipOrFail(t, "no setpriv(1)")
	}
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  stage:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/true]}
`)
	after := -1
	for i, st := range p.Environments[0].Steps {
		if _, ok := st.Op.(planner.Capset); ok {
			after = i + 1
		}
	}
	stage := pausedStage(t, p, "stage", after)
	var caps []string
	for _, c := range planner.DefaultCapabilities {
		caps = append(caps, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	out, err := exec.Command(setpriv, "--bounding-set", "-all,"+strings.Join(caps, ","), "--", "readlink", fmt.Sprintf("/proc/%d/exe", stage[0])).CombinedOutput()
	if err == nil {
		t.Errorf("a root process with the kept capabilities resolved the paused stage's /proc/%d/exe: %s", stage[0], out)
	}
}

// TestRootForkedCopyHidesArgs: an environment that joins a pid namespace
// is made by a forked copy of nsup, whose child stage is in that pid
// namespace from its start: its /proc/PID/cmdline, which anyone there may
// read, showed nsup's command line (paths of the host) until the
// environment's execve (found by a review). The copy blanks it first.
func TestRootForkedCopyHidesArgs(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	holder := exec.Command("unshare", "--pid", "--fork", "sleep", "1000")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		holder.Process.Kill()
		holder.Wait()
	}()
	var inside []int
	for i := 0; len(inside) == 0; i++ {
		if i == 400 {
			t.Fatal("no process in the holder's pid namespace")
		}
		time.Sleep(5 * time.Millisecond)
		inside = children(holder.Process.Pid)
	}
	defer unix.Kill(inside[0], unix.SIGKILL)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, fmt.Sprintf(`version: 1
environments:
  joiner:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    join: {pid: /proc/%d/ns/pid}
    processes:
      - {name: main, command: [/bin/true]}
`, inside[0]))
	first := -1
	for i, st := range p.Environments[0].Steps {
		if _, ok := st.Op.(planner.Mount); ok && st.Stage == planner.Child && first < 0 {
			first = i
		}
	}
	if first < 0 {
		t.Fatal("no mount in the child stage")
	}
	stage := pausedStage(t, p, "joiner", first)
	for _, pid := range stage {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.Trim(string(b), "\x00"); s != "" {
			t.Errorf("the child stage (pid %d) in the joined pid namespace shows nsup's command line: %q", pid, s)
		}
	}
}

// TestRootArgsUnknownRefused: where nsup's command line and environment
// cannot be found to be blanked, an environment whose PID 1 is a copy of
// nsup (the minimal monitor) is refused, not started with them there for
// its processes to read in /proc/1/cmdline and environ (found by a
// review); the same plan applies once they are found.
func TestRootArgsUnknownRefused(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  monitored:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/true]}
`)
	restore := executor.HideArgsUnknown()
	st, _, errOut, err := run(t, p, executor.Options{})
	restore()
	if err == nil || !strings.Contains(err.Error(), "not found in /proc/self/stat") {
		t.Errorf("apply with nsup's arguments not found: %d, %v, %s; want refused", st, err, errOut)
	}
	if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Errorf("apply: %d, %v, %s", st, err, errOut)
	}
}

// pausedStage applies p in a helper paused before step of env, and
// returns the pids of its child stage (the children of the helper's
// threads); the helper is killed as the test ends.
func pausedStage(t *testing.T, p *planner.Plan, env string, step int) []int {
	t.Helper()
	h := startHelper(t, p, fmt.Sprintf("%s %d", env, step))
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		h.wait(t)
	})
	h.waitPaused(t, env, step)
	stage := children(h.cmd.Process.Pid)
	if len(stage) == 0 {
		t.Fatal("no child stage")
	}
	return stage
}
