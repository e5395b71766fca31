package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootExecTTYHostPtyOnlyWithoutDev: nsup exec -t could not tell
// whether the environment had a devpts of its own, so it always opened
// a pty of the host's (/dev/ptmx) and reopened it read-only, root with
// open_tree, rootless through the __nsup_ptyro helper it started, before
// asking init, which threw it away when it opened the command's pty in
// the environment's devpts (found reading lifecycle.Exec for the
// twenty-second stop). nsup exec now sends its request without a
// terminal and makes one only when init asks for it (SendTerminal): the
// system calls of nsup exec -t, as root and rootless, into an
// environment with a dev have no open of the host's /dev/ptmx, no
// open_tree and no helper; into one without, they have them, and the
// command has its terminal all the same.
func TestRootExecTTYHostPtyOnlyWithoutDev(t *testing.T) {
	requireBusybox(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		skipOrFail(t, "strace is not installed (apt-get install strace)")
	}
	u, dir, bin, cache := rootlessCase(t)
	spec := filepath.Join(dir, "repo", "ttyh.yaml")
	writeTTYSpec(t, spec, "ttyh")
	rootDir := t.TempDir()
	rootEnv := []string{"NSUP_STATE_DIR=" + filepath.Join(rootDir, "state"), "NSUP_CACHE_DIR=" + filepath.Join(rootDir, "cache")}
	userEnv := detachedEnv(u, cache)
	// as is argv run as root or as u, with env.
	as := func(root bool, argv ...string) *exec.Cmd {
		if root {
			return exec.Command("env", append(append([]string{"-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, rootEnv...), argv...)...)
		}
		return u.command(userEnv, argv...)
	}
	for _, root := range []bool{true, false} {
		t.Cleanup(func() { runCaptured(t, as(root, bin, "down", "-p", "ttyh")) })
		if code, out, errs := runCaptured(t, as(root, bin, "apply", "-d", spec)); code != 0 {
			t.Fatalf("apply -d (root %v): %d %s%s", root, code, out, errs)
		}
	}
	for _, root := range []bool{true, false} {
		for _, env := range []string{"dev", "nodev"} {
			t.Run(map[bool]string{true: "root", false: "rootless"}[root]+"/"+env, func(t *testing.T) {
				trace := filepath.Join(t.TempDir(), "trace")
				cmd := as(root, bin, "exec", "-t", "ttyh/"+env, "--", "/bin/busybox", "sh", "-c",
					`if [ -t 0 ]; then echo tty=yes; else echo tty=no; fi; read x; echo "read=$x"; exit 7`)
				// strace, as root, follows nsup exec and its children
				// (setpriv's exec of it too).
				cmd.Args = append([]string{strace, "-f", "-qq", "-o", trace, "-e", "trace=openat,open_tree,execve"}, cmd.Args...)
				cmd.Path = strace
				p := startOnPty(t, cmd, nil, "tty=")
				if ok, err := p.untilMarker(); !ok {
					t.Fatalf("exec -t ended before the command had its terminal: %v\n%s", err, p.text())
				}
				err := p.finish("go\n")
				got := p.text()
				if err == nil || !strings.Contains(err.Error(), "exit status 7") || !strings.Contains(got, "tty=yes\n") || !strings.Contains(got, "read=go\n") {
					t.Fatalf("exec -t: %v, want status 7, a terminal and the line read:\n%s", err, got)
				}
				b, err := os.ReadFile(trace)
				if err != nil {
					t.Fatal(err)
				}
				var ptmx, clones, helpers []string
				for _, l := range strings.Split(string(b), "\n") {
					switch {
					case strings.Contains(l, "openat(") && strings.Contains(l, `"/dev/ptmx"`):
						ptmx = append(ptmx, l)
					case strings.Contains(l, "open_tree("):
						clones = append(clones, l)
					case strings.Contains(l, "execve(") && strings.Contains(l, `"__nsup_ptyro"`):
						helpers = append(helpers, l)
					}
				}
				if env == "dev" && len(ptmx)+len(clones)+len(helpers) > 0 {
					t.Errorf("exec -t into an environment with a devpts opened a host pty anyway:\n%s", strings.Join(append(append(ptmx, clones...), helpers...), "\n"))
				}
				if env == "nodev" && (len(ptmx) == 0 || len(clones) == 0 || root == (len(helpers) > 0)) {
					t.Errorf("exec -t without a devpts: opens of /dev/ptmx %q, open_tree %q, helpers %q; want a host pty reopened read-only (rootless by the helper)", ptmx, clones, helpers)
				}
			})
		}
	}
}
