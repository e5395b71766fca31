package executor_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/cgroup"
	"golang.org/x/sys/unix"
)

// limitsSpec is one process under limits, with /proc and /dev.
func limitsSpec(limits, script string) string {
	return `version: 1
environments:
  lim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    limits: ` + limits + `
    mounts:
      - {type: proc, target: /proc}
      - {type: dev, target: /dev}
    processes:
      - name: main
        command: [/bin/sh, -c, "` + script + `"]
`
}

// cgroupWrites are the plan's cgroup files and values, by path ($NSUP:
// this process's pid, which applies it).
func cgroupWrites(p *planner.Plan) map[string]string {
	w := map[string]string{}
	for _, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.CgroupWrite); ok {
			w[ownPid(op.Path)] = op.Value
		}
	}
	return w
}

// ownPid is a plan's path with $NSUP put in, for an Apply of this process.
func ownPid(p string) string {
	return strings.ReplaceAll(p, planner.NsupPid, strconv.Itoa(os.Getpid()))
}

// TestRootLimitsMemory: a process that allocates past `memory` is killed
// by the kernel, and nsup says so, with the limit and its line; the
// environment's groups are gone after (checkHost).
func TestRootLimitsMemory(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, limitsSpec("{memory: 16M, memory_swap: 16M}",
		`x=$(head -c 200000000 /dev/zero | tr '\\000' a); echo survived ${#x}`))
	var why string
	opts := executor.Options{Ended: func(env string, st int, w string) { why = w }}
	st, out, errOut, err := run(t, p, opts)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, errOut)
	}
	if st != 137 || strings.Contains(out, "survived") {
		t.Fatalf("status %d, out %q: want 137, killed", st, out)
	}
	if !strings.Contains(why, "killed by the kernel: out of memory (limits.memory 16M, ") || !strings.Contains(why, "test.yaml:6:") {
		t.Errorf("why = %q: want the OOM kill, the limit and its line", why)
	}
}

// TestRootLimitsSwap: a memory limit without memory_swap holds for swap
// too: while the environment runs, its memory group's swap limit, read
// from the host, is the memory limit (memory.memsw.limit_in_bytes, v1)
// or no swap (memory.swap.max 0, v2); with memory_swap: unlimited, swap
// is not limited (runc's behaviour). Before, the first case's group had
// no swap limit at all.
func TestRootLimitsSwap(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, c := range []struct {
		limits    string
		unlimited bool
	}{
		{"{memory: 64M}", false},
		{"{memory: 64M, memory_swap: unlimited}", true},
	} {
		t.Run(c.limits, func(t *testing.T) {
			p := compile(t, dir, limitsSpec(c.limits, "read x; true"))
			// The memory group's swap file, v2's or v1's, whatever
			// the plan writes of swap.
			file := ""
			for path := range cgroupWrites(p) {
				switch filepath.Base(path) {
				case "memory.max":
					file = filepath.Join(filepath.Dir(path), "memory.swap.max")
				case "memory.limit_in_bytes":
					file = filepath.Join(filepath.Dir(path), "memory.memsw.limit_in_bytes")
				}
			}
			if file == "" {
				t.Fatalf("no memory limit in the plan:\n%s", planText(p))
			}
			var got string
			var readErr error
			st, out, errOut, err := upWhile(t, p, func(map[string]int) {
				var b []byte
				b, readErr = os.ReadFile(file)
				got = strings.TrimSpace(string(b))
			})
			if err != nil || st != 0 {
				t.Fatalf("apply: %d %v\nstdout %s\nstderr %s", st, err, out, errOut)
			}
			if errors.Is(readErr, os.ErrNotExist) {
				skipOrFail(t, "this host does not account swap: "+file+" is missing")
			}
			if readErr != nil {
				t.Fatal(readErr)
			}
			t.Logf("%s = %s", file, got)
			switch n, _ := strconv.ParseInt(got, 10, 64); {
			case c.unlimited && got != "max" && n < 1<<62:
				t.Errorf("%s = %q, want unlimited", file, got)
			case !c.unlimited && filepath.Base(file) == "memory.swap.max" && got != "0":
				t.Errorf("%s = %q, want 0: no swap beyond the memory limit", file, got)
			case !c.unlimited && filepath.Base(file) != "memory.swap.max" && n != 64<<20:
				t.Errorf("%s = %q, want %d: memory and swap together at the memory limit", file, got, 64<<20)
			}
		})
	}
}

// TestRootLimitsPids: a fork loop stops at `pids` inside; the host's
// other processes are not affected (nothing outside is counted).
func TestRootLimitsPids(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, limitsSpec("{pids: 32}",
		`(i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done); set -- /proc/[0-9]*; echo started=$#`))
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "fork") {
		t.Errorf("no fork failure inside: status %d\nstdout %q\nstderr %q", st, out, errOut)
	}
	f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(out), "started="))
	if len(f) != 1 {
		t.Fatalf("status %d out %q err %q", st, out, errOut)
	}
	// Every process of the environment counts: its PID 1, the shell, the
	// sleeps the loop could start.
	if n, _ := strconv.Atoi(f[0]); n < 20 || n > 32 {
		t.Errorf("%d processes inside, want about 32, at most 32", n)
	}
}

// TestRootLimitsCPU: a busy loop under cpu: 0.5 gets at most about 0.6
// CPU-seconds per wall second, measured over 3 s from its group's own
// usage (usage_usec of cpu.stat in its unified group, which counts every
// process in it, whichever hierarchy has the cpu controller).
func TestRootLimitsCPU(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, limitsSpec("{cpu: 0.5, cpu_weight: 50}",
		`(while :; do :; done) & sleep 5; kill $!`))
	w := cgroupWrites(p)
	found := false
	for path, v := range w {
		if strings.HasSuffix(path, "/cpu.cfs_quota_us") && v == "50000" || strings.HasSuffix(path, "/cpu.max") && v == "50000 100000" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no CPU quota of 50 ms per 100 ms in the plan: %v", w)
	}
	var unified string
	for _, st := range p.Environments[0].Steps {
		if c, ok := st.Op.(planner.Clone); ok {
			unified = ownPid(c.Cgroup)
		}
	}
	if unified == "" {
		t.Fatal("the plan has no unified group: this host's usage is not measured")
	}
	usage := func() (int64, bool) {
		b, err := os.ReadFile(filepath.Join(unified, "cpu.stat"))
		if err != nil {
			return 0, false
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				return n, err == nil
			}
		}
		return 0, false
	}
	type sample struct {
		usec int64
		at   time.Time
	}
	measured := make(chan []sample, 1)
	opts := executor.OnStart(executor.Options{}, func(string, int) {
		go func() {
			// From the busy loop's start (the main process forks it
			// first), 3 s of its group's usage.
			time.Sleep(200 * time.Millisecond)
			var ss []sample
			for _, d := range []time.Duration{0, 3 * time.Second} {
				time.Sleep(d)
				u, ok := usage()
				if !ok {
					break
				}
				ss = append(ss, sample{u, time.Now()})
			}
			measured <- ss
		}()
	})
	st, out, errOut, err := run(t, p, opts)
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v\n%s\n%s", st, err, out, errOut)
	}
	ss := <-measured
	if len(ss) != 2 {
		t.Fatalf("%s/cpu.stat could not be read for 3 s: %v", unified, ss)
	}
	wall := ss[1].at.Sub(ss[0].at).Seconds()
	cpu := float64(ss[1].usec-ss[0].usec) / 1e6
	if cpu/wall > 0.6 {
		t.Errorf("the busy loop's group used %.2f CPU-seconds in %.2f s: %.2f CPU, more than cpu: 0.5 allows", cpu, wall, cpu/wall)
	}
	if cpu == 0 {
		t.Errorf("the group used no CPU in %.2f s: nothing was measured", wall)
	}
	t.Logf("%.2f CPU-seconds in %.2f s: %.2f CPU", cpu, wall, cpu/wall)
}

// TestRootLimitsGroups: the environment runs in a group of its own in
// each hierarchy its limits use and in the unified one (its
// /proc/self/cgroup says nsup/lim there), with the plan's values in
// their files, and the groups are gone when it has ended.
func TestRootLimitsGroups(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, limitsSpec("{memory: 64M, memory_swap: 128M, pids: 100, cpu: 1, cpu_weight: 300}", `cat /proc/self/cgroup; read x; true`))
	var dirs []string
	for _, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.CgroupMkdir); ok {
			dirs = append(dirs, ownPid(op.Path))
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("no cgroup in the plan:\n%s", planText(p))
	}
	st, out, errOut, err := upWhile(t, p, func(pids map[string]int) {
		for path, want := range cgroupWrites(p) {
			if strings.HasSuffix(path, "cgroup.subtree_control") {
				continue
			}
			b, err := os.ReadFile(path)
			got := strings.TrimSpace(string(b))
			if err != nil || got != want {
				t.Errorf("%s: %q (%v), want %q", path, got, err, want)
			}
		}
		// No thread of nsup (this process) stays in them: the one that
		// created the child went back to nsup's own groups.
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, task := range tasks {
			b, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/cgroup")
			if strings.Contains(string(b), "/nsup/") {
				t.Errorf("thread %s of nsup is in the environment's groups:\n%s", task.Name(), b)
			}
		}
		for _, d := range dirs {
			b, _ := os.ReadFile(d + "/cgroup.procs")
			if !strings.Contains(" "+strings.Join(strings.Fields(string(b)), " ")+" ", fmt.Sprintf(" %d ", pids["lim"])) {
				t.Errorf("%s/cgroup.procs has %q, not the child %d", d, b, pids["lim"])
			}
		}
	})
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v\nstdout %s\nstderr %s", st, err, out, errOut)
	}
	if !strings.Contains(out, "/nsup/lim") {
		t.Errorf("/proc/self/cgroup inside: %q", out)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", d, err)
		}
	}
	// Every thread of nsup (this process) is back where the process is,
	// the one that created the child too (the caller's, for a lone
	// environment), in every hierarchy, not in a parent of the groups.
	own, _ := os.ReadFile("/proc/self/cgroup")
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		if b, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/cgroup"); string(b) != string(own) {
			t.Errorf("thread %s of nsup is in\n%s\nnot in the process's\n%s", task.Name(), b, own)
		}
	}
}

// TestRootLimitsLeftKilled: an environment without a pid namespace whose
// main process leaves one behind: when the main process ends, what is
// left in its groups is killed (cgroup.kill in the unified hierarchy)
// and the groups removed; checkHost finds no process left. Root plans
// the host's pid namespace only in a user namespace that maps root
// elsewhere: the environment has one.
func TestRootLimitsLeftKilled(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	// The child stage runs as host uid 100000: the tree's folders must
	// let it through (t.TempDir makes them 0700).
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	p := compile(t, dir, `version: 1
environments:
  left:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt]
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]
    init: false
    processes:
      - name: main
        command: [/bin/sh, -c, "sleep 300 </dev/null >/dev/null 2>&1 & echo started"]
`)
	out := runOK(t, p)
	if !strings.Contains(out, "started") {
		t.Fatalf("out %q", out)
	}
}

// TestRootGroupEmptied: a unified group's end is seen in its
// cgroup.events (WaitEmpty waits while a process is in it, and returns
// once it has gone), and RemoveGroup empties one by cgroup.kill.
func TestRootGroupEmptied(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	l, err := cgroup.Discover(os.DirFS("/"))
	if err != nil || l.Unified == nil {
		t.Fatalf("no unified hierarchy here (%v): the v2 path is untested", err)
	}
	home := filepath.Join(l.Unified.Dir(l.Unified.Group), "nsup")
	g := filepath.Join(home, fmt.Sprintf("emptied.%d", os.Getpid()))
	if err := os.MkdirAll(g, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lifecycle.RemoveGroup(g) })
	start := func() *exec.Cmd {
		fd, err := unix.Open(g, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		cmd := exec.Command("/bin/sleep", "1000")
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, Pdeathsig: unix.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if pids := lifecycle.GroupPids(g); !slices.Contains(pids, cmd.Process.Pid) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("sleep (%d) is not in %s: %v", cmd.Process.Pid, g, pids)
		}
		return cmd
	}

	cmd := start()
	done := make(chan error, 1)
	go func() { done <- lifecycle.WaitEmpty(g, time.Minute) }()
	select {
	case err := <-done:
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("WaitEmpty returned (%v) while sleep was in the group", err)
	case <-time.After(200 * time.Millisecond):
	}
	cmd.Process.Kill() // not reaped yet: a zombie is not in a group
	if err := <-done; err != nil {
		t.Errorf("WaitEmpty after the kill: %v", err)
	}
	cmd.Wait()

	cmd = start()
	if err := lifecycle.RemoveGroup(g); err != nil {
		t.Fatalf("RemoveGroup: %v", err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("sleep in the removed group: %v, want killed", err)
	}
	if _, err := os.Stat(g); !os.IsNotExist(err) {
		t.Errorf("%s after RemoveGroup: %v", g, err)
	}

	// A group made inside it (by a process of the environment where its
	// cgroups are writable to it), a process in each: on v2 and on v1
	// (the pids hierarchy), all killed and removed.
	homes := []string{home}
	if h := l.V1["pids"]; h != nil {
		homes = append(homes, filepath.Join(h.Dir(h.Group), "nsup"))
	}
	for _, home := range homes {
		g := filepath.Join(home, fmt.Sprintf("nested.%d", os.Getpid()))
		sub := filepath.Join(g, "inner")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		var cmds []*exec.Cmd
		for _, d := range []string{g, sub} {
			c := exec.Command("/bin/sleep", "1000")
			c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, c)
			if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(c.Process.Pid)), 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := lifecycle.RemoveGroup(g); err != nil {
			t.Errorf("RemoveGroup of %s and %s: %v", g, sub, err)
			for _, c := range cmds {
				c.Process.Kill() // what it left, so that the test ends
			}
		}
		for _, c := range cmds {
			if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Errorf("sleep in %s: %v, want killed", home, err)
			}
		}
		if _, err := os.Stat(g); !os.IsNotExist(err) {
			t.Errorf("%s after RemoveGroup: %v", g, err)
			unix.Rmdir(sub)
			unix.Rmdir(g)
			unix.Rmdir(home)
		}
	}
}

// TestRootLimitsTCP: on v1, the buffers of the environment's TCP sockets
// are counted in its memory group and limited (memory.kmem.tcp), which
// v1 does only once they have a limit: without it, root inside queued
// 1.5 GiB in sockets under a 32M limit (found by the tenth stop's
// review), and the group's TCP usage stayed 0. A sender fills a
// receiver that never reads, on the environment's own loopback; its
// group's TCP usage is read from the host meanwhile.
func TestRootLimitsTCP(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  lim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net]
    limits: {memory: 32M}
    mounts:
      - {type: dev, target: /dev}
    processes:
      - name: main
        command: [/bin/sh, -c, "busybox nc -l -p 9000 -e /bin/sleep 10 & sleep 0.2; head -c 4000000 /dev/zero | busybox nc 127.0.0.1 9000 & sleep 3"]
`)
	var tcp string
	for path, v := range cgroupWrites(p) {
		if strings.HasSuffix(path, "/memory.kmem.tcp.limit_in_bytes") {
			if v != "33554432" {
				t.Errorf("%s: %s, want 33554432", path, v)
			}
			tcp = filepath.Dir(path)
		}
		if strings.HasSuffix(path, "/memory.max") {
			skipOrFail(t, "the memory controller is v2 here ("+path+"), which counts sockets in memory.max: this test is v1's")
		}
	}
	if tcp == "" {
		t.Fatalf("no memory.kmem.tcp.limit_in_bytes in the plan: %v", cgroupWrites(p))
	}
	read := func(f string) int64 {
		b, _ := os.ReadFile(filepath.Join(tcp, f))
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return n
	}
	type seen struct{ limit, usage int64 }
	got := make(chan seen, 1)
	opts := executor.OnStart(executor.Options{}, func(string, int) {
		go func() {
			// Until the sender's bytes sit in the receiver's buffers, for
			// at most 2.5 s of the process's 3.
			var s seen
			for i := 0; i < 125 && s.usage == 0; i++ {
				time.Sleep(20 * time.Millisecond)
				s = seen{read("memory.kmem.tcp.limit_in_bytes"), read("memory.kmem.tcp.usage_in_bytes")}
			}
			got <- s
		}()
	})
	st, out, errOut, err := run(t, p, opts)
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v\n%s\n%s", st, err, out, errOut)
	}
	s := <-got
	if s.limit != 32<<20 {
		t.Errorf("the group's TCP limit: %d, want %d", s.limit, 32<<20)
	}
	if s.usage == 0 {
		t.Errorf("the group's TCP usage stayed 0 while its sockets held bytes: not counted\n%s\n%s", out, errOut)
	}
	t.Logf("TCP usage %d of %d", s.usage, s.limit)
}
