package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// probeScript prints what the environment looks like, in sections.
const probeScript = `
echo "== hostname"; cat /proc/sys/kernel/hostname
echo "== domainname"; cat /proc/sys/kernel/domainname
echo "== ns"; for f in /proc/self/ns/*; do echo "$(basename $f) $(readlink $f)"; done
echo "== pid"; echo $$
echo "== pid1"; cat /proc/1/comm
echo "== id"; id -u; id -g
echo "== status"; grep -E '^(Groups|NoNewPrivs|CapEff)' /proc/self/status
echo "== tmpmode"; stat -c %a /tmp
echo "== rodata"; touch /data/new 2>&1
echo "== roroot"; touch /new 2>&1
echo "== fds"; ls /proc/$$/fd
echo "== root"; ls /
echo "== data"; cat /data/file
echo "== mountinfo"; cat /proc/self/mountinfo
echo "== init-rss"; grep VmHWM /proc/1/status
exit 7
`

// indent prefixes every line of s, for a YAML block scalar.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimPrefix(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

func probeSpec(initLine string) string {
	return `version: 1
environments:
  probe:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, uts, ipc, net, cgroup]
    hostname: probe-host
    domainname: probe-domain
    env: {FOO: bar}
` + initLine + `
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp, size: 16M, mode: "1777"}
      - {type: bind, source: ./data, target: /data, readonly: true}
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
` + indent(probeScript, "            ") + "\n"
}

// probeDir makes a spec folder with a busybox root and a data folder.
func probeDir(t *testing.T) string {
	dir := t.TempDir()
	busyboxRoot(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "data", "file"), []byte("host data\n"), 0o644)
	return dir
}

func hostNS(t *testing.T) map[string]string {
	m := map[string]string{}
	ents, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/ns/" + e.Name())
		m[e.Name()] = l
	}
	return m
}

// mountPoints lists the mount points of mountinfo lines, and the line of
// each.
func mountPoints(lines []string) ([]string, map[string]string) {
	var pts []string
	by := map[string]string{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 4 {
			pts = append(pts, f[4])
			by[f[4]] = l
		}
	}
	return pts, by
}

func TestRootProbe(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, tc := range []struct {
		name     string
		initLine string
		mainPid  string
	}{
		{"init", "", ">1"},
		{"no-init", "    init: false", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHost(t)
			dir := probeDir(t)
			p := compile(t, dir, probeSpec(tc.initLine))
			st, out, errOut, err := run(t, p, executor.Options{})
			if err != nil {
				t.Fatalf("apply: %v\nstderr: %s\nplan:\n%s", err, errOut, planText(p))
			}
			if st != 7 {
				t.Errorf("status %d, want 7 (the main process's exit code)", st)
			}
			s := sections(out)
			t.Logf("probe output:\n%s", out)
			eq := func(name string, want ...string) {
				t.Helper()
				if !slices.Equal(s[name], want) {
					t.Errorf("%s: got %q, want %q", name, s[name], want)
				}
			}
			eq("hostname", "probe-host")
			eq("domainname", "probe-domain")
			// Without init the main process is PID 1. With init, it is the
			// first process init forks; PIDs 2 and up went to the Go
			// runtime's threads of init itself (they are tasks of the pid
			// namespace too), so its number is only known to be > 1.
			if tc.mainPid == "1" {
				eq("pid", "1")
			} else if len(s["pid"]) != 1 || s["pid"][0] == "1" {
				t.Errorf("pid: %q, want the main process not to be PID 1", s["pid"])
			}
			eq("id", "0", "0")
			eq("tmpmode", "1777")
			eq("data", "host data")
			// The shell's own fds: 0, 1, 2 and nothing of nsup's.
			eq("fds", "0", "1", "2")
			if got := strings.Join(s["rodata"], " "); !strings.Contains(got, "Read-only file system") {
				t.Errorf("writing to the read-only bind: %q, want EROFS", got)
			}
			if got := strings.Join(s["roroot"], " "); !strings.Contains(got, "Read-only file system") {
				t.Errorf("writing to the read-only root: %q, want EROFS", got)
			}
			if tc.mainPid != "1" && !slices.Equal(s["pid1"], []string{planner.InitName}) {
				t.Errorf("PID 1 is %q, want nsup's (its minimal PID 1)", s["pid1"])
			}
			if !slices.Contains(s["status"], "NoNewPrivs:\t1") {
				t.Errorf("status: %q, want NoNewPrivs 1", s["status"])
			}
			// New namespaces differ from the host's, the others are the same.
			host := hostNS(t)
			fresh := map[string]bool{"mnt": true, "pid": true, "pid_for_children": true, "uts": true,
				"ipc": true, "net": true, "cgroup": true}
			for _, l := range s["ns"] {
				name, inode, _ := strings.Cut(l, " ")
				if fresh[name] == (inode == host[name]) {
					t.Errorf("namespace %s: %s inside, %s on the host; new: %v", name, inode, host[name], fresh[name])
				}
			}
			if len(s["ns"]) < 8 {
				t.Errorf("ns: %q", s["ns"])
			}
			// The mount table is exactly the planned mounts: the declared
			// ones and the masked and read-only paths under /proc; no host
			// mount.
			pts, by := mountPoints(s["mountinfo"])
			if want := planMountPoints(p, p.Environments[0].Name); !slices.Equal(pts, want) || !slices.Contains(want, "/proc/sys") {
				t.Errorf("mount points inside: %q, want %q", pts, want)
			}
			// (tmpfs omits mode=1777 from its options: it is its default;
			// the mode is checked by stat above.)
			if l := by["/tmp"]; !strings.Contains(l, " - tmpfs ") || !strings.Contains(l, "size=16384k") || !strings.Contains(l, "nosuid,nodev") {
				t.Errorf("/tmp: %s, want tmpfs size=16384k nosuid,nodev", l)
			}
			if l := by["/"]; !strings.Contains(strings.Fields(l)[5], "ro") {
				t.Errorf("/: %s, want read-only", l)
			}
			if tc.mainPid != "1" {
				t.Logf("init's peak RSS (VmHWM of PID 1, read by the main process): %q", s["init-rss"])
			}
		})
	}
}

func TestRootUserAndEnv(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  who:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    user: "1000:1001"
    env: {FOO: bar, EMPTY: ""}
    processes:
      - name: main
        command: [/bin/env]
      - name: ids
        command: [/bin/sh, -c, "sleep 0.2; echo ids $(id -u) $(id -g) $(grep Groups /proc/self/status | tr -d '\t')"]
`)
	_, out, errOut, err := run(t, p, executor.Options{})
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, errOut)
	}
	// /bin/env prints exactly the declared variables (and PATH); the
	// second process may or may not have been stopped before printing,
	// since the main process's exit stops it. Two processes write: each
	// line is prefixed with its label.
	env := linesOf(out, "who/main")
	sort.Strings(env)
	// HOME: the user's home in the environment's /etc/passwd (nsup's
	// lines: the closure has none), "/" for a uid other than root.
	want := []string{"EMPTY=", "FOO=bar", "HOME=/", "PATH=" + planner.DefaultPath}
	if !slices.Equal(env, want) {
		t.Errorf("environment: %q, want %q", env, want)
	}
}

func TestRootUserIDs(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, initLine := range []string{"", "    init: false\n"} {
		p := compile(t, dir, `version: 1
environments:
  who:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    user: "1000:1001"
    mounts:
      - {type: proc, target: /proc}
`+initLine+`    processes:
      - name: main
        command: [/bin/sh, -c, "echo $(id -u) $(id -g) $(grep Groups /proc/self/status | tr -d '\t')"]
`)
		_, out, errOut, err := run(t, p, executor.Options{})
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, errOut)
		}
		if got := strings.TrimSpace(out); got != "1000 1001 Groups:" {
			t.Errorf("init line %q: ids %q, want %q", initLine, got, "1000 1001 Groups:")
		}
	}
}

// TestRootInitRSS measures init's peak resident set: the wait4(2)
// resource usage of the child (init), which covers the processes it
// reaped (busybox, far smaller).
func TestRootInitRSS(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  rss:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, uts, ipc, net]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh, -c, "sleep 0.3; grep -E 'VmHWM|VmRSS' /proc/1/status"]
      - name: side
        command: [/bin/sleep, "10"]
`)
	var maxrss int64
	opts := executor.OnExit(executor.Options{}, func(env string, ru *unix.Rusage) {
		maxrss = ru.Maxrss
	})
	_, out, errOut, err := run(t, p, opts)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, errOut)
	}
	t.Logf("init (PID 1) as seen by the main process:\n%s", out)
	out = strings.Join(linesOf(out, "rss/main"), "\n")
	// wait4's figure includes the vfork parent's high-water mark taken
	// over at execve (it shares nsup's memory until then): an upper bound.
	t.Logf("peak RSS of the child (wait4 rusage, an upper bound): %d KiB", maxrss)
	var hwm int
	if _, err := fmt.Sscanf(out, "VmHWM: %d kB", &hwm); err != nil || hwm == 0 {
		t.Fatalf("no VmHWM in %q", out)
	}
	if limit := 12 * 1024; !raceEnabled && hwm > limit {
		t.Errorf("init's peak RSS %d KiB, more than %d KiB", hwm, limit)
	}
}

func TestRootClosureCache(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	requireBusybox(t)
	spec := `version: 1
environments:
  closed:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /tmp}
    processes:
      - name: main
        command: [/bin/busybox, sh, -c, "/bin/busybox ls /; exit 3"]
`
	for i := 0; i < 2; i++ { // built, then reused
		p := compile(t, dir, spec)
		st, out, errOut, err := run(t, p, executor.Options{})
		if err != nil {
			t.Fatalf("apply %d: %v\n%s", i, err, errOut)
		}
		if st != 3 {
			t.Errorf("status %d, want 3", st)
		}
		// /bin, or a /bin link to usr/bin on a merged-/usr host, the
		// mount target /tmp, and /etc for nsup's passwd and group: the
		// closure and nothing else.
		if got := strings.Fields(out); !slices.Equal(got, []string{"bin", "etc", "tmp"}) && !slices.Equal(got, []string{"bin", "etc", "tmp", "usr"}) {
			t.Errorf("ls / inside: %q, want [bin etc tmp (usr)]", got)
		}
	}
	ents, _ := filepath.Glob(filepath.Join(dir, "cache", "closure", "*"))
	if want := []string{"", ".build", ".json"}; len(ents) != 3 || ents[1] != ents[0]+".build" || ents[2] != ents[0]+".json" {
		t.Errorf("cache entries %q, want one complete entry with its %q", ents, want)
	}
}

// TestRootRootfsChanged: a closure input changed after planning is refused
// while it is copied, and the partial entry is removed.
func TestRootRootfsChanged(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	bb := requireBusybox(t)
	tool := filepath.Join(dir, "tool")
	copyFile(t, bb, tool, 0o755)
	p := compile(t, dir, `version: 1
environments:
  changed:
    rootfs: {closure: [`+tool+`]}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [`+tool+`, "true"]
`)
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho changed\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := run(t, p, executor.Options{})
	if err == nil || !strings.Contains(err.Error(), "rootfs input changed since plan") {
		t.Fatalf("apply: %v, want rootfs input changed since plan", err)
	}
	if !strings.HasPrefix(err.Error(), p.Environments[0].Steps[0].Origin+": step 0: rootfs(closure, ") {
		t.Errorf("error %q: want the rootfs step's origin and number", err)
	}
	noCacheLeft(t, dir, false)
}

// noCacheLeft checks that dir/cache holds no temporary entry, and no entry
// at all unless complete is allowed.
func noCacheLeft(t *testing.T, dir string, completeOK bool) {
	t.Helper()
	ents, _ := filepath.Glob(filepath.Join(dir, "cache", "closure", "*"))
	for _, e := range ents {
		if strings.Contains(filepath.Base(e), ".tmp-") || !completeOK {
			t.Errorf("left in the cache: %s", e)
		}
	}
}

// failSpec plans about twenty steps of every stage, on a closure root.
const failSpec = `version: 1
environments:
  fail:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, uts, ipc, net]
    hostname: fail
    domainname: fail.test
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp, size: 1M}
      - {type: bind, source: ./data, target: /data, readonly: true}
    processes:
      - name: main
        command: [/bin/busybox, sleep, "0.1"]
        children:
          - name: helper
            command: [/bin/busybox, sleep, "5"]
`

// TestRootFailAtEveryStep makes each step fail in turn (the test hook
// replaces the step by an errno) and checks the error names the step,
// and that nothing is left: no mount, no process, no partial cache entry.
func TestRootFailAtEveryStep(t *testing.T) {
	requireRoot(t)
	requireBusybox(t)
	checkHost(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	p := compile(t, dir, failSpec)
	if len(p.Environments[0].Steps) < 15 {
		t.Fatalf("%d steps, want a longer plan:\n%s", len(p.Environments[0].Steps), planText(p))
	}
	failEveryStep(t, p, dir)
}

// TestRootFailAtEveryStepHello does the same for the plan of
// examples/hello.yaml, as nsup apply would make it (cache in a temp dir).
func TestRootFailAtEveryStepHello(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	s, err := spec.Parse("../examples/hello.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	failEveryStep(t, p, dir)
}

// failEveryStep makes each step of p's first environment fail in turn and
// checks the error (origin, step, call, errno), that nothing is printed,
// and that nothing is left: host checks, no partial cache entry.
func failEveryStep(t *testing.T, p *planner.Plan, dir string) {
	env := p.Environments[0]
	for i, st := range env.Steps {
		t.Run(fmt.Sprintf("step%02d-%s", i, st.Op.Syscall()), func(t *testing.T) {
			checkHost(t)
			// Fresh cache each time, so that the rootfs step builds.
			os.RemoveAll(filepath.Join(dir, "cache"))
			opts := executor.FailAt(executor.Options{}, env.Name, i, unix.EPERM)
			_, _, errOut, err := run(t, p, opts)
			if err == nil {
				t.Fatalf("apply succeeded, want step %d to fail", i)
			}
			if !errors.Is(err, unix.EPERM) {
				t.Errorf("error %v does not wrap EPERM", err)
			}
			want := fmt.Sprintf("%s: step %d: %s: operation not permitted", st.Origin, i, planner.FormatOp(st.Op))
			if err.Error() != want {
				t.Errorf("error:\n  %s\nwant\n  %s", err, want)
			}
			var se *executor.StepError
			if !errors.As(err, &se) || se.Step != i || se.Env != env.Name {
				t.Errorf("error %#v: want a *StepError for step %d", err, i)
			}
			if errOut != "" {
				t.Errorf("stderr: %q", errOut)
			}
			noCacheLeft(t, dir, i > 0)
		})
	}
}

// TestRootRealFailure: a step the kernel refuses (an unknown filesystem
// type) is reported with the kernel's errno, by the child stage.
func TestRootRealFailure(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  bad:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /tmp}
    processes:
      - name: main
        command: [/bin/true]
`)
	steps := p.Environments[0].Steps
	i := slices.IndexFunc(steps, func(s planner.Step) bool {
		m, ok := s.Op.(planner.Mount)
		return ok && m.FSType == "tmpfs"
	})
	m := steps[i].Op.(planner.Mount)
	m.FSType = "nsup-no-such-fs"
	steps[i].Op = m
	_, _, _, err := run(t, p, executor.Options{})
	if !errors.Is(err, unix.ENODEV) {
		t.Fatalf("apply: %v, want ENODEV", err)
	}
	want := fmt.Sprintf(`test.yaml:7:9: step %d: mount("tmpfs", <root>/tmp, "nsup-no-such-fs", MS_NOSUID|MS_NODEV, NULL), mkdir target if missing, crossing no mount: no such device`, i)
	if err.Error() != want {
		t.Errorf("error:\n  %s\nwant\n  %s", err, want)
	}
}

// TestRootSymlinkTarget: a symlink in the rootfs cannot redirect a mount
// to the host: /evil -> /etc resolves inside the root.
func TestRootSymlinkTarget(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	hostSide := filepath.Join(dir, "hostside")
	os.MkdirAll(hostSide, 0o755)
	// Where the links lead when resolved inside the root.
	os.MkdirAll(filepath.Join(root, hostSide), 0o755)
	// Absolute and dot-dot links that point, read on the host, at hostSide.
	os.Symlink(hostSide, filepath.Join(root, "abs"))
	os.Symlink("../../../../../../../../"+hostSide, filepath.Join(root, "dots"))
	p := compile(t, dir, `version: 1
environments:
  links:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /abs/sub}
      - {type: tmpfs, target: /dots/sub2}
    processes:
      - name: main
        command: [/bin/sh, -c, "cat /proc/self/mountinfo 2>/dev/null; ls -d /abs/sub /dots/sub2"]
`)
	_, out, errOut, err := run(t, p, executor.Options{})
	if err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, errOut, planText(p))
	}
	if ents, _ := os.ReadDir(hostSide); len(ents) != 0 {
		t.Errorf("the host folder the links point to got %v", ents)
	}
	// The directories were made inside the root, where the links lead
	// when resolved there.
	for _, d := range []string{hostSide[1:] + "/sub", hostSide[1:] + "/sub2"} {
		if _, err := os.Stat(filepath.Join(root, d)); err != nil {
			t.Errorf("%s not created inside the root: %v\n%s", d, err, out)
		}
	}
}

func TestRootOverlay(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  over:
    rootfs: {dir: ./rootfs, overlay: true}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "echo hi > /written && cat /written && rm /nsup-marker && stat -c %a /"]
`)
	out := runOK(t, p)
	var rootSt os.FileInfo
	rootSt, _ = os.Stat(root)
	if want := fmt.Sprintf("hi\n%o\n", rootSt.Mode().Perm()); out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if _, err := os.Stat(filepath.Join(root, "written")); err == nil {
		t.Errorf("the overlay wrote to the rootfs")
	}
	if _, err := os.Stat(filepath.Join(root, "nsup-marker")); err != nil {
		t.Errorf("the overlay removed from the rootfs: %v", err)
	}
}

func TestRootSignalForwarded(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, initLine := range []string{"", "    init: false\n"} {
		p := compile(t, dir, `version: 1
environments:
  sig:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
`+initLine+`    processes:
      - name: main
        command: [/bin/sh, -c, "trap 'echo got TERM; exit 5' TERM; echo ready; while true; do sleep 0.05; done"]
`)
		var out syncBuffer
		done := make(chan struct{})
		var st int
		var err error
		up := make(chan struct{}, 1)
		opts := executor.OnStart(executor.Options{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}, func(string, int) { up <- struct{}{} })
		go func() {
			defer close(done)
			st, err = executor.Apply(context.Background(), p, opts)
		}()
		waitFor(t, &out, "ready")
		<-up // set up, as Apply sees it: a signal before is a setup interrupted
		// Apply forwards what nsup receives: send it to ourselves.
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		<-done
		if err != nil || st != 5 || !strings.Contains(out.String(), "got TERM") {
			t.Errorf("init line %q: status %d, err %v, output %q; want 5 after the forwarded SIGTERM", initLine, st, err, out.String())
		}
	}
}

func waitFor(t *testing.T, b *syncBuffer, s string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if strings.Contains(b.String(), s) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%q never printed; output %q", s, b.String())
}

// A signal that comes while a lone foreground environment is set up (on
// Apply's own goroutine: inline) interrupts the setup: Apply says so,
// and rolls back, the child killed and reaped whether it was up yet or
// not, its groups removed (checkHost). Only a signal taken by the
// watching goroutine at the very end of the setup, once the environment
// is up, can go to the child instead (as Apply's select could pick
// either, with both ready): it then ends of it, 128+SIGINT.
func TestRootSignalDuringSetup(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  early:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sleep, "100"]
`)
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGINT
	subscribed := make(chan struct{})
	close(subscribed)
	st, _, _, err := run(t, p, executor.Options{Signals: sigs, Subscribed: subscribed})
	interrupted := st == 1 && err != nil && strings.Contains(err.Error(), "early: setup interrupted by interrupt")
	if !interrupted && (st != 130 || err != nil) {
		t.Errorf("apply with a SIGINT during its setup: status %d, err %v; want 1 and the setup interrupted", st, err)
	}
}

func TestRootContextCancel(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  long:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "echo ready; sleep 100"]
      - name: other
        command: [/bin/sleep, "100"]
`)
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var st int
	var err error
	go func() {
		defer close(done)
		st, err = executor.Apply(ctx, p, executor.Options{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out})
	}()
	waitFor(t, &out, "ready")
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Apply did not return after ctx was cancelled")
	}
	if st != 128+9 || !errors.Is(err, context.Canceled) {
		t.Errorf("status %d, err %v; want 137 and context.Canceled", st, err)
	}
}

// TestRootStopTree: when the main process exits, init stops the others,
// deepest first, SIGKILL after the grace period for one that ignores
// SIGTERM.
func TestRootStopTree(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  tree:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "sleep 0.3; exit 4"]
        children:
          - name: stubborn
            command: [/bin/sh, -c, "trap '' TERM; echo stubborn; sleep 100"]
      - name: polite
        command: [/bin/sleep, "100"]
`)
	for i, st := range p.Environments[0].Steps {
		if s, ok := st.Op.(planner.Spawn); ok {
			s.StopTimeout = 300
			p.Environments[0].Steps[i].Op = s
		}
	}
	start := time.Now()
	st, out, errOut, err := run(t, p, executor.Options{})
	d := time.Since(start)
	if err != nil || st != 4 {
		t.Fatalf("apply: %d %v\n%s", st, err, errOut)
	}
	// A lower bound only, which slowness cannot meet by accident: the
	// stubborn child ignores SIGTERM, so the apply lasts at least the
	// main's 0.3 s plus the 0.3 s grace period before SIGKILL (without
	// SIGKILL it would sleep on, and run's 60 s context would end it).
	if d < 550*time.Millisecond {
		t.Errorf("took %v: want the main's 0.3 s plus one 0.3 s grace period", d)
	}
	if !strings.Contains(out, "stubborn") {
		t.Errorf("output %q", out)
	}
}

// TestRootJoinByName: web joins db's net and ipc namespaces by name.
func TestRootJoinByName(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  db:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net, ipc]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh, -c, "echo db $(readlink /proc/self/ns/net) $(readlink /proc/self/ns/ipc); sleep 0.5"]
  web:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    join: {net: db, ipc: db}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh, -c, "sleep 0.1; echo web $(readlink /proc/self/ns/net) $(readlink /proc/self/ns/ipc); exit 6"]
`)
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, errOut, planText(p))
	}
	if st != 6 {
		t.Errorf("status %d, want 6 (web's)", st)
	}
	var db, web string
	for _, l := range linesOf(out, "db/main") {
		if rest, ok := strings.CutPrefix(l, "db "); ok {
			db = rest
		}
	}
	for _, l := range linesOf(out, "web/main") {
		if rest, ok := strings.CutPrefix(l, "web "); ok {
			web = rest
		}
	}
	host := hostNS(t)
	if db == "" || db != web || strings.Contains(db, host["net"]) {
		t.Errorf("db sees %q, web %q (host net %s): want the same, new namespaces", db, web, host["net"])
	}
}

// TestRootUserNamespace: a new user namespace with a range map; its maps
// are in place before the child stage's execve, or it would have no
// capabilities to mount with.
func TestRootUserNamespace(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	// The child stage runs as host uid 100000: the tree's folders must let
	// it through (t.TempDir makes them 0700).
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	// Nor can it create mount targets in a tree owned by host root.
	os.Mkdir(filepath.Join(root, "proc"), 0o755)
	os.Mkdir(filepath.Join(root, "tmp"), 0o755)
	p := compile(t, dir, `version: 1
environments:
  userns:
    rootfs: {dir: ./rootfs, readonly: false}
    namespaces: [user, mnt, pid, uts]
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]
    hostname: mapped
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - name: main
        command: [/bin/sh, -c, "hostname; cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox"]
`)
	out := runOK(t, p)
	got := strings.Fields(out)
	want := []string{"mapped", "0", "100000", "65536", "0", "65534"}
	if !slices.Equal(got, want) {
		t.Errorf("inside: %q, want %q", got, want)
	}
}

// TestRootChrootEscape runs the classic escape as root inside an
// environment: mkdir(".out"); chroot(".out"); chdir("../../.."); chroot(".").
// In a chroot it reaches the host's root; in nsup it finds the
// environment's root again, since the host's root is not in the mount
// namespace at all (pivot_root, old root detached).
func TestRootChrootEscape(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		skipOrFail(t, "needs gcc")
	}
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	src := filepath.Join(dir, "escape.c")
	os.WriteFile(src, []byte(`#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
	mkdir(".out", 0755);
	if (chroot(".out") != 0) { perror("chroot .out"); return 2; }
	for (int i = 0; i < 64; i++) chdir("..");
	if (chroot(".") != 0) { perror("chroot ."); return 2; }
	printf("marker=%d host=%d\n", access("/nsup-marker", F_OK) == 0, access(argv[1], F_OK) == 0);
	return 0;
}
`), 0o644)
	bin := filepath.Join(root, "escape")
	if out, err := exec.Command(gcc, "-static", "-O1", "-o", bin, src).CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("gcc -static: %v\n%s", err, out))
	}
	track(t, bin)
	hostOnly := filepath.Join(dir, "host-only-marker")
	os.WriteFile(hostOnly, nil, 0o644)

	// The program works: in a plain chroot it escapes to the host.
	cmd := exec.Command("/escape", hostOnly)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	out, err := cmd.CombinedOutput()
	os.Remove(filepath.Join(root, ".out"))
	if err != nil || strings.TrimSpace(string(out)) != "marker=0 host=1" {
		t.Fatalf("in a plain chroot: %v %q, want the escape to reach the host", err, out)
	}

	p := compile(t, dir, `version: 1
environments:
  jail:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /work}
    cwd: /work
    processes:
      - name: main
        command: [/escape, `+hostOnly+`]
`)
	st, got, errOut, err := run(t, p, executor.Options{})
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v\n%s", st, err, errOut)
	}
	if strings.TrimSpace(got) != "marker=1 host=0" {
		t.Errorf("inside nsup the escape printed %q, want marker=1 host=0 (still in the environment's root)", got)
	}
}

// TestRootTimeNamespace: the offsets are written by the host thread that
// unshared the time namespace, before the child is created in it.
func TestRootTimeNamespace(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  clock:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, time]
    time: {boottime: 100000s}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh, -c, "cat /proc/uptime"]
`)
	out := runOK(t, p)
	var inside, host float64
	fmt.Sscan(out, &inside)
	b, _ := os.ReadFile("/proc/uptime")
	fmt.Sscan(string(b), &host)
	if d := inside - host; d < 99990 || d > 100010 {
		t.Errorf("uptime inside %.0f s, on the host %.0f s: want 100000 s more inside", inside, host)
	}
}
