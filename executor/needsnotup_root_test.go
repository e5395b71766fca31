package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
)

// needsNotUpSpec: a never healthy; b waits for a to be healthy; c joins
// b's pid namespace (and binds ./shared, which nothing else does); d depends
// on c; e plain.
const needsNotUpSpec = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "exec sleep 1000"]
        healthcheck: {command: [/bin/sh, -c, "exit 3"], interval: 50ms, timeout: 1s, retries: 1, start_period: 0s}
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: {a: healthy}
    processes:
      - {name: main, command: [/bin/sh, -c, "exec sleep 1000"]}
  c:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    join: {pid: b}
    mounts:
      - {type: bind, source: ./shared, target: /shared}
    processes:
      - {name: main, command: [/bin/sh, -c, "touch /shared/c; exec sleep 1000"]}
  d:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    depends_on: [c]
    processes:
      - {name: main, command: [/bin/sh, -c, "exec sleep 1000"]}
  e:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sh, -c, "exec sleep 1000"]}
`

// cgroupMkdir is the step that makes a cgroup folder.
var cgroupMkdir = regexp.MustCompile(`mkdir\("(/sys/fs/cgroup/[^"]+)"`)

// cgroupDirs are the cgroup folders env's plan makes.
func cgroupDirs(p *planner.Plan, env string) []string {
	var out []string
	for _, e := range p.Environments {
		if e.Name != env {
			continue
		}
		for _, st := range e.Steps {
			// The group's own mkdir, the last ("GROUP/nsup" if
			// missing, then "GROUP/nsup/ENV..."): the first is the
			// folder every environment shares, there while a and e run.
			if m := cgroupMkdir.FindAllStringSubmatch(planner.FormatOp(st.Op), -1); m != nil {
				out = append(out, m[len(m)-1][1])
			}
		}
	}
	return out
}

// mountedAt is the pids of the processes with a mount at target in their
// mount namespace.
func mountedAt(target string) []string {
	var out []string
	for _, pid := range allPids() {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "mountinfo"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && f[4] == target {
				out = append(out, strconv.Itoa(pid))
				break
			}
		}
	}
	return out
}

// TestRootNeedsNotUp: detached, b is not started (its wait for a, never
// healthy, fails); c, which joins b's pid namespace, is then not started
// either, nor d, which depends on c: each recorded as not started with
// the environment it needs named (apply -d's error, nsup ps), and none
// of their steps past their lock made (no cgroup, no control socket, no
// log, no process, no mount of c's), while a and e run. Down takes every
// record and environment away. (A pid namespace, not a network: one
// joined by name is a pod's, held by a process of its own, and needs
// no b running.)
func TestRootNeedsNotUp(t *testing.T) {
	state, dir := detachedRoot(t)
	shared := filepath.Join(dir, "shared")
	os.Mkdir(shared, 0o755)
	if m := mountedAt("/shared"); len(m) != 0 {
		skipOrFail(t, fmt.Sprintf("something is mounted at /shared already: %v", m))
	}
	p := compileDetached(t, dir, needsNotUpSpec, state)
	var order []string
	for _, e := range p.Environments {
		order = append(order, e.Name)
	}
	if strings.Join(order, " ") != "a b c d e" {
		t.Fatalf("plan order %v", order)
	}
	cg := append(cgroupDirs(p, "c"), cgroupDirs(p, "d")...)
	if len(cg) == 0 {
		t.Fatalf("no cgroup folder planned for c and d")
	}
	defer func() {
		for _, e := range []string{"e", "d", "c", "b", "a"} {
			lifecycle.Down(context.Background(), state, e)
		}
	}()
	st, _, errOut, err := run(t, p, executor.Options{})
	var ns *executor.NotStartedError
	if st != 1 || !errors.As(err, &ns) || strings.Join(ns.Envs, " ") != "b c d" {
		t.Fatalf("apply -d: %d %v %s", st, err, errOut)
	}
	for _, want := range []string{"b: a is unhealthy", "c: it joins b, which was not started", "d: it depends on c, which was not started"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("apply -d's error %q does not say %q", err, want)
		}
	}

	// nsup ps: a and e run, b, c and d are recorded as not started, why.
	envs, err := lifecycle.List(state)
	if err != nil || len(envs) != 5 {
		t.Fatalf("ps: %+v %v", envs, err)
	}
	wants := map[string]string{
		"b": "not started: a is unhealthy",
		"c": "not started: it joins b, which was not started",
		"d": "not started: it depends on c, which was not started",
	}
	for _, e := range envs {
		name := e.State.Name
		if w, ok := wants[name]; ok {
			if e.Running || e.State.Pid != 0 || !strings.HasPrefix(e.Status(), w) {
				t.Errorf("%s: %q %+v, want %q", name, e.Status(), e.State, w)
			}
			continue
		}
		if !e.Running || e.State.Pid <= 0 {
			t.Errorf("%s: %q, want it running", name, e.Status())
		}
	}

	// None of c's and d's steps past their lock were made.
	for _, env := range []string{"c", "d"} {
		for _, f := range []string{planner.ControlFile, planner.LogFile} {
			if _, err := os.Lstat(filepath.Join(state, env, f)); err == nil {
				t.Errorf("%s's %s was made", env, f)
			}
		}
	}
	for _, d := range cg {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("cgroup %s was made", d)
		}
	}
	if _, err := os.Stat(filepath.Join(shared, "c")); err == nil {
		t.Errorf("c's process ran")
	}
	if m := mountedAt("/shared"); len(m) != 0 {
		t.Errorf("c's bind of ./shared is mounted, in the mount namespaces of %v", m)
	}

	for _, name := range []string{"e", "d", "c", "b", "a"} {
		res, err := lifecycle.Down(context.Background(), state, name)
		_, notUp := wants[name]
		if err != nil || !res.Found || res.NotStarted != notUp || res.Stopped == notUp {
			t.Errorf("down %s: %+v %v", name, res, err)
		}
	}
}
