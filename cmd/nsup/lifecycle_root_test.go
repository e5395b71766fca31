package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"gopkg.in/yaml.v3"
)

// keepRunning rewrites a spec so that each environment's main process
// runs on after its script (for ps, exec and logs to have something to
// look at): a main process [SHELL, -c, SCRIPT] gets "; exec sleep 600"
// after its script, and /bin/sleep is added to a closure.
func keepRunning(t *testing.T, src []byte) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	get := func(m *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	envs := get(doc.Content[0], "environments")
	for i := 1; i < len(envs.Content); i += 2 {
		env := envs.Content[i]
		if c := get(get(env, "rootfs"), "closure"); c != nil {
			c.Content = append(c.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "/bin/sleep"})
		}
		cmd := get(get(env, "processes").Content[0], "command")
		if len(cmd.Content) != 3 || cmd.Content[1].Value != "-c" {
			t.Fatalf("%s: the main process is not [SHELL, -c, SCRIPT]; adapt keepRunning", envs.Content[i-1].Value)
		}
		cmd.Content[2].Value += "; exec sleep 600"
		cmd.Content[2].Style = yaml.DoubleQuotedStyle
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRootPodDetached: examples/pod.yaml brought up detached by the nsup
// binary (its processes kept running) is listed, entered with nsup exec
// (its hostname, mounts, and pid and network namespaces are the
// environment's), logged and taken down, after which the host's mount
// table and processes are what they were.
func TestRootPodDetached(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	bin := buildNsup(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	src, err := os.ReadFile("../../examples/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pod := filepath.Join(dir, "pod.yaml")
	os.WriteFile(pod, keepRunning(t, src), 0o644)
	nsupBin := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "NSUP_STATE_DIR="+state, "NSUP_CACHE_DIR="+filepath.Join(dir, "cache"), "NO_COLOR=1")
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}
	mountsBefore := hostSnapshot()
	t.Cleanup(func() { nsupBin("down", pod) })

	code, out, errs := nsupBin("apply", "-d", pod)
	if code != 0 {
		t.Fatalf("apply -d: %d\n%s%s", code, out, errs)
	}
	t.Logf("nsup apply -d:\n%s", out)
	if !strings.Contains(out, "db   running") || !strings.Contains(out, "web  running") {
		t.Errorf("apply -d printed %q", out)
	}
	// nsup has returned: the environments run on.
	code, out, _ = nsupBin("ps")
	t.Logf("nsup ps:\n%s", out)
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 || strings.Count(out, " running ") != 2 {
		t.Errorf("ps: %d %q", code, out)
	}
	code, out, _ = nsupBin("ps", "--json", "--tree")
	var ps []struct {
		Name    string `json:"name"`
		Running bool   `json:"running"`
		Pid     int    `json:"pid"`
		Tree    struct {
			Pid      int `json:"pid"`
			Children []struct {
				Name, Comm     string
				Pid, PidInside int
			} `json:"children"`
		} `json:"tree"`
	}
	if err := json.Unmarshal([]byte(out), &ps); err != nil || code != 0 || len(ps) != 2 {
		t.Fatalf("ps --json: %d %v %s", code, err, out)
	}
	pids := map[string]int{}
	var all []int
	for _, e := range ps {
		pids[e.Name] = e.Pid
		all = append(all, e.Tree.Pid)
		if !e.Running || e.Tree.Pid != e.Pid || len(e.Tree.Children) == 0 {
			t.Errorf("ps --json: %+v", e)
		}
		for _, c := range e.Tree.Children {
			all = append(all, c.Pid)
		}
	}
	if ps[0].Tree.Children[0].Name != "main" || ps[1].Tree.Children[0].Name != "server" {
		t.Errorf("ps --json --tree: %+v", ps)
	}
	code, out, _ = nsupBin("ps", "--tree")
	t.Logf("nsup ps --tree:\n%s", out)
	if code != 0 || !strings.Contains(out, "└─ main (") || !strings.Contains(out, "└─ server (") {
		t.Errorf("ps --tree: %q", out)
	}

	// Entering: the environment's hostname, mounts, pid and net namespaces.
	ns := func(pid int, typ string) string {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, typ))
		return l
	}
	code, out, errs = nsupBin("exec", "db", "--", "/bin/sh", "-c",
		`read h < /proc/sys/kernel/hostname; echo $h; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; while read a b c d e f; do echo $e; done < /proc/self/mountinfo`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < 4 {
		t.Fatalf("exec db: %d %q %s", code, out, errs)
	}
	if lines[0] != "db" || lines[1] != ns(pids["db"], "pid") || lines[2] != ns(pids["db"], "mnt") {
		t.Errorf("exec db: %q; db's pid and mnt namespaces: %s %s", lines[:3], ns(pids["db"], "pid"), ns(pids["db"], "mnt"))
	}
	// db's: its root and /proc, with the read-only and masked paths of
	// /proc that this host has, and nsup's /etc/passwd and /etc/group.
	if pts := lines[3:]; len(pts) < 3 || !slices.Equal(pts[:2], []string{"/", "/proc"}) || !slices.Contains(pts, "/proc/sys") ||
		slices.ContainsFunc(pts[2:], func(p string) bool { return !strings.HasPrefix(p, "/proc/") && p != "/etc/passwd" && p != "/etc/group" }) {
		t.Errorf("exec db: mount points %q, want db's", pts)
	}
	code, out, _ = nsupBin("exec", "web", "--", "/bin/sh", "-c", "read h < /proc/sys/kernel/hostname; echo $h $(readlink /proc/self/ns/net); exit 5")
	if want := "web " + ns(pids["db"], "net") + "\n"; code != 5 || out != want {
		t.Errorf("exec web: %d %q, want 5 and %q (db's network)", code, out, want)
	}
	code, _, errs = nsupBin("exec", "db", "--", "no-such-command")
	if code != 127 || !strings.Contains(errs, "no-such-command not found") {
		t.Errorf("exec of a missing command: %d %q", code, errs)
	}
	// A process the environment does not have is no missing command:
	// status 1, not 127, which a script takes for one.
	code, _, errs = nsupBin("exec", "--process", "nope", "db", "--", "/bin/true")
	if code != 1 || !strings.Contains(errs, `no process "nope" in this environment (it has main)`) {
		t.Errorf("exec --process of a process db lacks: %d %q, want status 1", code, errs)
	}

	code, out, _ = nsupBin("logs", "db")
	if code != 0 || !strings.Contains(out, "db: net "+ns(pids["db"], "net")) {
		t.Errorf("logs db: %d %q", code, out)
	}

	// The spec's project: its folder's name.
	project := spec.ProjectFromDir(dir)
	code, out, errs = nsupBin("down", pod)
	if want := project + "/web: stopped (status 143), removed\n" + project + "/db: stopped (status 143), removed\n"; code != 0 || out != want {
		t.Errorf("down: %d %q %s, want %q", code, out, errs, want)
	}
	// Its environments, down already: nothing to do. A name that is not
	// there: an error.
	code, out, _ = nsupBin("down", pod)
	if want := project + "/web: not running (nothing to do)\n" + project + "/db: not running (nothing to do)\n"; code != 0 || out != want {
		t.Errorf("down again: %d %q", code, out)
	}
	code, out, errs = nsupBin("down", "db")
	if code != 1 || out != "" || !strings.Contains(errs, `no detached environment "db"`) {
		t.Errorf("down of a name not there: %d %q %s", code, out, errs)
	}
	code, out, _ = nsupBin("ps")
	if code != 0 || strings.TrimSpace(out) != "PROJECT  NAME  STATUS  HEALTH  RESTARTS  PID  UPTIME  MEMORY  PIDS  NAMESPACES  PORTS  SPEC" {
		t.Errorf("ps after down: %q", out)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Errorf("state left: %v", ents)
	}
	// Gone, or zombies: nsup apply -d has exited, so the inits' parent
	// is now the host's init, whose business reaping them is.
	for _, pid := range all {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] != "Z" {
				t.Errorf("process %d of the pod is still there: %s", pid, b)
			}
		}
	}
	if after := hostSnapshot(); after != mountsBefore {
		t.Errorf("the host changed:\nbefore:\n%s\nafter:\n%s", mountsBefore, after)
	}
}

// TestRootSeveralFailing: with several environments, each line says whose
// it is, nsup's status is the failing main process's, and stderr names it.
func TestRootSeveralFailing(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := filepath.Join(dir, "two.yaml")
	os.WriteFile(f, []byte(`version: 1
environments:
  good:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/sh, -c, "echo fine"]}
  bad:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    processes:
      - {name: server, command: [/bin/sh, -c, "echo failing >&2; exit 3"]}
`), 0o644)
	code, out, errs := nsup(t, "apply", f)
	if code != 3 || out != "good/main | fine\n" ||
		errs != "bad/server | failing\nnsup: environment bad: main process \"server\" exited with status 3\n" {
		t.Errorf("apply: %d\nstdout %q\nstderr %q", code, out, errs)
	}
}

// TestLifecycleUsage: the lifecycle commands' usage errors touch nothing.
func TestLifecycleUsage(t *testing.T) {
	t.Setenv("NSUP_STATE_DIR", filepath.Join(t.TempDir(), "state"))
	for _, args := range [][]string{{"ps", "x"}, {"exec"}, {"exec", "db"}, {"exec", "db", "x", "--", "y"},
		{"logs"}, {"logs", "a", "b"}, {"down"}, {"down", "Not_A_Name"}, {"plan", "-d"}, {"apply", "-d"}} {
		code, out, errs := nsup(t, args...)
		if code != 2 || out != "" || errs == "" {
			t.Errorf("nsup %q: exit %d, stdout %q, stderr %q; want a usage error", args, code, out, errs)
		}
	}
	if ents, _ := os.ReadDir(os.Getenv("NSUP_STATE_DIR")); len(ents) != 0 {
		t.Errorf("usage errors made %v", ents)
	}
}
