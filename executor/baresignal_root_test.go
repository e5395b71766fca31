package executor_test

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
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
