package executor_test

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
)

// TestRootUserCountLimits: root inside, with the default limits, queues
// as many signals and makes as many POSIX message queues as it can, and
// while they are held the host's root can still queue a signal and make
// a queue. The kernel counts both by user (root inside is the host's
// root there) against the limit of the receiver or the creator: with
// nsup's own limits inside, root inside took all 96366 pending signals
// and all 819200 bytes of queues, and the host's root got EAGAIN and
// EMFILE (and could make no POSIX timer) until the environment ended (a
// review of the limits, by hand). nsup now gives a process half of its
// own hard limit of each (planner.UserCountLimits).
func TestRootUserCountLimits(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	p := compile(t, dir, `version: 1
environments:
  users:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, ipc]
    processes:
      - {name: main, command: [/probe, "sigqueue:200000", "mq_fill:200", wait]}
`)
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	defer wr.Close()
	var stdout, stderr syncBuffer
	var host string
	var hostErr error
	done := make(chan struct{})
	opts := executor.OnStart(executor.Options{Stdin: rd, Stdout: &stdout, Stderr: &stderr}, func(string, int) {
		go func() {
			defer close(done)
			defer wr.Close()
			// Until the probe inside holds what it could take (or
			// ended): its last line.
			for !strings.Contains(stdout.String(), "mq_fill:") && !strings.Contains(stderr.String(), "nsup") {
				time.Sleep(10 * time.Millisecond)
			}
			// As the host's root, in an IPC namespace of its own (its
			// queue goes with it; the count is the user's, whatever
			// the namespace).
			cmd := exec.Command(probeBin, "sigqueue:1", "mq_fill:1")
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC}
			b, err := cmd.CombinedOutput()
			host, hostErr = string(b), err
		}()
	})
	st, err := executor.Apply(t.Context(), p, opts)
	<-done
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v\nstdout %s\nstderr %s", st, err, stdout.String(), stderr.String())
	}
	if hostErr != nil {
		t.Fatalf("probe on the host: %v\n%s", hostErr, host)
	}
	in, out := probeResults(stdout.String()), probeResults(host)
	t.Logf("inside: sigqueue %s, mq_fill %s; the host's root: sigqueue %s, mq_fill %s", in["sigqueue"], in["mq_fill"], out["sigqueue"], out["mq_fill"])
	for _, k := range []string{"sigqueue", "mq_fill"} {
		if out[k] != "1 OK" {
			t.Errorf("%s as the host's root while the environment held its %s: %q, want 1 OK", k, in[k], out[k])
		}
	}
}
