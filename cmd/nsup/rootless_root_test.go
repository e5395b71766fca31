package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Rootless mode, for real: the test (root) creates an unprivileged user,
// and runs nsup as that user (setpriv), on the examples and on specs that
// probe what the environment may do on the host.

// testUser is an unprivileged user made for the test and removed after it
// (with the subordinate ids useradd gave it, when /etc/subuid exists).
type testUser struct {
	name     string
	uid, gid int
}

func makeUser(t *testing.T) testUser {
	t.Helper()
	for _, tool := range []string{"useradd", "userdel", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "needs "+tool)
		}
	}
	const name = "nsupns-test"
	exec.Command("userdel", name).Run() // left by a killed run
	if out, err := exec.Command("useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// The user's last environment may still be exiting (its pid
		// namespace torn down after nsup returned): wait for it, boundedly,
		// as userdel refuses a user with processes.
		if pids := waitNoProcesses(name, 5*time.Second); len(pids) > 0 {
			t.Errorf("processes of %s left: %v", name, pids)
		}
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel: %v\n%s", err, out)
		}
	})
	u := testUser{name: name}
	for _, f := range []struct {
		flag string
		to   *int
	}{{"-u", &u.uid}, {"-g", &u.gid}} {
		out, err := exec.Command("id", f.flag, name).Output()
		if err != nil {
			t.Fatal(err)
		}
		*f.to, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	return u
}

// as runs argv as the user, with no capability and a clean environment.
func (u testUser) as(t *testing.T, env []string, argv ...string) (int, string, string) {
	t.Helper()
	return u.asIn(t, -1, env, argv...)
}

// asIn is as, started in the cgroup (v2) of fd cgroup, unless it is -1.
func (u testUser) asIn(t *testing.T, cgroup int, env []string, argv ...string) (int, string, string) {
	t.Helper()
	cmd := u.command(env, argv...)
	if cgroup >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cgroup}
	}
	return runCaptured(t, cmd)
}

// command is argv run as the user, with no capability and a clean
// environment but env, not started.
func (u testUser) command(env []string, argv ...string) *exec.Cmd {
	args := append([]string{"--reuid", strconv.Itoa(u.uid), "--regid", strconv.Itoa(u.gid), "--clear-groups",
		"--inh-caps=-all", "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	return exec.Command("setpriv", append(args, argv...)...)
}

// rootlessDir is a folder the user can read (t.TempDir is 0700), holding
// nsup, copies of the examples in repo/examples (devbox binds repo), and
// the user's own cache home.
// detachedEnv is u's environment for detached environments: its cache
// and a runtime folder of its own (XDG_RUNTIME_DIR, where nsup keeps
// their state rootless).
func detachedEnv(u testUser, cache string) []string {
	run := filepath.Join(cache, "run")
	os.Mkdir(run, 0o700)
	os.Chown(run, u.uid, u.gid)
	return []string{"XDG_CACHE_HOME=" + cache, "XDG_RUNTIME_DIR=" + run}
}

// rootlessCase is the start of a rootless test run in the host's own
// namespaces: it needs root (to make the user), checks the host after,
// and gives the new user and rootlessDir's folder, binary and cache home.
func rootlessCase(t *testing.T) (u testUser, dir, bin, cache string) {
	t.Helper()
	requireRoot(t)
	checkHost(t)
	sameHostNS(t)
	u = makeUser(t)
	dir, bin, cache = rootlessDir(t, u)
	return u, dir, bin, cache
}

func rootlessDir(t *testing.T, u testUser) (dir, bin, cache string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "nsupns-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin = filepath.Join(dir, "nsup")
	b, err := os.ReadFile(buildNsup(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, b, 0o755)
	ex := filepath.Join(dir, "repo", "examples")
	os.MkdirAll(ex, 0o755)
	for _, f := range examples(t) {
		b, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(ex, filepath.Base(f)), b, 0o644)
	}
	// And the folders they bind (godev's module).
	if out, err := exec.Command("cp", "-r", "../../examples/godev", ex).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "repo", "README"), []byte("a file for /src\n"), 0o644)
	cache = filepath.Join(dir, "cache-home")
	os.Mkdir(cache, 0o700)
	if err := os.Chown(cache, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
	return dir, bin, cache
}

// TestRootRootlessExamples: hello, devbox and pod, applied by a user
// without privilege; the plan says it is rootless.
func TestRootRootlessExamples(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	// godev's volume: the user's own data folder (XDG_DATA_HOME), made
	// by nsup.
	env := []string{"XDG_CACHE_HOME=" + cache, "XDG_DATA_HOME=" + filepath.Join(cache, "data")}
	ex := filepath.Join(dir, "repo", "examples")

	code, plan, errs := u.as(t, env, bin, "plan", filepath.Join(ex, "hello.yaml"))
	want := fmt.Sprintf("# hello: rootless (nsup runs without CAP_SYS_ADMIN): a new user namespace, uid %d and gid %d mapped to 0", u.uid, u.gid)
	if code != 0 || !strings.Contains(plan, want) || !strings.Contains(plan, fmt.Sprintf(`write("/proc/$CHILD/uid_map", "0 %d 1\n")`, u.uid)) ||
		!strings.Contains(plan, filepath.Join(cache, "nsup", "closure")) {
		t.Errorf("plan as %s: exit %d, %s\n%s", u.name, code, errs, plan)
	}

	for _, tc := range []struct {
		file string
		want []string
	}{
		{"hello.yaml", []string{"hello from hello, pid ", "PID 1 is "}},
		{"devbox.yaml", []string{"devbox: 2 entries in /src", "/src is read-only", "the root is writable"}},
		{"pod.yaml", []string{"db got: hello from web"}},
		{"compose.yaml", []string{"client got: hello from web"}},
		{"godev.yaml", []string{"ok  \texample.com/godev"}},
		{"pybox.yaml", []string{`"row": ["python", "ok"]`}},
		{"health.yaml", []string{"db/main | db: ready", "web/main | web: db is healthy, serving"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, out, errs := u.as(t, env, bin, "apply", filepath.Join(ex, tc.file))
			if code != 0 {
				t.Fatalf("apply as %s: exit %d\n%s%s", u.name, code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.file != "godev.yaml" {
				return
			}
			// godev's volume: made by nsup, the user's, in the user's folder.
			vol := filepath.Join(cache, "data", "nsup", "volumes", "examples", "gocache")
			var st syscall.Stat_t
			if err := syscall.Lstat(vol, &st); err != nil || int(st.Uid) != u.uid || int(st.Gid) != u.gid {
				t.Errorf("godev's volume %s: %v, uid %d gid %d, want the user's", vol, err, st.Uid, st.Gid)
			}
		})
	}
}

// TestRootRootlessNoPrivilege: inside, the user is root of its own user
// namespace and nothing more on the host: a file it cannot read on the
// host stays unreadable, a root-owned folder stays unwritable, host root's
// files show as the overflow id.
func TestRootRootlessNoPrivilege(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "secret"), []byte("root only\n"), 0o600)
	os.WriteFile(filepath.Join(data, "public"), []byte("anyone\n"), 0o644)
	spec := filepath.Join(dir, "probe.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  probe:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    mounts:
      - {type: proc, target: /proc}
      - {type: bind, source: ./data, target: /data}
    processes:
      - name: main
        command:
          - /bin/busybox
          - sh
          - -c
          - |
            echo "id $$(busybox id -u) $$(busybox id -g)"
            echo "map $$(busybox cat /proc/self/uid_map)"
            busybox cat /data/public
            busybox cat /data/secret 2>&1 || echo "secret: refused"
            busybox touch /data/new 2>&1 || echo "write: refused"
            echo "owner $$(busybox stat -c %u /data/secret)"
            busybox grep CapEff /proc/self/status
`), 0o644)
	code, out, errs := u.as(t, []string{"XDG_CACHE_HOME=" + cache}, bin, "apply", spec)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	for _, w := range []string{"id 0 0\n", "anyone\n", "secret: refused", "write: refused", "owner 65534"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "root only") {
		t.Errorf("the environment read a file its user cannot read on the host:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "new")); err == nil {
		t.Error("the environment wrote into a root-owned folder of the host")
	}
	if f := strings.Fields(out[strings.Index(out, "map "):]); len(f) < 4 || f[1] != "0" || f[2] != strconv.Itoa(u.uid) || f[3] != "1" {
		t.Errorf("uid_map inside: %q, want 0 %d 1", f, u.uid)
	}
}

// TestRootRootlessIDMapHelper: a map of more than the user's own id goes
// through newuidmap/newgidmap and /etc/subuid, /etc/subgid.
func TestRootRootlessIDMapHelper(t *testing.T) {
	u, dir, bin, cache := subIDCase(t)
	sub := subRange(t, "/etc/subuid", u)
	subg := subRange(t, "/etc/subgid", u)
	spec := subIDSpec(t, dir, "mapped", u, subIDMap{sub, 1000, subg, 1000}, `    user: "7:8"
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/busybox, sh, -c, 'busybox cat /proc/self/uid_map /proc/self/gid_map; echo "id $$(busybox id -u) $$(busybox id -g)"']
`)
	env := []string{"XDG_CACHE_HOME=" + cache}
	code, plan, errs := u.as(t, env, bin, "plan", spec)
	if code != 0 || !strings.Contains(plan, `newidmap("`) {
		t.Errorf("plan: exit %d %s\n%s", code, errs, plan)
	}
	code, out, errs := u.as(t, env, bin, "apply", spec)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s\n%s", code, out, errs, plan)
	}
	got := strings.Join(strings.Fields(out), " ")
	want := fmt.Sprintf("0 %d 1 1 %d 1000 0 %d 1 1 %d 1000 id 7 8", u.uid, sub, u.gid, subg)
	if got != want {
		t.Errorf("inside: %q, want %q", got, want)
	}

	// Ranges the user was not granted are refused at plan time, naming
	// the line.
	os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  mapped:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [user, mnt]
    idmap:
      uid: [{inside: 0, outside: %d, count: 1}, {inside: 1, outside: 1, count: 10}]
      gid: [{inside: 0, outside: %d, count: 1}]
    processes:
      - {name: main, command: [/bin/busybox, "true"]}
`, u.uid, u.gid)), 0o644)
	code, _, errs = u.as(t, env, bin, "apply", spec)
	line := fmt.Sprintf("      uid: [{inside: 0, outside: %d, count: 1}, {", u.uid)
	if code != 2 || !strings.Contains(errs, fmt.Sprintf("%s:7:%d: environments.mapped.idmap.uid[1]: host uids 1-10 are not %s's to map: /etc/subuid grants it only", spec, len(line), u.name)) {
		t.Errorf("apply of a map beyond the grant: exit %d\n%s", code, errs)
	}
}

// subRange is the first id of the user's range in file (useradd grants
// one where /etc/subuid exists; the test adds one if it did not).
func subRange(t *testing.T, file string, u testUser) int {
	t.Helper()
	b, _ := os.ReadFile(file)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 3 && f[0] == u.name {
			n, _ := strconv.Atoi(f[1])
			if c, _ := strconv.Atoi(f[2]); c >= 1000 {
				return n
			}
		}
	}
	flag := "--add-subuids"
	if strings.HasSuffix(file, "subgid") {
		flag = "--add-subgids"
	}
	if out, err := exec.Command("usermod", flag, "3000000-3065535", u.name).CombinedOutput(); err != nil {
		t.Fatalf("usermod %s: %v\n%s", flag, err, out)
	}
	return 3000000
}

// TestRootRootlessRefused: what needs real privilege is refused at plan
// time, naming the key.
func TestRootRootlessRefused(t *testing.T) {
	requireRoot(t)
	u := makeUser(t)
	dir, bin, cache := rootlessDir(t, u)
	spec := filepath.Join(dir, "bad.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  bad:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt]
    join: {net: /proc/1/ns/net}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/sh, -c, "true"]}
`), 0o644)
	code, out, errs := u.as(t, []string{"XDG_CACHE_HOME=" + cache}, bin, "apply", spec)
	want := spec + `:6:17: environments.bad.join.net: rootless (nsup runs without CAP_SYS_ADMIN): a namespace given by path can be entered only from the user namespace that owns it: join that too (join: {user: /proc/PID/ns/user})
` + spec + `:8:9: environments.bad.mounts[0]: proc in a user namespace needs a pid namespace of that user namespace: add pid to namespaces (mounting proc for the host's needs privilege)
`
	if code != 2 || out != "" || errs != want {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant\n%s", code, out, errs, want)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("a refused plan created %d entries in the cache home", len(ents))
	}
}

// TestRootRootlessNamespaces: rootless, every type is new in one
// environment, and another joins each of them by name (and so its user
// namespace); seen from inside each process, as the host sees it
// (/proc/self/ns of a process is /proc/PID/ns from anywhere).
func TestRootRootlessNamespaces(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	spec := filepath.Join(dir, "all.yaml")
	// first must outlive second, which is in its pid namespace (when
	// first's init exits, the kernel kills second too): second writes its
	// pid to the /tmp they share, and first waits (10 s at most) until that
	// process is gone before it exits.
	const list = `for f in /proc/self/ns/*; do echo "$$1 $$(busybox basename $$f) $$(busybox readlink $$f)"; done; `
	const first = `[/bin/busybox, sh, -c, 'set -- first; ` + list + `for i in $$(busybox seq 200); do [ -e /tmp/second ] && break; busybox sleep 0.05; done; p=$$(busybox cat /tmp/second) || exit 1; for i in $$(busybox seq 200); do [ -e /proc/$$p ] || exit 0; busybox sleep 0.05; done; exit 1']`
	const second = `[/bin/busybox, sh, -c, 'set -- second; ` + list + `echo $$$$ > /tmp/second.tmp && busybox mv /tmp/second.tmp /tmp/second']`
	os.WriteFile(spec, []byte(`version: 1
environments:
  first:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [user, mnt, pid, net, ipc, uts, cgroup, time]
    time: {boottime: 10s}
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - {name: main, command: `+first+`}
  second:
    rootfs: {closure: [/bin/busybox]}
    namespaces: []
    join: {mnt: first, pid: first, net: first, ipc: first, uts: first, cgroup: first, time: first}
    processes:
      - {name: main, command: `+second+`}
`), 0o644)
	code, out, errs := u.as(t, []string{"XDG_CACHE_HOME=" + cache}, bin, "apply", spec)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	seen := map[string]map[string]string{"first": {}, "second": {}}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if i := len(f) - 3; i >= 0 && seen[f[i]] != nil {
			seen[f[i]][f[i+1]] = f[i+2]
		}
	}
	host := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(hostNS(t)), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			host[f[0]] = f[1]
		}
	}
	for _, typ := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"} {
		a, b := seen["first"][typ], seen["second"][typ]
		if a == "" || a == host[typ] || b != a {
			t.Errorf("%s: first %q, second %q, host %q: want one new namespace, shared", typ, a, b, host[typ])
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestRootRootlessConfined: rootless, an environment is confined as it
// is as root: the default capability set in every set, no_new_privs,
// Docker's filter, a session keyring of its own, read-only /proc/sys and
// the masked paths (secprobe of the executor's security tests).
func TestRootRootlessConfined(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	sameHostNS(t)
	requireBusybox(t)
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		skipOrFail(t, "needs gcc")
	}
	u := makeUser(t)
	dir, bin, cache := rootlessDir(t, u)
	probe := filepath.Join(dir, "probe")
	if out, err := exec.Command(gcc, "-static", "-O1", "-o", probe, "../../executor/testdata/secprobe.c").CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("gcc -static: %v\n%s", err, out))
	}
	os.Chmod(probe, 0o755)
	spec := filepath.Join(dir, "confined.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  confined:
    rootfs: {closure: [/bin/busybox, ./probe]}
    namespaces: [mnt, pid, net, ipc, uts]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command:
          - /bin/busybox
          - sh
          - -c
          - |
            busybox grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status | busybox tr '\t' ' '
            `+probe+` keyctl unshare_user read=/proc/interrupts
            busybox grep ' /proc/sys ' /proc/self/mountinfo | busybox grep -q ' ro,' && echo "/proc/sys: read-only"
`), 0o644)
	code, out, errs := u.as(t, []string{"XDG_CACHE_HOME=" + cache}, bin, "apply", spec)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	var mask uint64
	for _, c := range []uint{0, 1, 3, 4, 5, 6, 7, 8, 10, 18, 29, 31} { // planner.DefaultCapabilities
		mask |= 1 << c
	}
	caps := fmt.Sprintf("%016x", mask)
	for _, w := range []string{"CapBnd: " + caps, "CapEff: " + caps, "NoNewPrivs: 1", "Seccomp: 2",
		"keyctl: EPERM", "unshare_user: EPERM", "read=/proc/interrupts: 0 bytes",
		"/proc/sys: read-only"} {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("rootless, inside: output lacks %q:\n%s", w, out)
		}
	}
}

// waitNoProcesses waits until no process runs as user (pgrep -u), for at
// most d, and returns those left.
func waitNoProcesses(user string, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		out, _ := exec.Command("pgrep", "-u", user).Output()
		pids := strings.Fields(string(out))
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRootRootlessTwoShareNothing: rootless, two environments each of
// whose child stage executes its main process (init: false) and shares
// nsup's memory until then, making it not dumpable meanwhile: the second
// is set up as the first was (nsup, dumpable again, may write the second's
// maps), and nsup's own /proc stays the user's.
func TestRootRootlessTwoShareNothing(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	u := makeUser(t)
	dir, bin, cache := rootlessDir(t, u)
	spec := filepath.Join(dir, "two.yaml")
	const main = `[/bin/busybox, sh, -c, 'echo up $$0; busybox sleep 0.3']`
	os.WriteFile(spec, []byte(`version: 1
environments:
  one:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    init: false
    processes:
      - {name: main, command: `+main+`}
  two:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    init: false
    processes:
      - {name: main, command: `+main+`}
`), 0o644)
	code, out, errs := u.as(t, []string{"XDG_CACHE_HOME=" + cache}, "/bin/sh", "-c",
		bin+` apply "$0" & sleep 0.15; stat -c %u /proc/$!/fd; wait $!`, spec)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	if strings.Count(out, "up ") != 2 {
		t.Errorf("output %q: want both environments up", out)
	}
	if !strings.Contains(out, strconv.Itoa(u.uid)+"\n") {
		t.Errorf("output %q: nsup's /proc/PID/fd is not the user's (%d): left not dumpable", out, u.uid)
	}
}

// TestRootRootlessProjectVolume: a user without privilege brings up a
// detached environment of a project with a volume (in the user's own
// runtime and data folders), finds it with ps and exec, takes it down
// keeping the volume, and removes it with down --volumes.
func TestRootRootlessProjectVolume(t *testing.T) {
	u, dir, bin, cache := rootlessCase(t)
	run := filepath.Join(cache, "run")
	os.Mkdir(run, 0o700)
	os.Chown(run, u.uid, u.gid)
	env := []string{"XDG_CACHE_HOME=" + cache, "XDG_DATA_HOME=" + filepath.Join(cache, "data"), "XDG_RUNTIME_DIR=" + run}
	proj := filepath.Join(dir, "repo", "team-app")
	os.MkdirAll(proj, 0o755)
	spec := filepath.Join(proj, "nsup.yaml")
	os.WriteFile(spec, []byte(`version: 1
volumes:
  data:
environments:
  app:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts:
      - {type: volume, source: data, target: /data}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, 'echo "$${GREETING:-hi}" >> /data/log; exec /bin/busybox sleep 1000']}
`), 0o644)
	t.Cleanup(func() { u.as(t, env, bin, "down", "-p", "team-app", "--volumes") })
	if code, out, errs := u.as(t, env, bin, "apply", "-d", spec); code != 0 {
		t.Fatalf("apply -d as %s: %d %s%s", u.name, code, out, errs)
	}
	code, out, errs := u.as(t, env, bin, "ps", "--all")
	if code != 0 || !strings.Contains(out, "team-app") || !strings.Contains(out, "running") {
		t.Errorf("ps: %d %s%s", code, out, errs)
	}
	code, out, errs = u.as(t, env, bin, "exec", "team-app/app", "--", "/bin/busybox", "cat", "/data/log")
	if code != 0 || out != "hi\n" {
		t.Errorf("exec: %d %q %s", code, out, errs)
	}
	if code, out, errs := u.as(t, env, bin, "down", "team-app/app"); code != 0 {
		t.Fatalf("down: %d %s%s", code, out, errs)
	}
	vol := filepath.Join(cache, "data", "nsup", "volumes", "team-app", "data")
	var st syscall.Stat_t
	if b, err := os.ReadFile(filepath.Join(vol, "log")); err != nil || string(b) != "hi\n" || syscall.Lstat(vol, &st) != nil || int(st.Uid) != u.uid {
		t.Errorf("after down, the volume: %q %v, owner %d", b, err, st.Uid)
	}
	code, out, errs = u.as(t, env, bin, "down", "-p", "team-app", "--volumes")
	if code != 0 || !strings.Contains(out, "volume team-app/data: removed") {
		t.Errorf("down --volumes: %d %s%s", code, out, errs)
	}
	if _, err := os.Lstat(vol); !os.IsNotExist(err) {
		t.Errorf("the volume is left: %v", err)
	}
}

// TestRootRootlessRestart: rootless, a detached environment's process is
// restarted as its policy says, and ps shows the restarts.
func TestRootRootlessRestart(t *testing.T) {
	u, dir, bin, cache := rootlessCase(t)
	env := detachedEnv(u, cache)
	spec := filepath.Join(dir, "repo", "crash.yaml")
	os.WriteFile(spec, []byte(`version: 1
name: crashy
environments:
  crash:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/busybox, sh, -c, 'echo run; [ -e /tmp/third ] && exec /bin/busybox sleep 1000; [ -e /tmp/second ] && /bin/busybox touch /tmp/third; /bin/busybox touch /tmp/second; exit 1']
        restart: on-failure:3
    mounts:
      - {type: tmpfs, target: /tmp}
`), 0o644)
	t.Cleanup(func() { u.as(t, env, bin, "down", "-p", "crashy", "--volumes") })
	if code, out, errs := u.as(t, env, bin, "apply", "-d", spec); code != 0 {
		t.Fatalf("apply -d as %s: %d %s%s", u.name, code, out, errs)
	}
	var restarts float64
	for i := 0; i < 100 && restarts < 2; i++ {
		sleepMs(50)
		_, out, _ := u.as(t, env, bin, "ps", "--json", "-p", "crashy")
		var entries []map[string]any
		json.Unmarshal([]byte(out), &entries)
		for _, e := range entries {
			if r, ok := e["restarts"].(float64); ok {
				restarts = r
			}
		}
	}
	if restarts != 2 {
		t.Errorf("restarts seen by ps: %v, want 2", restarts)
	}
	code, out, errs := u.as(t, env, bin, "logs", "crashy/crash")
	if code != 0 || strings.Count(out, "run\n") != 3 {
		t.Errorf("logs: %d %q %s", code, out, errs)
	}
}

// TestRootRootlessPodRestart is TestRootPodRestart run by a user: the
// pod's holder holds a user namespace of its own with web's network, so
// that nsup restart web, rootless, leaves client in the same network as
// the new web; down of both ends the holder.
func TestRootRootlessPodRestart(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	env := detachedEnv(u, cache)
	f := filepath.Join(dir, "repo", "pod.yaml")
	os.WriteFile(f, []byte(podSpec), 0o644)
	t.Cleanup(func() { u.as(t, env, bin, "down", "-p", "podtest") })
	if code, out, errs := u.as(t, env, bin, "plan", "-d", f); code != 0 || !strings.Contains(out, "holder of pod \"web\"") || !strings.Contains(out, "clone(CLONE_NEWUSER|CLONE_NEWNET)") {
		t.Fatalf("plan -d: %d %s %s", code, out, errs)
	}
	if code, out, errs := u.as(t, env, bin, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d %s %s", code, out, errs)
	}
	fetch := func() string {
		for i := 0; i < 100; i++ {
			_, out, _ := u.as(t, env, bin, "exec", "podtest/client", "--", "/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1:8080/")
			if len(strings.TrimSpace(out)) == 36 {
				return strings.TrimSpace(out)
			}
			sleepMs(50)
		}
		return ""
	}
	pidsOf := func() map[string]int {
		_, out, _ := u.as(t, env, bin, "ps", "--json", "-p", "podtest")
		var entries []psEntry
		json.Unmarshal([]byte(out), &entries)
		m := map[string]int{}
		for _, e := range entries {
			if e.Running {
				m[e.Name] = e.Pid
			}
			if e.Name == "client" && (e.Joined["net"] != "pod:web" || e.Joined["user"] != "pod:web") {
				t.Errorf("ps: client joined %v, want net and user from pod:web", e.Joined)
			}
		}
		return m
	}
	nsOf := func(pid int, t string) string {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, t))
		return l
	}
	first := fetch()
	before := pidsOf()
	if first == "" || len(before) != 2 || nsOf(before["web"], "net") != nsOf(before["client"], "net") {
		t.Fatalf("before the restart: %q %v", first, before)
	}
	if code, out, errs := u.as(t, env, bin, "restart", "podtest/web"); code != 0 {
		t.Fatalf("restart web: %d %s %s", code, out, errs)
	}
	after := pidsOf()
	second := fetch()
	if second == "" || second == first {
		t.Errorf("after the restart, client got %q (before: %q): want the new web's", second, first)
	}
	if after["web"] == before["web"] || after["client"] != before["client"] || nsOf(after["web"], "net") != nsOf(before["client"], "net") {
		t.Errorf("after the restart: pids %v (before %v), web's net %s, client's %s", after, before, nsOf(after["web"], "net"), nsOf(after["client"], "net"))
	}
	// The holder: the user's, in a user namespace of its own (not the
	// host's) that both environments are in, with their network.
	var h struct{ Pid int }
	rec := filepath.Join(cache, "run", "nsup", "podtest", ".pods", "web.json")
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatalf("the holder's record: %v", err)
	}
	json.Unmarshal(b, &h)
	if h.Pid == 0 || holderName(h.Pid) != "nsup-pod" || nsOf(h.Pid, "net") != nsOf(after["client"], "net") ||
		nsOf(h.Pid, "user") != nsOf(after["client"], "user") || nsOf(h.Pid, "user") != nsOf(after["web"], "user") || nsOf(h.Pid, "user") == nsOf(os.Getpid(), "user") {
		t.Errorf("holder %s: pid %d (%s), net %s user %s; client's %s %s", b, h.Pid, comm(h.Pid), nsOf(h.Pid, "net"), nsOf(h.Pid, "user"), nsOf(after["client"], "net"), nsOf(after["client"], "user"))
	}
	if st, err := os.Stat(fmt.Sprintf("/proc/%d", h.Pid)); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(u.uid) {
		t.Errorf("the holder is not the user's: %v", err)
	}
	if code, out, errs := u.as(t, env, bin, "down", "-p", "podtest"); code != 0 {
		t.Fatalf("down: %d %s %s", code, out, errs)
	}
	// By down, well before it would end by itself (holderIdle).
	for i := 0; i < 5 && comm(h.Pid) != ""; i++ {
		sleepMs(50)
	}
	if c := comm(h.Pid); c != "" {
		t.Errorf("the holder (pid %d) is left after down: %s", h.Pid, c)
	}
	if _, err := os.Stat(rec); err == nil {
		t.Errorf("the holder's record is left after down")
	}
}
