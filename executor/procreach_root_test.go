package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootProcReach: a process of user 1000 enters its working directory
// and executes its command where the modes let it (a folder and a
// command of its group, 0710 and 0750; a tmpfs of mode 0755), as the
// plan's check says (planner/procreach.go), and the kernel agrees with
// the check's refusals: the specs it refuses (a cwd of root's 0700, a
// tmpfs of mode 0700, a command of mode 0700) are refused at plan time,
// where before helper-151's trial they planned and apply failed at the
// chdir or the execve (permission denied); inside, the same user may
// not enter the 0700 folder.
func TestRootProcReach(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	mk := func(p string, mode os.FileMode, gid int) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, p), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(root, p), mode)
		os.Chown(filepath.Join(root, p), 0, gid)
	}
	mk("grp", 0o710, 1000)
	mk("opt", 0o755, 0)
	mk("opt/g", 0o710, 1000)
	mk("priv", 0o700, 0)
	mk("scratch", 0o755, 0)
	copyFile(t, filepath.Join(root, "bin", "busybox"), filepath.Join(root, "opt", "g", "busybox"), 0o750)
	os.Chown(filepath.Join(root, "opt", "g", "busybox"), 0, 1000)
	copyFile(t, filepath.Join(root, "bin", "busybox"), filepath.Join(root, "bin", "private"), 0o700)
	spec := func(cwd, mode, command string) string {
		return `version: 1
environments:
  e:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    user: "1000:1000"
    cwd: ` + cwd + `
    mounts: [{type: tmpfs, target: /scratch, mode: "` + mode + `"}]
    processes:
      - {name: main, command: ` + command + `}
`
	}
	probe := `[/opt/g/busybox, sh, -c, 'pwd; id -u; cd /priv 2>/dev/null && echo entered || echo denied']`
	for _, c := range []struct{ cwd, mode, command, want string }{
		{"/grp", "0755", probe, "/grp\n1000\ndenied"},
		{"/scratch", "0755", probe, "/scratch\n1000\ndenied"},
		{"/scratch", "0755", "[/bin/sh, -c, pwd]", "/scratch"},
	} {
		p := compile(t, dir, spec(c.cwd, c.mode, c.command))
		if out := runOK(t, p); strings.TrimSpace(out) != c.want {
			t.Errorf("cwd %s, %s: output %q, want %q", c.cwd, c.command, out, c.want)
		}
	}
	for _, c := range []struct{ cwd, mode, command, err string }{
		{"/priv", "0755", "[/bin/sh]", "may not search /priv, the folder itself (mode 0700, owner 0:0)"},
		{"/scratch", "0700", "[/bin/sh]", "may not search /scratch, the folder itself (mode 0700, owner 0:0)"},
		{"/grp", "0755", "[/bin/private]", "/bin/private is mode 0700, owner 0:0, which the process's user (uid 1000, gid 1000, no supplementary group, no capability) may not execute"},
	} {
		if _, err := compileErr(t, dir, spec(c.cwd, c.mode, c.command)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("cwd %s, %s: plan error %v, want %s", c.cwd, c.command, err, c.err)
		}
	}
}
