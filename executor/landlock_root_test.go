package executor_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRootLandlockHostNet: an environment in the host's network
// namespace connects to no abstract unix socket of the host's. Root
// inside is the host's uid 0 there (any uid, with SETUID), and a server
// that trusts its peer's credentials took it for the host's root
// (containerd's shim API, CVE-2020-15257); before the plan scoped it
// (Landlock), the probe connected.
func TestRootLandlockHostNet(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	name := "nsup-test-abstract-" + strconv.Itoa(os.Getpid())
	// Non-blocking: once the probes have run, the connections made are
	// those waiting to be accepted, counted without waiting for any.
	l, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(l)
	if err := unix.Bind(l, &unix.SockaddrUnix{Name: "@" + name}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 16); err != nil {
		t.Fatal(err)
	}
	accepted := func() int {
		n := 0
		for {
			c, _, err := unix.Accept(l)
			if err != nil {
				return n
			}
			unix.Close(c)
			n++
		}
	}
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	p := compile(t, dir, `version: 1
environments:
  hostnet:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/probe, "abstract:`+name+`"]}
`)
	if !strings.Contains(planText(p), "landlock_restrict_self(landlock_create_ruleset({.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET}), 0)") {
		t.Errorf("no Landlock step in the plan:\n%s", planText(p))
	}
	if got := probeResults(runOK(t, p))["abstract"]; got != "EPERM" {
		t.Errorf("connect to the host's @%s from inside: %s, want EPERM", name, got)
	}
	// The probe itself reaches it from the host.
	out, err := exec.Command(filepath.Join(root, "probe"), "abstract:"+name).Output()
	if err != nil || probeResults(string(out))["abstract"] != "OK" {
		t.Errorf("the probe on the host: %q %v, want OK", out, err)
	}
	if n := accepted(); n != 1 {
		t.Errorf("the host's server accepted %d connections, want the host probe's only", n)
	}
}

// TestRootLandlockHostPID: an environment in the host's pid namespace (in
// a user namespace that maps root elsewhere, the only way it is planned)
// signals no process outside it, not even one of the host uid its root
// maps to (another environment's of the same range); before the plan
// scoped it, it did.
func TestRootLandlockHostPID(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	victim := exec.Command("sleep", "100")
	victim.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 100000, Gid: 100000}}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { victim.Process.Kill(); victim.Wait() }()
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	// The child stage runs as host uid 100000: the tree's folders must
	// let it through (t.TempDir makes them 0700).
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	p := compile(t, dir, `version: 1
environments:
  hostpid:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, net]
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]
    processes:
      - {name: main, command: [/probe, "kill:`+strconv.Itoa(victim.Process.Pid)+`:18"]}
`)
	if !strings.Contains(planText(p), "landlock_restrict_self(landlock_create_ruleset({.scoped = LANDLOCK_SCOPE_SIGNAL}), 0)") {
		t.Errorf("no Landlock step in the plan:\n%s", planText(p))
	}
	if got := probeResults(runOK(t, p))["kill"]; got != "EPERM" {
		t.Errorf("SIGCONT to a host process of uid 100000 from inside: %s, want EPERM", got)
	}
}

// TestRootHostPIDNoResourceReach: an environment in the host's pid
// namespace changes no resource limit, priority or CPU placement of a
// process outside it. Landlock's signal scope stops kill(2), but not
// prlimit(2): a CPU limit of 1 s on a host process of the uid root
// inside maps to (another environment's of the same range), which had
// already run longer, had the kernel kill it (SIGKILL), and setpriority
// reniced one (a review of the twelfth stop).
func TestRootHostPIDNoResourceReach(t *testing.T) { hostPIDNoResourceReach(t, "") }

// TestRootHostPIDUnconfinedNoResourceReach: the same with `seccomp:
// unconfined`, which in a user namespace was no filter at all: a review
// of the twelfth stop's fixes had the kernel kill the busy host process
// and put the idle one in SCHED_IDLE from inside, as before those fixes.
func TestRootHostPIDUnconfinedNoResourceReach(t *testing.T) {
	hostPIDNoResourceReach(t, "\n    security: {seccomp: unconfined}")
}

// hostPIDNoResourceReach runs TestRootHostPIDNoResourceReach's probe in
// an environment with the security block sec (a line of its own, or "").
func hostPIDNoResourceReach(t *testing.T, sec string) {
	requireRoot(t)
	checkHost(t)
	cred := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 100000, Gid: 100000}}
	busy := exec.Command("sh", "-c", "while :; do :; done")
	busy.SysProcAttr = cred
	idle := exec.Command("sleep", "100")
	idle.SysProcAttr = cred
	for _, v := range []*exec.Cmd{busy, idle} {
		if err := v.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { v.Process.Kill(); v.Wait() }()
	}
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	// The busy one has run more than 1 s of CPU by then.
	time.Sleep(1500 * time.Millisecond)
	p := compile(t, dir, `version: 1
environments:
  hostpid:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, net]
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]`+sec+`
    processes:
      - {name: main, command: [/probe, "prlimit_cpu:`+strconv.Itoa(busy.Process.Pid)+`", "setpriority:`+strconv.Itoa(idle.Process.Pid)+`", "sched_idle:`+strconv.Itoa(idle.Process.Pid)+`", "affinity:`+strconv.Itoa(idle.Process.Pid)+`", "reach:`+strconv.Itoa(idle.Process.Pid)+`"]}
`)
	res := probeResults(runOK(t, p))
	if res["affinity"] != "EPERM" {
		t.Logf("sched_setaffinity of a host process of uid 100000 from inside: %s (open: pthread_setaffinity_np passes its threads' ids)", res["affinity"])
	}
	for k, v := range res {
		// The calls the kernel checks as ptrace (PTRACE_MODE_*): another
		// user namespace's process is out of reach (pidfd_open is not
		// checked, and gives nothing by itself).
		// (EACCES: the kernel's own refusal of mm_access, where no
		// filter refuses the call first, as under `unconfined`.)
		if strings.HasPrefix(k, "reach_") && k != "reach_pidfd_open" && v != "EPERM" && v != "EACCES" {
			t.Errorf("%s on a host process of uid 100000 from inside: %s, want EPERM", k, v)
		}
	}
	for _, k := range []string{"prlimit_cpu", "setpriority", "sched_idle"} {
		if res[k] != "EPERM" {
			t.Errorf("%s of a host process of uid 100000 from inside: %s, want EPERM", k, res[k])
		}
	}
	time.Sleep(500 * time.Millisecond)
	// Killed, it is a zombie until waited for.
	if st, _ := os.ReadFile("/proc/" + strconv.Itoa(busy.Process.Pid) + "/stat"); strings.Contains(string(st), ") Z ") {
		t.Error("the busy host process was killed by the kernel past the CPU limit set from inside")
	}
	if n, err := unix.Getpriority(unix.PRIO_PROCESS, idle.Process.Pid); err == nil && n != 20 {
		t.Errorf("the idle host process's nice is %d now (getpriority %d), want 0", 20-n, n)
	}
	if pol, _, _ := unix.Syscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(idle.Process.Pid), 0, 0); pol != 0 {
		t.Errorf("the idle host process's scheduling policy is %d now, want SCHED_OTHER (0)", pol)
	}
}
