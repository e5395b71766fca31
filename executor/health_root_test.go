package executor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
)

// Restart policies, healthchecks and depends_on: {ENV: healthy}.

// TestRootRestartOnFailure: a main process that exits 1 with restart:
// on-failure:3 runs 4 times, after back-offs of 100, 200 and 400 ms,
// then stays down, and the environment ends with its status, 1. One
// that exits 0 is not restarted.
func TestRootRestartOnFailure(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  crash:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "echo run; exit 1"]
        restart: on-failure:3
`)
	start := time.Now()
	st, out, errOut, err := run(t, p, executor.Options{})
	took := time.Since(start)
	if err != nil || st != 1 {
		t.Fatalf("apply: status %d, %v\n%s", st, err, errOut)
	}
	if n := strings.Count(out, "run\n"); n != 4 {
		t.Errorf("the process ran %d times, want 4 (3 restarts):\n%s", n, out)
	}
	for i, want := range []string{"restart 1 of 3 in 100ms", "restart 2 of 3 in 200ms", "restart 3 of 3 in 400ms"} {
		if !strings.Contains(errOut, "nsup: crash/main exited with status 1: "+want+"\n") {
			t.Errorf("restart %d: init said %q, without %q", i+1, errOut, want)
		}
	}
	if strings.Contains(errOut, "restart 4") {
		t.Errorf("a fourth restart: %q", errOut)
	}
	if took < 700*time.Millisecond {
		t.Errorf("3 restarts took %v, less than their back-offs (700ms)", took)
	}

	p = compile(t, dir, `version: 1
environments:
  ok:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "echo run; exit 0"]
        restart: on-failure
`)
	st, out, errOut, err = run(t, p, executor.Options{})
	if err != nil || st != 0 || out != "run\n" || errOut != "" {
		t.Errorf("on-failure after a success: %d %v %q %q, want one run, status 0", st, err, out, errOut)
	}
}

// TestRootRestartDetached: in a detached environment, a process that
// crashes with on-failure:3 is restarted 3 times, its children with it,
// and stays down, while the main process runs on; init's status (nsup
// ps) counts the restarts and has its last exit status. A main process
// with restart: always never ends the environment by itself, and the
// environment still stops (nsup down) between two of its runs.
func TestRootRestartDetached(t *testing.T) {
	state, dir := detachedRoot(t)
	p := compileDetached(t, dir, `version: 1
environments:
  sup:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sleep, "1000"]
      - name: crash
        command: [/bin/sh, -c, "echo crash; sleep 0.1; exit 1"]
        restart: on-failure:3
        children:
          - {name: helper, command: [/bin/sh, -c, "echo helper; exec sleep 1000"]}
  again:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "echo again; exit 0"]
        restart: always
`, state)
	if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	statusOf := func(name string) *lifecycle.StatusReply {
		t.Helper()
		e, err := lifecycle.Inspect(state, name)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := lifecycle.Status(e)
		if err != nil {
			t.Fatalf("status of %s: %v", name, err)
		}
		return sr
	}
	// 4 runs of 100ms and back-offs of 700ms: done within about 1.1s.
	deadline := time.Now().Add(10 * time.Second)
	var sr *lifecycle.StatusReply
	for {
		sr = statusOf("sup")
		if c := sr.Processes[1]; c.Restarts == 3 && !c.Running || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // no fourth restart comes
	sr = statusOf("sup")
	if len(sr.Processes) != 3 {
		t.Fatalf("status: %+v", sr)
	}
	main, crash, helper := sr.Processes[0], sr.Processes[1], sr.Processes[2]
	if !main.Running || main.Restarts != 0 || main.Pid <= 1 {
		t.Errorf("main: %+v", main)
	}
	if crash.Running || crash.Restarts != 3 || crash.LastExit == nil || *crash.LastExit != 1 || crash.Pid != 0 {
		t.Errorf("crash: %+v, want 3 restarts, down with status 1", crash)
	}
	if helper.Running || helper.Parent != "crash" || helper.Restarts != 0 {
		t.Errorf("helper: %+v, want stopped with its parent", helper)
	}
	var log strings.Builder
	lifecycle.Logs(context.Background(), state, "sup", false, &log)
	if n, h := strings.Count(log.String(), "sup/crash | crash\n"), strings.Count(log.String(), "sup/helper | helper\n"); n != 4 || h != 4 {
		t.Errorf("crash ran %d times, helper %d, want 4 each:\n%s", n, h, log.String())
	}
	if !strings.Contains(log.String(), "nsup: sup/crash exited with status 1: restart 3 of 3 in 400ms\n") {
		t.Errorf("log: %s", log.String())
	}

	// always: restarted after a success too; the environment runs on.
	for {
		sr = statusOf("again")
		if sr.Processes[0].Restarts >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	e, _ := lifecycle.Inspect(state, "again")
	if m := sr.Processes[0]; m.Restarts < 3 || m.LastExit == nil || *m.LastExit != 0 || !e.Running {
		t.Errorf("again: %+v, running %v; want restarted at least 3 times, running", m, e.Running)
	}
	// Its back-off is 800ms by now: down finds it between two runs, or
	// in one; either way it stops at once, with its last status or
	// SIGTERM's.
	start := time.Now()
	res, err := lifecycle.Down(context.Background(), state, "again")
	if err != nil || !res.Stopped || res.Killed || (res.Exit != 0 && res.Exit != 143) || time.Since(start) > 3*time.Second {
		t.Errorf("down again: %+v %v after %v", res, err, time.Since(start))
	}
	res, err = lifecycle.Down(context.Background(), state, "sup")
	if err != nil || !res.Stopped || res.Exit != 143 {
		t.Errorf("down sup: %+v %v", res, err)
	}
}

// healthSpecs are db, whose main process makes /shared/ready after a
// moment (a folder of the test's, bound in both), with a healthcheck,
// and web, which depends on db being healthy and records whether it
// found db ready when it started.
func healthSpec(check string) string {
	return `version: 1
environments:
  web:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {db: healthy}
    mounts:
      - {type: bind, source: ./shared, target: /shared}
    processes:
      - name: main
        command: [/bin/sh, -c, "if test -e /shared/ready; then echo ready; else echo early; fi > /shared/web; exec sleep 1000"]
  db:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./shared, target: /shared}
    processes:
      - name: main
        command: [/bin/sh, -c, "sleep 0.3; touch /shared/ready; exec sleep 1000"]
        healthcheck: {command: ` + check + `, interval: 50ms, timeout: 1s, retries: 2, start_period: 10s}
`
}

// TestRootDependsOnHealthy: detached, web starts only once db's
// healthcheck has passed (it finds db's ready file), and ps has db
// healthy.
func TestRootDependsOnHealthy(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	state := testStateDir(t)
	dir := t.TempDir()
	applets(t, busyboxRoot(t, dir), "test")
	os.Mkdir(filepath.Join(dir, "shared"), 0o755)
	p := compileDetached(t, dir, healthSpec("[test, -e, /shared/ready]"), state)
	start := time.Now()
	if st, _, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d: %d %v %s\n%s", st, err, errOut, planText(p))
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("apply -d took %v: web did not wait for db's 300ms", took)
	}
	deadline := time.Now().Add(5 * time.Second)
	var saw []byte
	for len(saw) == 0 && time.Now().Before(deadline) {
		saw, _ = os.ReadFile(filepath.Join(dir, "shared", "web"))
		time.Sleep(20 * time.Millisecond)
	}
	if string(saw) != "ready\n" {
		t.Errorf("web, when it started, found db %q, want ready", saw)
	}
	for _, name := range []string{"db", "web"} {
		e, err := lifecycle.Inspect(state, name)
		if err != nil || !e.Running {
			t.Errorf("%s: %+v %v", name, e, err)
			continue
		}
		sr, err := lifecycle.Status(e)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if name == "db" {
			want = lifecycle.HealthHealthy
		}
		if h := sr.Processes[0].Health; h != want {
			t.Errorf("%s's health: %q, want %q (%+v)", name, h, want, sr.Processes[0])
		}
	}
	for _, name := range []string{"web", "db"} {
		if res, err := lifecycle.Down(context.Background(), state, name); err != nil || !res.Stopped {
			t.Errorf("down %s: %+v %v", name, res, err)
		}
	}
}

// TestRootDependsOnUnhealthy: db's healthcheck fails: detached, web is
// never started (nothing of it runs: no file, no process), apply -d says
// why and exits 1, and web is recorded as not started, with why, for
// nsup ps, while db runs on, unhealthy. db taken down, the next apply -d
// (db healthy this time) takes web's record over and starts it; down
// says a record was not started. In the foreground the failure takes
// everything back.
func TestRootDependsOnUnhealthy(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	state := testStateDir(t)
	dir := t.TempDir()
	applets(t, busyboxRoot(t, dir), "test")
	os.Mkdir(filepath.Join(dir, "shared"), 0o755)
	spec := strings.Replace(healthSpec(`[/bin/sh, -c, "echo not ready; exit 3"]`), "start_period: 10s", "start_period: 0s", 1)
	p := compileDetached(t, dir, spec, state)
	st, _, errOut, err := run(t, p, executor.Options{})
	var ns *executor.NotStartedError
	if st != 1 || !errors.As(err, &ns) || len(ns.Envs) != 1 || ns.Envs[0] != "web" ||
		!strings.Contains(err.Error(), "web: db is unhealthy: its healthcheck failed 2 times in a row, the last: exit status 3: not ready") {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	envs, err := lifecycle.List(state)
	if err != nil || len(envs) != 2 || envs[0].State.Name != "db" || envs[1].State.Name != "web" {
		t.Fatalf("ps: %+v %v", envs, err)
	}
	db, web := envs[0], envs[1]
	if !db.Running {
		t.Errorf("db: %s", db.Status())
	} else if sr, err := lifecycle.Status(db); err != nil || sr.Processes[0].Health != lifecycle.HealthUnhealthy ||
		!strings.Contains(sr.Processes[0].HealthLog, "exit status 3: not ready") || sr.Processes[0].Failing < 2 {
		t.Errorf("db's status: %+v %v", sr, err)
	}
	if web.Running || !strings.HasPrefix(web.Status(), "not started: db is unhealthy: its healthcheck failed 2 times in a row") || web.State.Pid != 0 {
		t.Errorf("web: %q %+v", web.Status(), web.State)
	}
	time.Sleep(500 * time.Millisecond) // db is ready by now: web must still not have run
	if _, err := os.Stat(filepath.Join(dir, "shared", "web")); err == nil {
		t.Errorf("web ran")
	}
	if _, err := os.Stat(filepath.Join(dir, "shared", "ready")); err != nil {
		t.Errorf("db did not run on: %v", err)
	}
	var log strings.Builder
	lifecycle.Logs(context.Background(), state, "db", false, &log)
	if !strings.Contains(log.String(), "nsup: db/main is unhealthy: its healthcheck failed 2 times in a row, the last: exit status 3: not ready\n") {
		t.Errorf("db's log: %q", log.String())
	}
	// db taken down alone, the next apply -d takes web's record over.
	if res, err := lifecycle.Down(context.Background(), state, "db"); err != nil || !res.Stopped {
		t.Errorf("down db: %+v %v", res, err)
	}
	os.Remove(filepath.Join(dir, "shared", "ready"))
	healthy := compileDetached(t, dir, healthSpec("[test, -e, /shared/ready]"), state)
	if st, _, errOut, err := run(t, healthy, executor.Options{}); err != nil || st != 0 {
		t.Fatalf("apply -d again: %d %v %s", st, err, errOut)
	}
	if e, err := lifecycle.Inspect(state, "web"); err != nil || !e.Running || e.State.NotStarted != "" {
		t.Errorf("web after apply -d again: %q %v", e.Status(), err)
	}
	if res, err := lifecycle.Down(context.Background(), state, "web"); err != nil || !res.Stopped {
		t.Errorf("down web: %+v %v", res, err)
	}
	if res, err := lifecycle.Down(context.Background(), state, "db"); err != nil || !res.Stopped {
		t.Errorf("down db: %+v %v", res, err)
	}

	// A not-started record taken down: said so.
	if _, _, _, err := run(t, p, executor.Options{}); !errors.As(err, &ns) {
		t.Fatalf("apply -d: %v", err)
	}
	res, err := lifecycle.Down(context.Background(), state, "web")
	if err != nil || !res.Found || !res.NotStarted || res.Stopped {
		t.Errorf("down web: %+v %v", res, err)
	}
	if res, err := lifecycle.Down(context.Background(), state, "db"); err != nil || !res.Stopped {
		t.Errorf("down db: %+v %v", res, err)
	}

	// The foreground: a failure of apply, everything taken back.
	os.Remove(filepath.Join(dir, "shared", "ready"))
	os.Remove(filepath.Join(dir, "shared", "web"))
	p = compile(t, dir, spec)
	st, _, errOut, err = run(t, p, executor.Options{})
	var se *executor.StepError
	if st != 1 || !errors.As(err, &se) || se.Env != "web" || !errors.As(err, new(*executor.NotHealthyError)) ||
		!strings.Contains(err.Error(), "db is unhealthy") {
		t.Errorf("apply: %d %v %s", st, err, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "shared", "web")); err == nil {
		t.Errorf("web ran")
	}
}
