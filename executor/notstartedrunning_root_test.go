package executor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
)

// runningDependentSpec: a is healthy while ./flag/ok exists; b waits for
// it; c depends on b.
const runningDependentSpec = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./flag, target: /flag, readonly: true}
    processes:
      - name: main
        command: [/bin/sh, -c, "exec sleep 1000"]
        healthcheck: {command: [/bin/sh, -c, "test -f /flag/ok"], interval: 50ms, timeout: 1s, retries: 1, start_period: 0s}
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {a: healthy}
    processes:
      - {name: main, command: [/bin/sh, -c, "exec sleep 1000"]}
  c:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: [b]
    processes:
      - {name: main, command: [/bin/sh, -c, "exec sleep 1000"]}
`

// TestRootNotStartedStillRunning: c, still running from an earlier apply
// -d, is one a second apply -d would not start (b, which it depends on,
// is not: a is unhealthy now). That apply fails as it does when c would
// be started ("already running"), and takes back what it made; it does
// not record c, running, as not started, nor touch it.
func TestRootNotStartedStillRunning(t *testing.T) {
	state, dir := detachedRoot(t)
	flag := filepath.Join(dir, "flag")
	os.Mkdir(flag, 0o755)
	if err := os.WriteFile(filepath.Join(flag, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, e := range []string{"c", "b", "a"} {
			lifecycle.Down(context.Background(), state, e)
		}
	}()
	if st, _, errOut, err := run(t, compileDetached(t, dir, runningDependentSpec, state), executor.Options{}); st != 0 || err != nil {
		t.Fatalf("first apply -d: %d %v %s", st, err, errOut)
	}
	for _, e := range []string{"b", "a"} {
		if res, err := lifecycle.Down(context.Background(), state, e); err != nil || !res.Stopped {
			t.Fatalf("down %s: %+v %v", e, res, err)
		}
	}
	before, err := lifecycle.ReadState(filepath.Join(state, "c"))
	if err != nil || before.Pid <= 0 {
		t.Fatalf("c's record: %+v %v", before, err)
	}

	os.Remove(filepath.Join(flag, "ok"))
	st, _, errOut, err := run(t, compileDetached(t, dir, runningDependentSpec, state), executor.Options{})
	var ns *executor.NotStartedError
	if st == 0 || err == nil || errors.As(err, &ns) || !strings.Contains(err.Error(), `environment "c" is already running`) {
		t.Fatalf("second apply -d: %d %v %s; want it to fail as c is already running", st, err, errOut)
	}
	t.Logf("second apply -d: %v", err)
	envs, err := lifecycle.List(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		if e.State.Name != "c" {
			t.Errorf("%s is recorded after the failed apply: %q", e.State.Name, e.Status())
			continue
		}
		if !e.Running || e.State.Pid != before.Pid || e.State.NotStarted != "" {
			t.Errorf("c: %q %+v, want it running as before (pid %d)", e.Status(), e.State, before.Pid)
		}
	}
	if len(envs) != 1 {
		t.Errorf("%d records after the failed apply, want c's alone", len(envs))
	}
}
