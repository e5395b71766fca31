package executor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// TestRootMainEndLogged: the main process of a detached environment that
// ends it by a signal (kill -9 from the host) or a non-zero status gets
// one line of init's in the log, nsup logs shows it as init's; one that
// exits with 0, or that nsup down stops, gets none. Before, the log said
// nothing of a main process killed from the host, nor of one that
// exited non-zero without a restart policy (helper-151's user trial).
func TestRootMainEndLogged(t *testing.T) {
	state, dir := detachedRoot(t)
	for _, c := range []struct {
		name, command string
		kill, down    bool
		want          string // init's line, "" for none
	}{
		{"killed", `[/bin/sleep, "1000"]`, true, false, "nsup: killed/main was killed by SIGKILL: the environment ends"},
		{"failed", `[/bin/sh, -c, "echo bye; exit 3"]`, false, false, "nsup: failed/main exited with status 3: the environment ends"},
		{"done", `[/bin/sh, -c, "echo bye"]`, false, false, ""},
		{"downed", `[/bin/sh, -c, "echo up; exec sleep 1000"]`, false, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := compileDetached(t, dir, `version: 1
environments:
  `+c.name+`:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: `+c.command+`
`, state)
			if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
				t.Fatalf("apply -d: %d %v %s", st, err, errOut)
			}
			defer lifecycle.Down(context.Background(), state, c.name)
			e, err := lifecycle.Inspect(state, c.name)
			if err != nil {
				t.Fatal(err)
			}
			initPid := e.State.Pid
			if c.kill {
				tree, err := lifecycle.Tree(e.State)
				if err != nil || len(tree.Children) != 1 || tree.Children[0].Name != "main" {
					t.Fatalf("tree: %+v %v", tree, err)
				}
				if err := unix.Kill(tree.Children[0].Pid, unix.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			// Followed until the environment has ended.
			var log syncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- lifecycle.Logs(ctx, state, c.name, true, lifecycle.NewTermSafe(&log)) }()
			if c.down {
				// Once the follower has read the main process's line, it
				// reads from the log it opened: it sees what init writes
				// while down stops it, after which the log is gone.
				for !strings.Contains(log.String(), "up\n") && ctx.Err() == nil {
					time.Sleep(10 * time.Millisecond)
				}
				if res, err := lifecycle.Down(context.Background(), state, c.name); err != nil || !res.Stopped {
					t.Errorf("down: %+v %v", res, err)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range strings.Split(log.String(), "\n") {
				if strings.HasPrefix(l, "nsup: ") {
					got = append(got, l)
				}
			}
			if c.want == "" && len(got) != 0 || c.want != "" && (len(got) != 1 || got[0] != c.want) {
				t.Errorf("init's lines in the log: %q, want %q\nthe log:\n%s", got, c.want, log.String())
			}
			if _, err := lifecycle.Down(context.Background(), state, c.name); err != nil && !c.down {
				t.Errorf("down: %v", err)
			}
			unix.Wait4(initPid, nil, 0, nil) // it has ended: reaped, not left to later tests
		})
	}
}
