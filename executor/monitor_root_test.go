package executor_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// monitorSpec is one process in the foreground in a pid namespace of its
// own: its PID 1 is the child stage itself (a Monitor step), not nsup's
// init. The main process leaves an orphan behind (reparented to PID 1),
// says which signals it gets, and ignores SIGTERM when told to.
func monitorSpec(ignoreTerm bool, stop string) string {
	trap := ""
	if ignoreTerm {
		trap = "trap '' TERM; "
	}
	return `version: 1
environments:
  mon:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        stop_timeout: ` + stop + `
        command: [/bin/sh, -c, "` + trap + `trap 'echo got-usr1' USR1; trap 'echo got-int' INT; (sleep 0.05 &); sleep 0.2; z=0; for f in /proc/[0-9]*/status; do grep -q '^State:.*Z' $f && z=$((z+1)); done; echo zombies=$z pid1=$(cat /proc/1/comm); echo ready; while :; do sleep 0.02; done"]
`
}

// TestRootMonitor: PID 1 of a one-process environment is the child stage
// (the plan's Monitor step, comm nsup-init), which reaps the orphan the
// main process leaves, forwards SIGUSR1 and SIGINT to it, stops it on
// SIGTERM (SIGKILL once its stop_timeout is over, if it ignores SIGTERM),
// and exits with its status: 128 + the signal that ended it.
func TestRootMonitor(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, tc := range []struct {
		name       string
		ignoreTerm bool
		want       int
	}{
		{"term", false, 128 + int(unix.SIGTERM)},
		{"kill-after-stop-timeout", true, 128 + int(unix.SIGKILL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHost(t)
			dir := t.TempDir()
			busyboxRoot(t, dir)
			p := compile(t, dir, monitorSpec(tc.ignoreTerm, "300ms"))
			monitors := 0
			for _, st := range p.Environments[0].Steps {
				if _, ok := st.Op.(planner.Monitor); ok && st.Stage == planner.Child {
					monitors++
				}
				if st.Stage == planner.Init {
					t.Fatalf("nsup's init planned: %s", planner.FormatOp(st.Op))
				}
			}
			if monitors != 1 {
				t.Fatalf("%d Monitor steps", monitors)
			}
			var out syncBuffer
			pid := make(chan int, 1)
			opts := executor.OnStart(executor.Options{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out},
				func(env string, p int) { pid <- p })
			done := make(chan struct{})
			var st int
			var err error
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			go func() {
				defer close(done)
				st, err = executor.Apply(ctx, p, opts)
			}()
			pid1 := <-pid
			waitFor(t, &out, "ready")
			if !strings.Contains(out.String(), "zombies=0 pid1="+planner.InitName) {
				t.Errorf("output %q: want no zombie (the orphan reaped by PID 1) and PID 1 named %s", out.String(), planner.InitName)
			}
			for _, s := range []struct {
				sig  unix.Signal
				echo string
			}{{unix.SIGUSR1, "got-usr1"}, {unix.SIGINT, "got-int"}} {
				if err := unix.Kill(pid1, s.sig); err != nil {
					t.Fatal(err)
				}
				waitFor(t, &out, s.echo)
			}
			start := time.Now()
			if err := unix.Kill(pid1, unix.SIGTERM); err != nil {
				t.Fatal(err)
			}
			<-done
			if err != nil || st != tc.want {
				t.Fatalf("apply: status %d, %v; want %d\n%s", st, err, tc.want, out.String())
			}
			// A lower bound only: the grace period before SIGKILL.
			if d := time.Since(start); tc.ignoreTerm && d < 250*time.Millisecond {
				t.Errorf("killed after %v, before its 300ms stop_timeout", d)
			}
		})
	}
}

// TestRootMonitorMainFails: a main process whose execve fails (its
// program is gone by then) is reported as its step, and PID 1 is gone.
func TestRootMonitorMainFails(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, monitorSpec(false, "1s"))
	if err := os.Remove(dir + "/rootfs/bin/sh"); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := run(t, p, executor.Options{})
	var exec int
	for i, st := range p.Environments[0].Steps {
		if _, ok := st.Op.(planner.Execve); ok {
			exec = i
		}
	}
	want := fmt.Sprintf("step %d: execve(\"/bin/sh\"", exec)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("apply: %v; want %s ...: ENOENT", err, want)
	}
}

// TestRootMonitorHidesHostArgs: the Monitor is a copy of nsup, and so
// would show nsup's command line (the host's paths, any argument) in
// /proc/1/cmdline, which every process inside may read, and nsup's
// environment in /proc/1/environ to one that may ptrace it (here: root
// with CAP_SYS_PTRACE added). Both are blanked: only the name it was
// given (comm) is left.
func TestRootMonitorHidesHostArgs(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	// What this process was started with (the test binary's argv and
	// environment), which the copy would show.
	self, err := os.ReadFile("/proc/self/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	busyboxRoot(t, dir)
	// The child made by nsup's thread, and by a forked copy (a join by
	// path): a copy of nsup's memory both.
	for _, join := range []string{"", fmt.Sprintf("join: {time: /proc/%d/ns/time}", os.Getpid())} {
		p := compile(t, dir, `version: 1
environments:
  mon:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    `+join+`
    security:
      capabilities: {add: [CAP_SYS_PTRACE]}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh, -c, "echo comm=$(cat /proc/1/comm); echo cmdline=[$(tr -d '\\000' < /proc/1/cmdline)]; echo environ=[$(tr -d '\\000' < /proc/1/environ)]"]
`)
		out := runOK(t, p)
		if !strings.Contains(out, "comm="+planner.InitName+"\n") {
			t.Errorf("%q: PID 1 is not the Monitor (comm %s):\n%s", join, planner.InitName, out)
		}
		if !strings.Contains(out, "cmdline=[]\n") || !strings.Contains(out, "environ=[]\n") {
			t.Errorf("%q: PID 1 shows the host's command line or environment:\n%s", join, out)
		}
		// Nothing of either, whatever the shell made of it.
		for _, part := range append(strings.Split(string(self), "\x00"), strings.Split(string(env), "\x00")...) {
			if len(part) > 3 && strings.Contains(out, part) {
				t.Errorf("%q: PID 1 shows %q, of nsup's own command line or environment:\n%s", join, part, out)
				break
			}
		}
	}
}
