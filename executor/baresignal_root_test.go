package executor_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
)

// TestRootBareSecondSignalKills: with init: false the main process is
// PID 1 of its pid namespace, which gets no signal it has no handler
// for; nsup forwarded every SIGTERM and ^C to it, and an apply whose
// process ignored them ran on until its end (helper-99's review: 13
// minutes). The second SIGINT or SIGTERM now kills it, as the ordered
// stop of several environments does. The first may come while Apply
// still ends its setup (then the setup is interrupted and rolled back);
// either way Apply returns.
func TestRootBareSecondSignalKills(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  bare:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    init: false
    processes:
      - name: main
        command: [/bin/sh, -c, "echo ready; exec sleep 100"]
`)
	sigs := make(chan os.Signal, 2)
	subscribed := make(chan struct{})
	close(subscribed)
	var out syncBuffer
	type result struct {
		st  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := executor.Apply(context.Background(), p, executor.Options{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Signals: sigs, Subscribed: subscribed})
		done <- result{st, err}
	}()
	waitFor(t, &out, "ready")
	sigs <- syscall.SIGTERM
	sigs <- syscall.SIGTERM
	select {
	case r := <-done:
		interrupted := r.st == 1 && r.err != nil && strings.Contains(r.err.Error(), "setup interrupted")
		if !interrupted && (r.st != 128+int(syscall.SIGKILL) || r.err != nil) {
			t.Errorf("apply after two SIGTERMs: status %d, err %v; want %d (killed)", r.st, r.err, 128+int(syscall.SIGKILL))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("apply of an init: false environment did not end after two SIGTERMs (its PID 1 ignores them); output %q", out.String())
	}
}

// applyBare applies p with sigs as its signals, waits until each of its
// n environments is set up and its main process is sleep (its shell has
// set its traps, then executed it), sends one SIGTERM, and returns
// Apply's status and error once it ends. It fails the test if Apply has
// not ended 30 s later (the bound is generous: the assertion is that it
// ends), killing what runs. It waits for no output: once Apply has
// said an environment is started (OnStart), the signal cannot interrupt
// its setup instead.
func applyBare(t *testing.T, p *planner.Plan, n int) (int, string, error) {
	t.Helper()
	sigs := make(chan os.Signal, 2)
	subscribed := make(chan struct{})
	close(subscribed)
	var out syncBuffer
	type result struct {
		st  int
		err error
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan int, n)
	opts := executor.OnStart(executor.Options{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Signals: sigs, Subscribed: subscribed},
		func(env string, pid int) { started <- pid })
	done := make(chan result, 1)
	go func() {
		st, err := executor.Apply(ctx, p, opts)
		done <- result{st, err}
	}()
	end := func(why string) {
		cancel()
		<-done
		t.Fatalf("%s; output %q\n%s", why, out.String(), planText(p))
	}
	for i := 0; i < n; i++ {
		select {
		case pid := <-started:
			for k := 0; ; k++ {
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(comm) == "sleep\n" {
					break
				}
				if k == 400 {
					end(fmt.Sprintf("the main process (pid %d) never executed sleep", pid))
				}
				time.Sleep(25 * time.Millisecond)
			}
		case r := <-done:
			t.Fatalf("apply ended before its environments were up: status %d, err %v; output %q", r.st, r.err, out.String())
		}
	}
	sigs <- syscall.SIGTERM
	select {
	case r := <-done:
		return r.st, out.String(), r.err
	case <-time.After(30 * time.Second):
		end("apply of an init: false environment did not end after one SIGTERM (its PID 1 ignores it; its stop_timeout is over)")
	}
	return 0, "", nil
}

// TestRootBareStopTimeout: with init: false nothing applied the
// process's stop_timeout (no init nor monitor is there to): one SIGTERM
// to nsup was forwarded to a PID 1 that ignored it, and the apply ran on
// (helper-101's stop). nsup now kills it once its stop_timeout after the
// first SIGINT or SIGTERM is over: 1s, and 0s (at once).
func TestRootBareStopTimeout(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, timeout := range []string{"1s", "0s"} {
		t.Run(timeout, func(t *testing.T) {
			dir := t.TempDir()
			busyboxRoot(t, dir)
			p := compile(t, dir, `version: 1
environments:
  bare:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    init: false
    processes:
      - name: main
        stop_timeout: `+timeout+`
        command: [/bin/sh, -c, "trap '' TERM INT; exec sleep 100"]
`)
			if st, out, err := applyBare(t, p, 1); st != 128+int(syscall.SIGKILL) || err != nil {
				t.Errorf("apply after one SIGTERM: status %d, err %v; want %d (killed); output %q", st, err, 128+int(syscall.SIGKILL), out)
			}
		})
	}
}

// TestRootBareOrderedStopTimeout: the ordered stop of several
// environments sends SIGTERM to the last, and to the one before once it
// has ended; an init: false one that ignored it held the stop up for
// good (helper-101's stop). nsup now kills each after its stop_timeout.
func TestRootBareOrderedStopTimeout(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  first:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    init: false
    processes:
      - name: main
        stop_timeout: 0s
        command: [/bin/sh, -c, "trap '' TERM INT; exec sleep 100"]
  second:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    init: false
    depends_on: [first]
    processes:
      - name: main
        stop_timeout: 1s
        command: [/bin/sh, -c, "trap '' TERM INT; exec sleep 100"]
`)
	if st, out, err := applyBare(t, p, 2); st != 128+int(syscall.SIGKILL) || err != nil {
		t.Errorf("apply after one SIGTERM: status %d, err %v; want %d (killed); output %q", st, err, 128+int(syscall.SIGKILL), out)
	}
}

// TestRootBarePrefixedLateLines: the lines of init: false environments
// prefixed by nsup (several write to one place) were copied to nsup's
// stdout bridge, whose pipe nsup closes once every environment is
// started: each line written after that was lost (found by
// helper-101's stop, its test waiting for a "ready" that never came;
// nsup apply > log 2>&1 wrote none). Here stdout is no file (bridged),
// and both lines come after the setup.
func TestRootBarePrefixedLateLines(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  first:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    init: false
    processes:
      - name: main
        command: [/bin/sh, -c, "sleep 0.3; echo late-first; echo err-first >&2"]
  second:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    init: false
    processes:
      - name: main
        command: [/bin/sh, -c, "sleep 0.3; echo late-second; echo err-second >&2"]
`)
	st, out, errOut, err := run(t, p, executor.Options{})
	if st != 0 || err != nil {
		t.Fatalf("apply: %d %v\n%s", st, err, errOut)
	}
	for _, env := range []string{"first", "second"} {
		if got := linesOf(out, env+"/main"); len(got) != 1 || got[0] != "late-"+env {
			t.Errorf("%s's stdout lines %q, want [late-%s]; stdout %q", env, got, env, out)
		}
		if got := linesOf(errOut, env+"/main"); len(got) != 1 || got[0] != "err-"+env {
			t.Errorf("%s's stderr lines %q, want [err-%s]; stderr %q", env, got, env, errOut)
		}
	}
}
