package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// The security tests: each one reproduces a way root inside an
// environment reached the host (or more than its share of it), found
// against nsup before its confinement was planned (issue 10), and checks
// that it is closed. secprobe (testdata/secprobe.c) does the attacker's
// system calls; it is static and single-threaded.

var (
	probeOnce sync.Once
	probeBin  string
	probeErr  string
)

// secProbe builds testdata/secprobe.c (gcc -static, once) and copies it
// into root as /probe; it returns the host path of the copy.
func secProbe(t *testing.T, root string) string {
	t.Helper()
	probeOnce.Do(func() {
		gcc, err := exec.LookPath("gcc")
		if err != nil {
			probeErr = "needs gcc (apt-get install gcc libc6-dev)"
			return
		}
		src, _ := filepath.Abs("testdata/secprobe.c")
		dir, err := os.MkdirTemp("", "nsup-secprobe-")
		if err != nil {
			probeErr = err.Error()
			return
		}
		probeBin = filepath.Join(dir, "secprobe")
		if out, err := exec.Command(gcc, "-static", "-O1", "-o", probeBin, src).CombinedOutput(); err != nil {
			probeErr = fmt.Sprintf("gcc -static: %v\n%s", err, out)
		}
	})
	if probeErr != "" {
		skipOrFail(t, probeErr)
	}
	p := filepath.Join(root, "probe")
	copyFile(t, probeBin, p, 0o755)
	track(t, p)
	return p
}

// probeResults reads secprobe's "NAME: RESULT" lines.
func probeResults(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			if i := strings.LastIndex(k, " | "); i >= 0 {
				k = k[i+3:] // a line prefixed by its process's label
			}
			m[k] = v
		}
	}
	return m
}

// secEnv is a busybox root with the probe, and a spec of one environment
// running the probe with args (extra: more keys of the environment).
func secEnv(t *testing.T, extra string, args ...string) (dir string, yaml string) {
	t.Helper()
	dir = t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return dir, `version: 1
environments:
  sec:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, uts, ipc, net]
    mounts:
      - {type: proc, target: /proc}
      - {type: sysfs, target: /sys}
      - {type: tmpfs, target: /tmp}
` + extra + `    processes:
      - name: main
        command: [/probe, ` + strings.Join(q, ", ") + `]
`
}

// knobs are host-wide kernel settings that no namespace covers. Each is
// written with its own value: refused or accepted, nothing changes.
var knobs = []string{
	"/proc/sys/kernel/core_pattern", "/proc/sys/kernel/panic", "/proc/sys/vm/overcommit_memory",
	"/proc/sys/kernel/pid_max", "/proc/sys/fs/file-max", "/proc/sys/kernel/poweroff_cmd",
	"/proc/irq/default_smp_affinity",
}

// TestRootKernelKnobsReadOnly (finding 2): root inside wrote
// /proc/sys/kernel/core_pattern (a core pattern "|/proc/%P/root/x" runs a
// program of the environment as the host's root) and the other host-wide
// knobs, and read /proc/keys, /proc/timer_list, /sys/firmware. Under
// every proc mount, /proc/sys and friends are now read-only, and the
// masked paths read empty.
func TestRootKernelKnobsReadOnly(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	var args []string
	for _, k := range knobs {
		if _, err := os.Stat(k); err == nil {
			args = append(args, "rewrite="+k)
		}
	}
	var masked []string
	hostSees := 0
	for _, m := range planner.DefaultMaskedPaths {
		st, err := os.Stat(m)
		if err != nil {
			continue
		}
		masked = append(masked, m)
		args = append(args, "read="+m)
		if n := hostSize(t, m, st); n > 0 {
			hostSees++
		}
	}
	if len(args) < 8 || hostSees == 0 {
		t.Fatalf("this host has too few knobs (%q) or nothing in the masked paths to test with", args)
	}
	dir, yaml := secEnv(t, "", args...)
	p := compile(t, dir, yaml)
	res := probeResults(runOK(t, p))
	for _, k := range knobs {
		if _, err := os.Stat(k); err == nil && res["rewrite="+k] != "EROFS" {
			t.Errorf("writing %s inside: %q, want EROFS", k, res["rewrite="+k])
		}
	}
	for _, m := range masked {
		if got := res["read="+m]; got != "0 bytes" && got != "0 entries" {
			t.Errorf("masked %s reads %q inside, want nothing", m, got)
		}
	}
}

// hostSize is how much a path holds on the host: bytes of a file (read
// whole: /proc files say 0 in stat), entries of a folder.
func hostSize(t *testing.T, p string, st os.FileInfo) int {
	if st.IsDir() {
		ents, _ := os.ReadDir(p)
		return len(ents)
	}
	b, _ := os.ReadFile(p)
	return len(b)
}

// TestRootSeccompDefault (findings 3 and 6): keyctl, add_key,
// perf_event_open, userfaultfd, and unshare(CLONE_NEWUSER), which let
// root inside mount the host's cgroup hierarchies from a new user
// namespace, were allowed. Docker's default filter refuses them with
// EPERM; `seccomp: unconfined` allows them again (which proves the probe
// reaches the calls), but for keyctl, add_key and a new user namespace
// outside a user namespace that maps root elsewhere: a review read the
// host root's user keyring so (TestRootSessionKeyring), and from a user
// namespace of its own mounted its cgroups and raised its pids.max.
func TestRootSeccompDefault(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	calls := []string{"keyctl", "add_key", "perf_event_open", "userfaultfd", "unshare_user_mount"}
	for _, c := range []struct {
		name, extra string
		want        map[string]string
	}{
		{"default", "", map[string]string{"keyctl": "EPERM", "add_key": "EPERM", "perf_event_open": "EPERM",
			"userfaultfd": "EPERM", "unshare_user_mount": "EPERM"}},
		{"unconfined", "    security: {seccomp: unconfined}\n", map[string]string{"keyctl": "EPERM", "add_key": "EPERM",
			"unshare_user_mount": "EPERM"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkHost(t)
			dir, yaml := secEnv(t, c.extra, calls...)
			res := probeResults(runOK(t, compile(t, dir, yaml)))
			for k, w := range c.want {
				if res[k] != w {
					t.Errorf("%s: %q, want %s", k, res[k], w)
				}
			}
		})
	}
}

// TestRootSessionKeyring (finding 5): keys are not namespaced, and a key
// of the caller's session keyring (and one of root's user keyring, which
// a login session links into its session keyring) were found and read
// inside with request_key and KEYCTL_READ. Each environment now joins a
// new session keyring before anything runs inside, and the filter
// refuses keyctl anyway. The session keyring is no help against
// KEY_SPEC_USER_KEYRING, the host root's user keyring to root inside
// without a user namespace: a review, with `seccomp: unconfined`, linked
// it into its own session keyring and read root's key; unconfined keeps
// a filter of the keyring calls there.
func TestRootSessionKeyring(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	desc := fmt.Sprintf("nsup-test-%d", time.Now().UnixNano())
	cases := []struct{ name, extra, want string }{
		{"default", "", "EPERM"},
		{"unconfined", "    security: {seccomp: unconfined}\n", "EPERM"},
	}
	var plans []string
	for _, c := range cases {
		dir, yaml := secEnv(t, c.extra, "request_key="+desc+"-s", "request_key="+desc+"-u", "user_key="+desc+"-u")
		b, _ := planner.MarshalIndent(compile(t, dir, yaml))
		plans = append(plans, filepath.Join(dir, "plan.json"))
		os.WriteFile(plans[len(plans)-1], b, 0o600)
	}
	probe := secProbe(t, t.TempDir())
	type result struct {
		host string
		envs []string
		err  error
	}
	done := make(chan result)
	// A session keyring is a thread's credentials: this goroutine's
	// thread gets one of its own (never unlocked, the thread ends with
	// it), holding the keys, and starts nsup (the test binary as nsup
	// apply) from there, as a shell of a login session would.
	go func() {
		runtime.LockOSThread()
		var r result
		defer func() { done <- r }()
		if _, err := unix.KeyctlJoinSessionKeyring(desc); err != nil {
			r.err = fmt.Errorf("join a session keyring: %w", err)
			return
		}
		s, err := unix.AddKey("user", desc+"-s", []byte("session-secret"), unix.KEY_SPEC_SESSION_KEYRING)
		if err != nil {
			r.err = err
			return
		}
		u, err := unix.AddKey("user", desc+"-u", []byte("root-secret"), unix.KEY_SPEC_USER_KEYRING)
		if err != nil {
			r.err = err
			return
		}
		defer unix.KeyctlInt(unix.KEYCTL_REVOKE, s, 0, 0, 0)
		defer unix.KeyctlInt(unix.KEYCTL_REVOKE, u, 0, 0, 0)
		unix.KeyctlInt(unix.KEYCTL_LINK, unix.KEY_SPEC_USER_KEYRING, unix.KEY_SPEC_SESSION_KEYRING, 0, 0)
		// Outside, the probe finds both: the test can fail.
		out, _ := exec.Command(probe, "request_key="+desc+"-s", "request_key="+desc+"-u", "user_key="+desc+"-u").CombinedOutput()
		r.host = string(out)
		for _, plan := range plans {
			cmd := exec.Command("/proc/self/exe")
			cmd.Env = append(os.Environ(), "NSUP_TEST_HELPER=apply", "NSUP_TEST_PLAN="+plan)
			out, err := cmd.CombinedOutput()
			if err != nil {
				out = append(out, []byte(err.Error())...)
			}
			r.envs = append(r.envs, string(out))
		}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if strings.Count(r.host, "FOUND") != 3 {
		t.Fatalf("on the host the probe does not find the keys: %q", r.host)
	}
	for i, c := range cases {
		lines := strings.Split(strings.TrimSpace(r.envs[i]), "\n")
		if len(lines) != 3 {
			t.Errorf("%s: %q", c.name, r.envs[i])
			continue
		}
		for j, l := range lines {
			call := "request_key"
			if j == 2 {
				call = "user_key"
			}
			if l != call+": "+c.want {
				t.Errorf("%s: inside, %q; want %s: %s (the host's keys must not be reachable)", c.name, l, call, c.want)
			}
		}
	}
}

// TestRootDeviceNodes (finding 7): a device node in a dir rootfs (or in
// a bound folder) could be opened inside. The root and every bind are
// nodev now; rootfs.dev and the mount option dev allow them again.
func TestRootDeviceNodes(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, c := range []struct {
		name, rootOpt, bindOpt, want string
	}{
		{"nodev", "", "", "EACCES"},
		{"dev", ", dev: true", ", options: [dev]", "OK"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkHost(t)
			dir := t.TempDir()
			root := busyboxRoot(t, dir)
			secProbe(t, root)
			vol := filepath.Join(dir, "vol")
			os.Mkdir(vol, 0o755)
			// /dev/null's numbers: harmless if the test ever fails.
			for _, n := range []string{filepath.Join(root, "node"), filepath.Join(vol, "node")} {
				if err := unix.Mknod(n, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
					t.Fatal(err)
				}
			}
			p := compile(t, dir, `version: 1
environments:
  sec:
    rootfs: {dir: ./rootfs`+c.rootOpt+`}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./vol, target: /vol`+c.bindOpt+`}
    processes:
      - name: main
        command: [/probe, open=/node, open=/vol/node]
`)
			res := probeResults(runOK(t, p))
			for _, k := range []string{"open=/node", "open=/vol/node"} {
				if res[k] != c.want {
					t.Errorf("%s inside: %q, want %s", k, res[k], c.want)
				}
			}
		})
	}
}

// TestRootDevTmpfsNodev: the minimal /dev's tmpfs is nodev, as every
// other mount the environment may write is: root inside that keeps
// CAP_MKNOD (the spec adds it) made /dev/kmsg there and wrote the host's
// kernel log (found by the tenth stop's review), and could have made the
// host's disk. The devices nsup binds there still open.
func TestRootDevTmpfsNodev(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	p := compile(t, dir, `version: 1
environments:
  sec:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    security: {capabilities: {add: [MKNOD]}}
    mounts:
      - {type: dev, target: /dev}
    processes:
      - name: main
        command: [/bin/busybox, sh, -c, "/bin/busybox mknod /dev/made c 1 3 && exec /probe open=/dev/made open=/dev/null"]
`)
	res := probeResults(runOK(t, p))
	// /dev/null's numbers: harmless if the test ever fails.
	if res["open=/dev/made"] != "EACCES" {
		t.Errorf("a node made in /dev inside opened: %q, want EACCES", res["open=/dev/made"])
	}
	if res["open=/dev/null"] != "OK" {
		t.Errorf("/dev/null inside: %q, want OK", res["open=/dev/null"])
	}
}

// TestRootBindSourceSwapped (finding 8): environment A, with a writable
// volume, replaced a folder of it by a symlink to /; environment B, whose
// bind source is that folder, then saw the host's /. The planner resolves
// every source, and apply opens it without following a symlink: one put
// in its path since is refused, naming the path. The same for a
// rootfs.dir.
func TestRootBindSourceSwapped(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, c := range []struct{ name, swap, yaml string }{
		{"bind", "vol/shared", `version: 1
environments:
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./vol/shared, target: /shared}
    processes:
      - name: main
        command: [/bin/ls, /shared/etc]
`},
		{"rootfs", "rootfs", `version: 1
environments:
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/ls, /etc]
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkHost(t)
			dir := t.TempDir()
			busyboxRoot(t, dir)
			os.MkdirAll(filepath.Join(dir, "vol", "shared"), 0o755)
			p := compile(t, dir, c.yaml)
			// What environment A does, between B's plan and B's apply.
			swapped := filepath.Join(dir, c.swap)
			if c.swap == "rootfs" {
				// A tree of its own elsewhere, so that the swapped root
				// still has a /bin/ls: only the symlink can refuse it.
				if err := os.Rename(swapped, filepath.Join(dir, "rootfs.real")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("rootfs.real", swapped); err != nil {
					t.Fatal(err)
				}
			} else {
				os.Remove(swapped)
				if err := os.Symlink("/", swapped); err != nil {
					t.Fatal(err)
				}
			}
			st, out, errOut, err := run(t, p, executor.Options{})
			if err == nil {
				t.Fatalf("apply after the swap: status %d, output %q %q; want a refusal", st, out, errOut)
			}
			if !strings.Contains(err.Error(), "a symlink is in this path now") || !strings.Contains(err.Error(), swapped) ||
				!errors.Is(err, unix.ELOOP) {
				t.Errorf("apply: %v, want the symlink in %s refused (ELOOP)", err, swapped)
			}
		})
	}
}

// TestRootRlimits (the rlimit part of finding 9): 2,000 processes were
// started inside. rlimits caps them (RLIMIT_NPROC, per user: here a uid
// no other process of the machine has, counted by root inside); the
// default RLIMIT_NOFILE is 1024 under nsup's own hard limit, not the one
// the Go runtime raised for nsup itself; a process's own limits apply to
// it.
func TestRootRlimits(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	applets(t, filepath.Join(dir, "rootfs"), "seq", "wc", "kill")
	p := compile(t, dir, `version: 1
environments:
  bomb:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts: [{type: proc, target: /proc}, {type: dev, target: /dev}]
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
            sleep 1
            pids=$(grep -l '^Uid:.*54321' /proc/[0-9]*/status | cut -d/ -f3)
            echo "running $(echo $pids | wc -w)"
            for p in $pids; do grep -E 'Max processes' /proc/$p/limits | tr -s ' '; break; done
            grep -E 'Max open files' /proc/self/limits | tr -s ' '
            kill -9 $pids
      - name: fork-bomb
        user: "54321"
        rlimits: {nproc: 16}
        command: [/bin/sh, -c, "for i in $(seq 40); do sleep 30 & done"]
      - name: side
        command: [/bin/sh, -c, "grep 'Max open files' /proc/self/limits | tr -s ' '"]
        rlimits: {nofile: "64:128"}
`)
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, errOut)
	}
	_ = st
	main := strings.Join(linesOf(out, "bomb/main"), "\n")
	var running int
	if i := strings.Index(main, "running"); i >= 0 {
		fmt.Sscanf(main[i:], "running %d", &running)
	}
	if running == 0 || running > 16 {
		t.Errorf("%d processes running inside with nproc 16:\n%s\n%s", running, out, errOut)
	}
	var hard unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &hard)
	if want := fmt.Sprintf("Max open files %d %d files", min(1024, hard.Max), hard.Max); !strings.Contains(main, want) {
		t.Errorf("main's limits:\n%s\nwant %q", main, want)
	}
	if !strings.Contains(main, "Max processes 16 16 processes") {
		t.Errorf("main's limits:\n%s\nwant nproc 16", main)
	}
	if side := strings.Join(linesOf(out, "bomb/side"), "\n"); !strings.Contains(side, "Max open files 64 128 files") {
		t.Errorf("side's limits: %q, want its own nofile 64:128", side)
	}
}

// TestRootExecConfined (finding 1): nsup exec's commands had every
// capability and no no_new_privs (init dropped them on one thread only,
// and exec's commands were started from its others): open_by_handle_at
// read the host's files, and a uid-1000 command became euid 0 through a
// setuid binary. Now every thread of init, and every process exec starts,
// has the environment's capabilities, bounding set, no_new_privs and
// filter.
func TestRootExecConfined(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	state := testStateDir(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	applets(t, root, "sort", "uniq", "cut")
	probe := secProbe(t, root)
	// A setuid-root copy of the probe, for the uid-1000 process.
	copyFile(t, probe, filepath.Join(root, "suid-probe"), 0o755)
	os.Chmod(filepath.Join(root, "suid-probe"), 0o4755)
	track(t, filepath.Join(root, "suid-probe"))
	p := compileDetached(t, dir, lifeSpec, state)
	if _, _, _, err := run(t, p, executor.Options{}); err != nil {
		t.Fatalf("apply -d: %v", err)
	}
	defer executor.Down(context.Background(), state, "life")
	var want string
	for _, st := range p.Environments[0].Steps {
		if c, ok := st.Op.(planner.Capset); ok {
			var mask uint64
			for _, n := range c.Keep {
				mask |= 1 << capNumber(t, n)
			}
			want = fmt.Sprintf("%016x", mask)
		}
	}
	status := `grep -hE '^(CapEff|CapPrm|CapBnd|CapInh|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | sort | tr '\t' ' ' | tr '\n' ';'; echo`
	code, self, err := execOut(t, state, "life", "", "", "/bin/sh", "-c", status)
	if err != nil || code != 0 {
		t.Fatalf("exec: %d %v %s", code, err, self)
	}
	wantStatus := fmt.Sprintf("CapAmb: 0000000000000000;CapBnd: %s;CapEff: %s;CapInh: 0000000000000000;CapPrm: %s;NoNewPrivs: 1;Seccomp: 2;\n", want, want, want)
	if self != wantStatus {
		t.Errorf("exec's command: %q\nwant %q", self, wantStatus)
	}
	// Every thread of init, as the command sees them.
	code, threads, err := execOut(t, state, "life", "", "", "/bin/sh", "-c",
		`for s in /proc/1/task/*/status; do grep -hE '^(CapEff|CapPrm|CapBnd|CapInh|CapAmb|NoNewPrivs|Seccomp):' $s | sort | tr '\t' ' ' | tr '\n' ';'; echo; done | sort | uniq -c`)
	lines := strings.Split(strings.TrimSpace(threads), "\n")
	if err != nil || code != 0 || len(lines) != 1 || !strings.HasSuffix(strings.TrimSpace(lines[0]), strings.TrimSpace(wantStatus)) {
		t.Errorf("init's threads: %q (%v), want all %q", threads, err, wantStatus)
	}
	if n, _ := strconv.Atoi(strings.Fields(lines[0])[0]); n < 2 {
		t.Errorf("init has %d threads; a Go process has several", n)
	}
	code, out, _ := execOut(t, state, "life", "", "", "/probe", "open_by_handle_at")
	if res := probeResults(out)["open_by_handle_at"]; res != "EPERM" {
		t.Errorf("open_by_handle_at from exec: %q, want EPERM", out)
	}
	// uid 1000 runs a setuid-root program: no_new_privs keeps it 1000.
	code, out, _ = execOut(t, state, "life", "worker", "", "/suid-probe", "euid")
	if res := probeResults(out)["euid"]; res != "1000" {
		t.Errorf("a setuid-root program run by uid 1000 through exec: euid %q (%d), want 1000", out, code)
	}
}

// TestRootTIOCSTI (finding 4): a foreground nsup apply handed its
// terminal to the environment, and ioctl(TIOCSTI) inside pushed a command
// line into the caller's shell (CVE-2017-5226 class). With nsup's stdin a
// terminal, the environment gets a pty of its own, relayed. The caller's
// terminal itself never reaches the environment (the eighth stop: with
// stdin not a terminal, a terminal on stdout or stderr was passed as it
// is, and with several environments, the terminal on stdin too; root
// inside could read what was typed there): it is relayed through a pipe,
// and TIOCSTI on the fd inside finds no terminal.
func TestRootTIOCSTI(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	two := `  other:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - {name: idle, command: [/bin/true]}
`
	// nsup run sec, nsup shell sec: sec joins other, planned with it.
	joined := `  other:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net]
    processes:
      - {name: idle, command: [/bin/sleep, "2"]}
`
	for _, c := range []struct {
		name     string
		terminal bool   // nsup's stdin is the terminal
		fd       string // the fd inside that TIOCSTI pushes into
		more     string // more environments
		want     string // TIOCSTI's result inside
		named    []string
	}{
		{"stdin-terminal", true, "0", "", "OK", nil}, // into the environment's own terminal
		{"stdout-terminal", false, "1", "", "ENOTTY", nil},
		{"stderr-terminal", false, "2", "", "ENOTTY", nil},
		{"stdin-terminal-two-environments", true, "0", two, "ENOTTY", nil},
		{"stdout-terminal-two-environments", true, "1", two, "ENOTTY", nil},
		// The one named gets its pty, relayed to nsup's own terminal,
		// though the other takes nsup's stdio (/dev/null for stdin).
		{"stdin-terminal-named-joins-other", true, "0", joined, "OK", []string{"sec"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkHost(t)
			dir, yaml := secEnv(t, "", "tiocsti="+c.fd+":echo INJECTED")
			yaml += c.more
			if c.named != nil {
				yaml = strings.Replace(yaml, "namespaces: [mnt, pid, uts, ipc, net]", "namespaces: [mnt, pid, uts, ipc]\n    join: {net: other}", 1)
			}
			s, err := spec.ParseBytesVars("test.yaml", dir, []byte(yaml), asWritten)
			if err != nil {
				t.Fatal(err)
			}
			p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache"), Terminal: c.terminal, Envs: c.named})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := planner.MarshalIndent(p)
			plan := filepath.Join(dir, "plan.json")
			os.WriteFile(plan, b, 0o600)
			master, slave, err := executor.OpenPty()
			if err != nil {
				t.Fatal(err)
			}
			defer master.Close()
			defer slave.Close()
			// The caller: nsup in a session whose controlling terminal is
			// the test's pty, as a login shell's child would be.
			cmd := exec.Command("/proc/self/exe")
			cmd.Env = append(os.Environ(), "NSUP_TEST_HELPER=apply", "NSUP_TEST_PLAN="+plan)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
			if !c.terminal {
				devnull, _ := os.Open(os.DevNull)
				defer devnull.Close()
				cmd.Stdin = devnull
			}
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
			var out syncBuffer
			copied := make(chan struct{})
			go func() {
				defer close(copied)
				buf := make([]byte, 4096)
				for {
					n, err := master.Read(buf)
					out.Write(buf[:n])
					if err != nil && !os.IsTimeout(err) {
						return
					}
					if err != nil {
						return
					}
				}
			}()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("nsup apply did not end: %q", out.String())
			}
			if err != nil {
				t.Fatalf("nsup apply: %v\n%s", err, out.String())
			}
			// What TIOCSTI pushed is in the terminal's input queue, unread
			// (nobody reads the test's pty but the relay, which stopped).
			queued, err := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ)
			if err != nil {
				t.Fatal(err)
			}
			master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			<-copied
			if queued != 0 {
				t.Errorf("%d bytes were pushed into the caller's terminal from inside; output: %q", queued, out.String())
			}
			res := probeResults(strings.ReplaceAll(out.String(), "\r", ""))["tiocsti"]
			if res != c.want {
				t.Errorf("TIOCSTI inside: %q, want %s; output %q", res, c.want, out.String())
			}
		})
	}
}

// TestRootSecurityKeys: what `security` changes, as applied: capabilities
// added and dropped, a profile of one's own, masked paths of one's own,
// no read-only paths, no_new_privileges false (the filter then loaded
// before the capabilities are dropped).
func TestRootSecurityKeys(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	applets(t, root, "mount", "mkdir")
	os.WriteFile(filepath.Join(dir, "secret"), []byte("hidden"), 0o644)
	// Docker's own format: everything allowed but mkdir and mkdirat.
	os.WriteFile(filepath.Join(dir, "profile.json"), []byte(`{
  "defaultAction": "SCMP_ACT_ALLOW",
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
              {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
}`), 0o644)
	p := compile(t, dir, `version: 1
environments:
  keys:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, uts, ipc, net]
    security:
      capabilities: {drop: [ALL], add: [SYS_ADMIN, CHOWN]}
      seccomp: ./profile.json
      masked_paths: [/etc/secret]
      readonly_paths: []
      no_new_privileges: false
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
      - {type: bind, source: ./secret, target: /etc/secret}
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
            grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr '\t' ' '
            mount -t tmpfs none /tmp && echo "mount: OK"
            mkdir /tmp/x 2>&1 | grep -q 'denied' && echo "mkdir: EACCES"
            /probe read=/etc/secret rewrite=/proc/sys/kernel/core_pattern read=/proc/keys
`)
	out := runOK(t, p)
	res := probeResults(out)
	var want uint64 = 1<<capNumber(t, "CAP_SYS_ADMIN") | 1<<capNumber(t, "CAP_CHOWN")
	for k, w := range map[string]string{
		"CapEff": fmt.Sprintf("%016x", want), "NoNewPrivs": "0", "Seccomp": "2",
		"mount": "OK", "mkdir": "EACCES",
		"read=/etc/secret": "0 bytes",
		// No read-only paths: the knob takes its own value back (with
		// CAP_SYS_ADMIN kept, as the spec asks).
		"rewrite=/proc/sys/kernel/core_pattern": "OK",
	} {
		if res[k] != w {
			t.Errorf("%s: %q, want %q\n%s", k, res[k], w, out)
		}
	}
	if slices.Contains(planMountPoints(p, "keys"), "/proc/keys") {
		t.Errorf("masked_paths replaced the defaults, but /proc/keys is masked: %q", planMountPoints(p, "keys"))
	}
}
