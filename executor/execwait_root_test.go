package executor_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
)

// TestRootExecInitStopped: nsup exec waits a bounded time for init's
// answer. An init that is stopped (a debugger inside with SYS_PTRACE, or
// root inside holding it so) never answers, and nsup exec waited for good
// (a review of the eleventh stop).
func TestRootExecInitStopped(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, lifeSpec, state)
	if st, out, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %q %q\n%s", st, err, out, errOut, planText(p))
	}
	defer lifecycle.Down(context.Background(), state, "life")
	e, err := lifecycle.Inspect(state, "life")
	if err != nil || !e.Running {
		t.Fatalf("inspect: %+v %v", e, err)
	}
	if err := syscall.Kill(e.State.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{Argv: []string{"true"}, AnswerWait: 300 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "its init did not answer within 300ms") {
			t.Errorf("exec, init stopped: %v, want it given up", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("exec still waits for a stopped init after 30 s")
	}
	// The stopped init accepts none of the connections: once its
	// backlog (16) was full, the next nsup exec waited in connect(2) for
	// good (a review of the twelfth stop).
	go func() {
		for i := 0; i < 20; i++ {
			_, err := lifecycle.Exec(context.Background(), state, "life", lifecycle.ExecOptions{Argv: []string{"true"}, AnswerWait: 100 * time.Millisecond})
			if err == nil || !strings.Contains(err.Error(), "within 100ms") {
				done <- fmt.Errorf("exec %d: %v, want it given up", i, err)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(30 * time.Second):
		t.Error("exec still waits to connect to a stopped init after 30 s")
	}
	if err := syscall.Kill(e.State.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code, out, err := execOut(t, state, "life", "", "", "/bin/sh", "-c", "echo back"); err != nil || code != 0 || out != "back\n" {
		t.Errorf("exec, init going on: %d %q %v", code, out, err)
	}
	res, err := lifecycle.Down(context.Background(), state, "life")
	if err != nil || !res.Stopped {
		t.Errorf("down: %+v %v", res, err)
	}
}
