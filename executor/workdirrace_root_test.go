package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootMakeCwdRenamed: a working directory below a tmpfs of a dir
// root without overlay is made by MakeCwd before the root switch.
// Another environment sharing the dir root writably renames, while the
// child stage waits before the step, the tmpfs's folder away and puts in
// its place (a) the folder of a writable bind of a host folder, (b) a
// link to it, (c) a new folder of the dir root. The step made the cwd there, by its path from
// the root; it makes it in the tmpfs (as the plan says), beneath the
// mount's held fd, and the process's chdir by path fails (a link: the walk had
// refused it already).
func TestRootMakeCwdRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, c := range []struct {
		name string
		swap func(root string) error
		made func(dir string) string
	}{
		{"bind", func(root string) error {
			return os.Rename(filepath.Join(root, "w"), filepath.Join(root, "t"))
		}, func(dir string) string { return filepath.Join(dir, "data", "made") }},
		{"link", func(root string) error {
			return os.Symlink("w", filepath.Join(root, "t"))
		}, func(dir string) string { return filepath.Join(dir, "data", "made") }},
		{"dir root", func(root string) error {
			return os.Mkdir(filepath.Join(root, "t"), 0o755)
		}, func(dir string) string { return filepath.Join(dir, "rootfs", "t", "made") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			root := busyboxRoot(t, dir)
			for _, d := range []string{"t", "w", filepath.Join("..", "data")} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /t}
      - {type: bind, source: ./data, target: /w}
    cwd: /t/made
    processes:
      - {name: main, command: [/bin/sh, -c, 'pwd']}
`)
			step := -1
			for i, st := range p.Environments[0].Steps {
				if _, ok := st.Op.(planner.MakeCwd); ok {
					step = i
				}
			}
			if step < 0 {
				t.Fatal("no MakeCwd in the plan")
			}
			out := applyPausedAt(t, p, "victim", step, func() {
				if err := os.Rename(filepath.Join(root, "t"), filepath.Join(root, "gone")); err != nil {
					t.Fatal(err)
				}
				if err := c.swap(root); err != nil {
					t.Fatal(err)
				}
			})
			if _, err := os.Lstat(c.made(dir)); err == nil {
				t.Errorf("the working directory was made in %s, not in the tmpfs; output %q", c.made(dir), out)
			}
			if strings.Contains(out, "\n/t/made\n") {
				t.Errorf("the process ran in the folder made: %q", out)
			}
		})
	}
}
