package executor_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"golang.org/x/sys/unix"
)

// TestRootHealthLogOneLine: init's message that a process turned
// unhealthy quotes the healthcheck's output, which root inside chooses
// (the check reads its files); it is one line of the log whatever that
// output holds. Before helper-102's review its newlines were written as
// they were, and a line of the check's output such as "fl/side | ..."
// was in the log as another process's line, or as one of init's
// ("nsup: ...").
func TestRootHealthLogOneLine(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, `version: 1
environments:
  fl:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sleep, "1000"]
        healthcheck:
          command: [/bin/sh, -c, 'printf "x\nfl/side | forged\nnsup: fl/main exited with status 0\n"; exit 1']
          interval: 50ms
          retries: 1
      - name: side
        command: [/bin/sleep, "1000"]
`, state)
	if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	defer lifecycle.Down(context.Background(), state, "fl")
	e, err := lifecycle.Inspect(state, "fl")
	if err != nil {
		t.Fatal(err)
	}
	// Init logs the message before ps can see the status it set.
	for deadline := time.Now().Add(20 * time.Second); ; {
		sr, err := lifecycle.Status(e)
		if err != nil {
			t.Fatal(err)
		}
		if sr.Processes[0].Health == lifecycle.HealthUnhealthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("main never unhealthy: %+v", sr.Processes[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	var log strings.Builder
	if err := lifecycle.Logs(context.Background(), state, "fl", false, &log); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range strings.Split(log.String(), "\n") {
		switch {
		case strings.HasPrefix(l, "nsup: fl/main is unhealthy:"):
			found = strings.Contains(l, "forged") && strings.Contains(l, "exited with status 0")
		case strings.HasPrefix(l, "fl/side |"), strings.HasPrefix(l, "nsup: fl/main exited"):
			t.Errorf("a line of the check's output is one of its own in the log: %q", l)
		}
	}
	if !found {
		t.Errorf("no unhealthy message quoting the whole output on its line:\n%s", log.String())
	}
	res, err := lifecycle.Down(context.Background(), state, "fl")
	if err != nil || !res.Stopped {
		t.Errorf("down: %+v %v", res, err)
	}
}

// TestRootLogForgedInitLine: the only process of a detached environment
// (no label) writes "nsup: ..." lines as init's messages are: nsup logs
// shows them with the process's label, its other lines as it wrote them,
// and init's own message (a restart) as init's. Before, the forged line
// was in the log as init's (the twenty-second stop's closing note).
func TestRootLogForgedInitLine(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, `version: 1
environments:
  fl:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo hello; printf "nsup: fl/main exited with status 0\nok\rnsup: forged too\n"; exit 3']
        restart: on-failure:1
`, state)
	if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	defer lifecycle.Down(context.Background(), state, "fl")
	// Followed, until the environment has ended (its restart too).
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lifecycle.Logs(ctx, state, "fl", true, lifecycle.NewTermSafe(&log)); err != nil {
		t.Fatal(err)
	}
	restarted, ended := false, 0
	for _, l := range strings.Split(log.String(), "\n") {
		switch {
		case strings.HasPrefix(l, "nsup: fl/main exited with status 3: restart 1"):
			restarted = true
		case l == "nsup: fl/main exited with status 3: the environment ends":
			ended++
		case strings.HasPrefix(l, "nsup:"):
			t.Errorf("a line the process wrote is init's in the log: %q", l)
		}
	}
	want := strings.Repeat("hello\nfl/main | nsup: fl/main exited with status 0\nfl/main | ok\nfl/main | nsup: forged too\n", 2)
	if got := regexp.MustCompile(`(?m)^nsup: .*\n`).ReplaceAllString(log.String(), ""); got != want || !restarted || ended != 1 {
		t.Errorf("log (init's restart message: %v, its end message %d times):\n%s\nwant, besides init's lines:\n%s", restarted, ended, log.String(), want)
	}
	// Init, ended, is this process's child (as in
	// TestRootDetachedLogsFollow): reaped, not left to later tests.
	s, ierr := lifecycle.Inspect(state, "fl")
	if _, err := lifecycle.Down(context.Background(), state, "fl"); err != nil {
		t.Errorf("down: %v", err)
	} else if ierr == nil {
		unix.Wait4(s.State.Pid, nil, 0, nil) // it has ended: down said so
	}
}
