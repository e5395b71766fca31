package executor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// Detached environments: nsup apply -d, then ps (List, Tree), exec, logs
// and down, against a state directory of the test's own (never the
// host's /run/nsup, which other work on this machine looks at).

// detachedRoot begins a root test of detached environments: root and a
// static test binary (the child stage) required, the host checked when
// it ends (checkHost), a state directory of its own (testStateDir), and
// a busybox root in dir.
func detachedRoot(t *testing.T) (state, dir string) {
	t.Helper()
	requireRoot(t)
	requireStaticSelf(t)
	checkHost(t)
	state = testStateDir(t)
	dir = t.TempDir()
	busyboxRoot(t, dir)
	return state, dir
}

// testStateDir makes the test's state directory and checks, when the test
// ends, that everything in it was taken down. Registered after checkHost,
// its cleanup (which takes down what a failed test left) runs first.
func testStateDir(t *testing.T) string {
	t.Helper()
	// The project's folder (state/proj): what the lifecycle functions
	// take; compileDetached plans for it.
	d := filepath.Join(t.TempDir(), "state", "proj")
	t.Cleanup(func() {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			t.Errorf("left in the state directory: %s", e.Name())
			lifecycle.Down(context.Background(), d, e.Name())
		}
	})
	return d
}

// compileDetached plans yaml (as compile does) for nsup apply -d, in the
// project whose folder is state (STATEDIR/PROJECT).
func compileDetached(t *testing.T, dir, yaml, state string) *planner.Plan {
	t.Helper()
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(yaml), asWritten)
	if err != nil {
		t.Fatalf("spec:\n%v", err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache"), Detach: true, StateDir: filepath.Dir(state), Project: filepath.Base(state)})
	if err != nil {
		t.Fatalf("plan:\n%v", err)
	}
	return p
}

// applets adds busybox applets to a busybox root.
func applets(t *testing.T, root string, names ...string) {
	for _, n := range names {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", n)); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
	}
}

// upLifeWithDev brings lifeSpec's environment "life" up detached, with a
// dev at /dev and the busybox applets named, and takes it down when the
// test ends; it returns the state folder.
func upLifeWithDev(t *testing.T, names ...string) string {
	t.Helper()
	return upLifeDev(t, true, names...)
}

// upLifeDev is upLifeWithDev, with a dev mount if dev says so.
func upLifeDev(t *testing.T, dev bool, names ...string) string {
	t.Helper()
	requireRoot(t)
	checkHost(t)
	state := testStateDir(t)
	dir := t.TempDir()
	applets(t, busyboxRoot(t, dir), names...)
	spec := lifeSpec
	if dev {
		spec = strings.Replace(lifeSpec, "      - {type: tmpfs, target: /tmp}\n", "      - {type: tmpfs, target: /tmp}\n      - {type: dev, target: /dev}\n", 1)
	}
	p := compileDetached(t, dir, spec, state)
	if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	t.Cleanup(func() { lifecycle.Down(context.Background(), state, "life") })
	return state
}

// callerPty is a pty of the test's, for the caller's terminal; both ends
// are closed when the test ends.
func callerPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := executor.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

const lifeSpec = `version: 1
environments:
  life:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, uts, ipc, net]
    hostname: life-inside
    env: {FOO: bar}
    cwd: /tmp
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - name: main
        command: [/bin/sh, -c, "echo main up; exec sleep 1000"]
      - name: worker
        command: [/bin/sh, -c, "echo worker up; exec sleep 1000"]
        user: "1000:1000"
        env: {ROLE: worker}
        cwd: /
`

// execOut runs argv in env name, with stdin from in, and returns its
// status and output (stdout and stderr together).
func execOut(t *testing.T, state, name, process, in string, argv ...string) (int, string, error) {
	t.Helper()
	dir := t.TempDir()
	stdin := filepath.Join(dir, "in")
	os.WriteFile(stdin, []byte(in), 0o600)
	inf, err := os.Open(stdin)
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	outf, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer outf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := lifecycle.Exec(ctx, state, name, lifecycle.ExecOptions{Argv: argv, Process: process, Stdin: inf, Stdout: outf, Stderr: outf})
	if err != nil {
		t.Logf("exec %q: status %d, error: %v", argv, st, err)
	}
	b, _ := os.ReadFile(outf.Name())
	return st, string(b), err
}

// TestRootDetached: an environment brought up detached runs on once
// Apply has returned; it is listed with its tree; exec enters every one of
// its namespaces with the main process's (or another process's) variables,
// cwd and user, and nothing of the host but the stdio given; its log holds
// its output, prefixed; down stops it and removes its state, and is
// idempotent.
func TestRootDetached(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	state := testStateDir(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	applets(t, root, "pwd")
	p := compileDetached(t, dir, lifeSpec, state)
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil || st != 0 || out != "" || errOut != "" {
		t.Fatalf("apply -d: %d %v %q %q\n%s", st, err, out, errOut, planText(p))
	}
	envs, err := lifecycle.List(state)
	if err != nil || len(envs) != 1 {
		t.Fatalf("List: %v %v", envs, err)
	}
	e := envs[0]
	if !e.Running || e.Status() != "running" || e.State.Name != "life" || e.State.Pid <= 0 {
		t.Errorf("listed as %+v", e)
	}
	if want := []string{"mnt", "pid", "net", "ipc", "uts"}; !slices.Equal(e.State.New, want) {
		t.Errorf("new namespaces %q, want %q", e.State.New, want)
	}
	if fi, err := os.Stat(e.Dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory: %v %v, want mode 0700", fi.Mode(), err)
	}
	tree, err := lifecycle.Tree(e.State)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range tree.Children {
		names = append(names, c.Name)
		if c.PidInside <= 1 || c.Pid == c.PidInside {
			t.Errorf("%s: pid %d, inside %d", c.Name, c.Pid, c.PidInside)
		}
	}
	if tree.Pid != e.State.Pid || tree.PidInside != 1 || !slices.Equal(names, []string{"main", "worker"}) {
		t.Errorf("tree: init %d (inside %d), children %q", tree.Pid, tree.PidInside, names)
	}

	// exec: the environment's namespaces, all of them, and its mounts.
	code, got, err := execOut(t, state, "life", "", "",
		"/bin/sh", "-c", `cat /proc/sys/kernel/hostname; for n in cgroup ipc mnt net pid time user uts; do readlink /proc/self/ns/$n; done; echo $$; cut -d' ' -f5 /proc/self/mountinfo | tr '\n' ' '`)
	if err != nil || code != 0 {
		t.Fatalf("exec: %d %v %s", code, err, got)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 11 || lines[0] != "life-inside" {
		t.Fatalf("exec printed %q", lines)
	}
	for i, n := range []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"} {
		want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", e.State.Pid, n))
		if lines[1+i] != want {
			t.Errorf("%s namespace inside exec: %s, init's: %s", n, lines[1+i], want)
		}
	}
	if lines[9] == "1" || lines[9] == "" {
		t.Errorf("exec's pid inside: %s", lines[9])
	}
	if want := strings.Join(planMountPoints(p, "life"), " "); strings.TrimSpace(lines[10]) != want {
		t.Errorf("exec's mount points: %q, want the environment's, %q", lines[10], want)
	}
	execFds(t, state, e.State)
	// The main process's variables, cwd and user; or another's. (The
	// shell adds PWD and SHLVL.)
	code, got, err = execOut(t, state, "life", "", "", "/bin/sh", "-c", "env | sort | tr '\n' ' '; echo; pwd; id -u")
	// HOME: root's home in the rootfs's own /etc/passwd (testRootfs: /).
	if want := "FOO=bar HOME=/ PATH=" + planner.DefaultPath + " PWD=/tmp SHLVL=1 \n/tmp\n0\n"; code != 0 || got != want {
		t.Errorf("exec as main: %d %q (%v), want %q", code, got, err, want)
	}
	code, got, err = execOut(t, state, "life", "worker", "", "/bin/sh", "-c", "echo $ROLE; pwd; id -u; id -g")
	if code != 0 || got != "worker\n/\n1000\n1000\n" {
		t.Errorf("exec as worker: %d %q (%v)", code, got, err)
	}
	// stdin passes through; the exit status comes back.
	code, got, _ = execOut(t, state, "life", "", "hello\n", "/bin/sh", "-c", "cat; exit 42")
	if code != 42 || got != "hello\n" {
		t.Errorf("exec: %d %q, want 42 and hello", code, got)
	}
	// The host files given as its stdio reach the command through pipes:
	// root inside could open a file again for writing (PassAsIs).
	code, got, _ = execOut(t, state, "life", "", "read\n", "/bin/sh", "-c",
		"for fd in 0 1 2; do test -p /proc/self/fd/$fd || { echo -n \"fd $fd: \"; readlink /proc/self/fd/$fd; }; done; echo rewritten > /proc/self/fd/0; echo done")
	if code != 0 || got != "done\n" {
		t.Errorf("exec with files as stdio: %d %q, want only pipes", code, got)
	}
	var ee *lifecycle.ExecError
	if _, _, err := execOut(t, state, "life", "", "", "no-such-command"); !errors.As(err, &ee) || ee.Errno != unix.ENOENT {
		t.Errorf("exec of a missing command: %v, want ENOENT", err)
	}
	if _, _, err := execOut(t, state, "life", "nope", "", "/bin/true"); err == nil || !strings.Contains(err.Error(), `no process "nope"`) {
		t.Errorf("exec as a missing process: %v", err)
	}

	var log strings.Builder
	if err := lifecycle.Logs(context.Background(), state, "life", false, &log); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"life/main | main up\n", "life/worker | worker up\n"} {
		if !strings.Contains(log.String(), l) {
			t.Errorf("log %q lacks %q", log.String(), l)
		}
	}

	res, err := lifecycle.Down(context.Background(), state, "life")
	if err != nil || !res.Found || !res.Stopped || res.Killed || res.Exit != 128+15 {
		t.Errorf("down: %+v %v; want stopped by SIGTERM (143)", res, err)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Errorf("state left: %v", ents)
	}
	res, err = lifecycle.Down(context.Background(), state, "life")
	if err != nil || res.Found {
		t.Errorf("down again: %+v %v; want nothing to do", res, err)
	}
	if _, err := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{Argv: []string{"true"}}); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Errorf("exec after down: %v", err)
	}
}

// execFds checks, from the host, that a command nsup exec starts has the
// stdio it was given and no other fd.
func execFds(t *testing.T, state string, st lifecycle.State) {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in, _ := os.Open("/dev/null")
	defer in.Close()
	done := make(chan int, 1)
	go func() {
		code, _ := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{
			Argv: []string{"/bin/sh", "-c", "echo $$; exec sleep 1000"}, Stdin: in, Stdout: out, Stderr: out})
		done <- code
	}()
	pid := 0
	for i := 0; pid == 0 && i < 400; i++ {
		time.Sleep(25 * time.Millisecond)
		b, _ := os.ReadFile(out.Name())
		var inside int
		if _, err := fmt.Sscan(string(b), &inside); err != nil {
			continue
		}
		tree, _ := lifecycle.Tree(st)
		for _, c := range tree.Children {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c.Pid))
			if c.PidInside == inside && string(comm) == "sleep\n" {
				pid = c.Pid
			}
		}
	}
	if pid == 0 {
		t.Fatal("the exec'd command never showed up")
	}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	var fds []string
	for _, e := range ents {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		fds = append(fds, e.Name()+" "+l)
	}
	// /dev/null as it is; the file given for stdout and stderr through
	// one pipe (lifecycle.PassAsIs).
	if len(fds) != 3 || fds[0] != "0 /dev/null" || !strings.HasPrefix(fds[1], "1 pipe:") || fds[2] != "2"+fds[1][1:] {
		t.Errorf("the exec'd command's fds %q, want /dev/null, one pipe for 1 and 2, and no other", fds)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if code := <-done; code != 128+9 {
		t.Errorf("killed: status %d, want 137", code)
	}
}

// TestRootDetachedCrash: an environment whose main process fails shows as
// exited with its status until down, which cleans up after it.
func TestRootDetachedCrash(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, `version: 1
environments:
  crash:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "echo bye; sleep 0.2; exit 3"]
`, state)
	if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	var s lifecycle.EnvStatus
	for i := 0; i < 400; i++ {
		var err error
		if s, err = lifecycle.Inspect(state, "crash"); err != nil {
			t.Fatal(err)
		}
		if !s.Running {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if s.Status() != "exited (status 3)" {
		t.Errorf("status %q, want exited (status 3)", s.Status())
	}
	if _, err := lifecycle.Exec(context.Background(), state, "crash", lifecycle.ExecOptions{Argv: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "is not running: exited (status 3)") {
		t.Errorf("exec into it: %v", err)
	}
	// Another apply -d of the name is refused until down.
	if _, _, _, err := run(t, p, executor.Options{}); err == nil || !strings.Contains(err.Error(), "has ended but is not taken down") {
		t.Errorf("apply -d again: %v", err)
	}
	res, err := lifecycle.Down(context.Background(), state, "crash")
	if err != nil || !res.Found || res.Stopped || res.Exit != 3 {
		t.Errorf("down: %+v %v", res, err)
	}
	// reap: this process was its parent.
	unix.Wait4(s.State.Pid, nil, unix.WNOHANG, nil)
}

// TestRootExecTTY: exec -t gives the command a terminal of its own: a
// session and process group of its own, the pty as controlling terminal
// (job control), the caller's window size and its changes; the caller's
// terminal is in raw mode meanwhile and restored after.
func TestRootExecTTY(t *testing.T) {
	state := upLifeWithDev(t, "stty")
	// The caller's terminal: a pty of the test's.
	master, slave := callerPty(t)
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 100})
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	go io.Copy(&out, master)
	type result struct {
		st  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{TTY: true, Term: "xterm-exectest", Stdin: slave, Stdout: slave, Stderr: slave,
			Argv: []string{"/bin/sh", "-c", `[ -t 0 ] && echo tty-yes; echo "stat $(cat /proc/$$/stat)"; stty size; echo "TERM=$TERM"; echo ready; ` +
				`i=0; while [ "$(stty size)" != "40 120" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; stty size; exit 9`}})
		done <- result{st, err}
	}()
	waitFor(t, &out, "ready")
	// The caller's window changes: the command sees it (SIGWINCH is relayed).
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	syscall.Kill(os.Getpid(), syscall.SIGWINCH)
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("exec -t did not end; output %q", out.String())
	}
	if r.err != nil || r.st != 9 {
		t.Fatalf("exec -t: %d %v\n%q", r.st, r.err, out.String())
	}
	// Exec has written everything to our side of the terminal; the test's
	// own copy from the master may still be on its way.
	waitFor(t, &out, "40 120")
	text := strings.ReplaceAll(out.String(), "\r", "")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) < 6 || lines[0] != "tty-yes" || lines[2] != "30 100" || lines[3] != "TERM=xterm-exectest" || lines[len(lines)-1] != "40 120" {
		t.Fatalf("output %q", lines)
	}
	t.Logf("the command printed %q", lines)
	// proc(5) stat: pid, comm, state, ppid, pgrp, session, tty_nr, tpgid.
	f := strings.Fields(strings.TrimPrefix(lines[1], "stat "))
	if len(f) < 8 || f[4] != f[0] || f[5] != f[0] || f[6] == "0" || f[7] != f[0] {
		t.Errorf("the command's stat %q: want it to lead its session and process group, with a terminal, in the foreground", f)
	}
	after, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if *after != *before {
		t.Errorf("the caller's terminal was not restored:\n%+v\n%+v", before, after)
	}
}

// ---- nsup apply in a process of its own ----

// helper is nsup apply of a plan, as a process of its own (helperApply).
type helper struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

func startHelper(t *testing.T, p *planner.Plan, pause string, env ...string) *helper {
	t.Helper()
	b, err := planner.MarshalIndent(p)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "plan.json")
	os.WriteFile(f, b, 0o600)
	h := &helper{cmd: exec.Command("/proc/self/exe"), stderr: &syncBuffer{}, done: make(chan error, 1)}
	h.cmd.Env = append(append(os.Environ(), "NSUP_TEST_HELPER=apply", "NSUP_TEST_PLAN="+f, "NSUP_TEST_PAUSE="+pause), env...)
	h.cmd.Stdout, h.cmd.Stderr = h.stderr, h.stderr
	// A process it leaves behind may hold its output open: Wait returns
	// all the same, and the test says what was left (checkHost).
	h.cmd.WaitDelay = 5 * time.Second
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	return h
}

// waitPaused waits until the helper says it paused before step of env
// (NSUP_TEST_PAUSE); it kills the helper and fails the test after 20 s.
func (h *helper) waitPaused(t *testing.T, env string, step int) {
	t.Helper()
	want := fmt.Sprintf("nsup-test: paused %s %d", env, step)
	for i := 0; !strings.Contains(h.stderr.String(), want); i++ {
		if i == 800 {
			h.cmd.Process.Kill()
			t.Fatalf("never paused at step %d: %s", step, h.stderr.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// children are the pids of pid's children, of all its threads.
func children(pid int) []int {
	var out []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func (h *helper) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(60 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
		t.Fatalf("nsup apply did not end: %s", h.stderr.String())
	}
	// A helper killed leaves its foreground environments' groups
	// (ENV.PID), which the next nsup command removes: this one.
	if _, err := lifecycle.CleanCgroups(""); err != nil {
		t.Errorf("clean: %v", err)
	}
	return h.cmd.ProcessState.ExitCode(), h.stderr.String()
}

// TestRootConcurrentDetach: two nsup apply -d of the same environment at
// once: exactly one wins, the other says why; the winner's environment
// outlives its nsup.
func TestRootConcurrentDetach(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, lifeSpec, state)
	for round := 0; round < 3; round++ {
		a, b := startHelper(t, p, ""), startHelper(t, p, "")
		ca, ea := a.wait(t)
		cb, eb := b.wait(t)
		if (ca == 0) == (cb == 0) {
			t.Fatalf("round %d: exit statuses %d and %d, want exactly one 0\n%s\n%s", round, ca, cb, ea, eb)
		}
		loser := eb
		if cb == 0 {
			loser = ea
		}
		if !strings.Contains(loser, `environment "life" is already running, or being brought up by another nsup`) {
			t.Errorf("round %d: the other said %q", round, loser)
		}
		s, err := lifecycle.Inspect(state, "life")
		if err != nil || !s.Running {
			t.Fatalf("round %d: after both ended: %+v %v", round, s, err)
		}
		if res, err := lifecycle.Down(context.Background(), state, "life"); err != nil || !res.Stopped {
			t.Fatalf("round %d: down: %+v %v", round, res, err)
		}
	}
}

// TestRootKillDuringApply: nsup killed with SIGKILL anywhere in apply
// (stopped before a step of each stage, the tree half started, the state
// written but the environment not released yet, the child waiting for its
// user namespace's id maps) leaves no mount, no
// process, and nothing nsup ps shows as running; down cleans up the rest.
func TestRootKillDuringApply(t *testing.T) {
	state, dir := detachedRoot(t)
	spec := `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, uts]
    hostname: victim
    mounts:
      - {type: proc, target: /proc}
      - {type: tmpfs, target: /tmp}
    processes:
      - name: main
        command: [/bin/sleep, "1000"]
      - name: second
        command: [/bin/sleep, "1000"]
`
	detached := compileDetached(t, dir, spec, state)
	fg := compile(t, dir, spec)
	// In a user namespace of its own, the child waits for its id maps,
	// which the host writes after the clone: killed then, nsup leaves a
	// child blocked on the release pipe, which must end too.
	fgUser := compile(t, dir, strings.Replace(spec, "namespaces: [mnt, pid, uts]", `namespaces: [user, mnt, pid, uts]
    idmap:
      uid: [{inside: 0, outside: 0, count: 1}]
      gid: [{inside: 0, outside: 0, count: 1}]`, 1))
	uidMap := -1
	for i, st := range fgUser.Environments[0].Steps {
		if _, ok := st.Op.(planner.UIDMap); ok && uidMap < 0 {
			uidMap = i
		}
	}
	if uidMap < 0 {
		t.Fatalf("no uid map step:\n%s", planText(fgUser))
	}
	// The last step of a kind (or the first, with first).
	find := func(p *planner.Plan, stage planner.Stage, op string, first bool) int {
		at := -1
		for i, st := range p.Environments[0].Steps {
			if st.Stage == stage && st.Op.Syscall() == op && (at < 0 || !first) {
				at = i
			}
		}
		if at < 0 {
			t.Fatalf("no %s %s step", stage, op)
		}
		return at
	}
	cases := []struct {
		name string
		p    *planner.Plan
		step int
	}{
		{"detached-flock", detached, find(detached, planner.Host, "flock", true)},
		{"detached-clone", detached, find(detached, planner.Host, "clone3", true)},
		{"detached-mount", detached, find(detached, planner.Child, "mount", false)},
		{"detached-second-start", detached, find(detached, planner.Init, "clone", false)},
		{"detached-state", detached, find(detached, planner.Host, "state", true)},
		{"detached-release", detached, find(detached, planner.Init, "prctl", false)},
		{"foreground-mount", fg, find(fg, planner.Child, "mount", false)},
		{"foreground-second-start", fg, find(fg, planner.Init, "clone", false)},
		{"foreground-second-execve", fg, find(fg, planner.Proc, "execve", false)},
		{"foreground-user-maps", fgUser, uidMap},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkHost(t)
			h := startHelper(t, tc.p, fmt.Sprintf("victim %d", tc.step))
			h.waitPaused(t, "victim", tc.step)
			h.cmd.Process.Signal(syscall.SIGKILL)
			h.wait(t)
			// Nothing runs any more (checkHost also looks for processes
			// left, at the end), nothing is shown as running.
			for i := 0; ; i++ {
				envs, err := lifecycle.List(state)
				if err != nil {
					t.Fatal(err)
				}
				if len(envs) == 0 || !envs[0].Running {
					if len(envs) > 0 {
						t.Logf("listed as %s until down", envs[0].Status())
					}
					break
				}
				if i == 200 {
					t.Fatalf("still running after nsup was killed: %+v", envs[0])
				}
				time.Sleep(25 * time.Millisecond)
			}
			if _, err := lifecycle.Down(context.Background(), state, "victim"); err != nil {
				t.Errorf("down: %v", err)
			}

		})
	}
}

// TestRootDetachFailAtEveryStep: a detached apply that fails at any step
// leaves nothing: no process, no mount, no state.
func TestRootDetachFailAtEveryStep(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, lifeSpec, state)
	for i, st := range p.Environments[0].Steps {
		t.Run(fmt.Sprintf("step%02d-%s", i, st.Op.Syscall()), func(t *testing.T) {
			checkHost(t)
			_, _, _, err := run(t, p, executor.FailAt(executor.Options{}, "life", i, unix.EPERM))
			var se *executor.StepError
			if !errors.As(err, &se) || se.Step != i || !errors.Is(err, unix.EPERM) {
				t.Fatalf("apply: %v, want step %d to fail with EPERM", err, i)
			}
			if ents, _ := os.ReadDir(state); len(ents) != 0 {
				t.Errorf("state left: %v", ents)
			}
		})
	}
}

// TestRootDetachedLogsFollow: logs -f copies the output as it comes and
// ends with the environment.
func TestRootDetachedLogsFollow(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, `version: 1
environments:
  chatty:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done; echo last"]
`, state)
	if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := lifecycle.Logs(ctx, state, "chatty", true, &out); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Errorf("logs -f did not end with the environment")
	}
	if want := "line 1\nline 2\nline 3\nline 4\nline 5\nlast\n"; out.String() != want {
		t.Errorf("logs -f: %q, want %q", out.String(), want)
	}
	s, _ := lifecycle.Inspect(state, "chatty")
	if res, err := lifecycle.Down(context.Background(), state, "chatty"); err != nil || res.Exit != 0 {
		t.Errorf("down: %+v %v", res, err)
	}
	unix.Wait4(s.State.Pid, nil, unix.WNOHANG, nil)
}

// TestRootStateDirNotOurs: a state directory another user owns or can
// write to (an unprivileged user's default is /tmp/nsup-run-UID when
// XDG_RUNTIME_DIR is unset: anyone can make it first) is refused by apply
// -d, and by exec, ps and down, which would otherwise hand the caller's
// stdio to a socket, or signal a pid, that the other user planted there.
func TestRootStateDirNotOurs(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, c := range []struct {
		name string
		make func(d string) error
	}{
		{"other-owner", func(d string) error {
			if err := os.Mkdir(d, 0o700); err != nil {
				return err
			}
			return os.Chown(d, 65534, 65534)
		}},
		{"world-writable", func(d string) error {
			if err := os.Mkdir(d, 0o700); err != nil {
				return err
			}
			return os.Chmod(d, 0o777)
		}},
		{"symlink", func(d string) error {
			other := d + "-target"
			if err := os.Mkdir(other, 0o700); err != nil {
				return err
			}
			if err := os.Chown(other, 65534, 65534); err != nil {
				return err
			}
			return os.Symlink(other, d)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			if err := c.make(state); err != nil {
				t.Fatal(err)
			}
			p := compileDetached(t, dir, lifeSpec, state)
			_, _, _, err := run(t, p, executor.Options{})
			var se *executor.StepError
			if !errors.As(err, &se) || se.Step != 0 {
				if err == nil {
					lifecycle.Down(context.Background(), state, "life")
				}
				t.Fatalf("apply -d in %s: %v, want step 0 (mkdir) to fail", c.name, err)
			}
			if ents, _ := os.ReadDir(state); len(ents) != 0 {
				t.Errorf("made in the state directory: %v", ents)
			}
			// What the other user may have planted: a directory of the
			// environment's name, which exec, ps and down must not use.
			if err := os.Mkdir(filepath.Join(state, "life"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(state, "life", planner.StateFile), []byte(`{"version":1,"name":"life","pid":1}`), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := lifecycle.Inspect(state, "life"); err == nil {
				t.Errorf("Inspect used the state directory")
			}
			if _, err := lifecycle.List(state); err == nil {
				t.Errorf("List used the state directory")
			}
			if _, err := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{Argv: []string{"true"}}); err == nil {
				t.Errorf("Exec used the state directory")
			}
			if _, err := lifecycle.Down(context.Background(), state, "life"); err == nil {
				t.Errorf("Down used the state directory")
			}
			if _, err := os.Stat(filepath.Join(state, "life")); err != nil {
				t.Errorf("Down removed the planted directory: %v", err)
			}
		})
	}
}

// TestRootExecTerminalNotKept: without -t, a terminal among the caller's
// stdio is not handed to the environment (it is relayed through pipes):
// a process the command leaves behind in a session of its own would
// otherwise keep the caller's terminal after nsup exec has returned, and
// read what is typed into the host's shell, or write to it.
func TestRootExecTerminalNotKept(t *testing.T) {
	state := upLifeWithDev(t, "setsid")
	master, slave := callerPty(t)
	var out syncBuffer
	go io.Copy(&out, master)
	st, err := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{Stdin: slave, Stdout: slave, Stderr: slave,
		Argv: []string{"/bin/sh", "-c", `exec 3<&0 4>&1; setsid /bin/sh -c 'exec sleep 1000' 0<&3 1>&4 2>&4 & echo left; exit 3`}})
	if err != nil || st != 3 {
		t.Fatalf("exec: %d %v", st, err)
	}
	waitFor(t, &out, "left")
	var tty unix.Stat_t
	if err := unix.Fstat(int(slave.Fd()), &tty); err != nil {
		t.Fatal(err)
	}
	// Whatever the command left behind, once it has started.
	envs, err := lifecycle.List(state)
	if err != nil || len(envs) != 1 {
		t.Fatal(envs, err)
	}
	for i := 0; ; i++ {
		tree, err := lifecycle.Tree(envs[0].State)
		if err != nil {
			t.Fatal(err)
		}
		var sleeping []int
		for _, c := range tree.Children {
			if c.Comm == "sleep" && c.Name == "" {
				sleeping = append(sleeping, c.Pid)
			}
		}
		if len(sleeping) == 0 && i < 1000 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if len(sleeping) == 0 {
			t.Fatal("the command's leftover never started")
		}
		for _, pid := range sleeping {
			fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
			for _, fd := range fds {
				var st unix.Stat_t
				if unix.Stat(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == tty.Rdev {
					t.Errorf("pid %d inside the environment holds the caller's terminal at fd %s after exec returned", pid, fd.Name())
				}
			}
		}
		return
	}
}

// applyPausedAt applies p in a helper process paused before step of env
// (NSUP_TEST_PAUSE, resumed through a FIFO, NSUP_TEST_RESUME), runs
// meanwhile while it waits there (another environment that may write
// the tree, renaming what the step will use), resumes it, and returns
// its output once it has ended (killed, and the test failed, after 30 s).
func applyPausedAt(t *testing.T, p *planner.Plan, env string, step int, meanwhile func()) string {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "resume")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, p, env+" "+strconv.Itoa(step), "NSUP_TEST_RESUME="+fifo)
	h.waitPaused(t, env, step)
	meanwhile()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{1})
	w.Close()
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
		t.Fatalf("apply did not end once resumed: %s", h.stderr.String())
	}
	return h.stderr.String()
}
