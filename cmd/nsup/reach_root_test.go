package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// reachCase is the start of a reach test, as root: a folder of root's
// that any uid may search (0755) holding src/f ("bound\n") to bind, and
// nsup to plan and apply the specs it writes there.
type reachCase struct {
	t        *testing.T
	dir, bin string
}

func newReachCase(t *testing.T, name string) *reachCase {
	t.Helper()
	requireRoot(t)
	checkHost(t)
	dir, err := os.MkdirTemp("", "nsup-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	os.Mkdir(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "f"), []byte("bound\n"), 0o644)
	return &reachCase{t: t, dir: dir, bin: buildNsup(t)}
}

// spec writes the folder's name, and returns its path: environment walk
// of the rootfs (line 4), root inside mapped to host uid 100000, src
// bound read-only at target (line 8), and main printing target/f.
func (c *reachCase) spec(name, rootfs, target string) string {
	c.t.Helper()
	spec := filepath.Join(c.dir, name)
	if err := os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  walk:
    rootfs: %s
    namespaces: [user, mnt, pid]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
    mounts:
      - {type: bind, source: %s/src, target: %s, readonly: true}
    processes:
      - {name: main, command: [/bin/busybox, cat, %s/f]}
`, rootfs, c.dir, target, target)), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return spec
}

// refused runs nsup cmd (plan or apply) on spec, "cmd what" in what it
// says, and wants exit 2 and each of want in its stderr.
func (c *reachCase) refused(cmd, what, spec string, want ...string) {
	c.t.Helper()
	code, out, errs := runCaptured(c.t, exec.Command(c.bin, cmd, spec))
	for _, w := range want {
		if code != 2 || !strings.Contains(errs, w) {
			c.t.Errorf("%s %s: exit %d, want 2 and %q\n%s%s", cmd, what, code, w, out, errs)
		}
	}
}

// applies runs nsup apply on spec, and wants exit 0 and main's "bound\n".
func (c *reachCase) applies(what, spec string) {
	c.t.Helper()
	code, out, errs := runCaptured(c.t, exec.Command(c.bin, "apply", spec))
	if code != 0 || out != "bound\n" {
		c.t.Errorf("apply %s: exit %d\n%s%s", what, code, out, errs)
	}
}
