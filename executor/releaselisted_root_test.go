package executor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
)

// releaseListedSpec: x never healthy, a healthy (its healthcheck leaves
// /shared/a-checked), b waits for x then for a, c plain.
const releaseListedSpec = `version: 1
environments:
  x:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "exec sleep 1000"]
        healthcheck: {command: [/bin/sh, -c, "exit 3"], interval: 50ms, timeout: 1s, retries: 1, start_period: 0s}
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./shared, target: /shared}
    processes:
      - name: main
        command: [/bin/sh, -c, "exec sleep 1000"]
        healthcheck: {command: [/bin/sh, -c, "touch /shared/a-checked"], interval: 50ms, timeout: 1s, retries: 2}
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {x: healthy, a: healthy}
    processes:
      - {name: main, command: [/bin/sh, -c, "exec sleep 1000"]}
  c:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sh, -c, "exec sleep 1000"]}
`

// TestRootReleaseListedNotStarted (helper-81's review of a039c8a): the
// detached plan lists a's last steps among b's, just before b's wait for
// a; b's wait for x, before it, fails, and apply -d records b as not
// started and goes on. a is released there all the same, before c's
// first step, as listed: apply paused at c's first step finds a's
// healthcheck run (its init runs it once released). Before the fix a
// was released with the others at the end, after c's steps, and its
// healthcheck never ran while apply was paused there.
func TestRootReleaseListedNotStarted(t *testing.T) {
	state, dir := detachedRoot(t)
	shared := filepath.Join(dir, "shared")
	os.Mkdir(shared, 0o755)
	p := compileDetached(t, dir, releaseListedSpec, state)
	var order []string
	for _, e := range p.Environments {
		order = append(order, e.Name)
	}
	if strings.Join(order, " ") != "x a b c" {
		t.Fatalf("plan order %v", order)
	}
	defer func() {
		for _, e := range []string{"c", "b", "a", "x"} {
			lifecycle.Down(context.Background(), state, e)
		}
	}()
	h := startHelper(t, p, "c 0")
	h.waitPaused(t, "c", 0)
	checked := false
	for i := 0; i < 400 && !checked; i++ { // 10 s at most
		_, err := os.Stat(filepath.Join(shared, "a-checked"))
		checked = err == nil
		time.Sleep(25 * time.Millisecond)
	}
	h.cmd.Process.Kill()
	st, out := h.wait(t)
	if !checked {
		t.Errorf("a's healthcheck never ran while apply -d was paused at c's first step: a was not released where the plan lists it (among b's steps)\n%s", out)
	}
	if st == 0 || !strings.Contains(out, fmt.Sprintf("nsup-test: paused %s %d", "c", 0)) {
		t.Errorf("apply -d: exit %d\n%s", st, out)
	}
}
