package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestWalkCrossesNoMount (helper-59's review): a mount of a dir root
// placed by its path, whose target crosses no earlier mount as written
// nor as the tree's links lead it, has its missing folders made by a
// walk that crosses no mount (NoXDev); one below an earlier mount (one
// led there by a link is refused: TestMountLinkedBelowTmpfsRefused), or
// beneath a held mount (a bind, a tmpfs that a
// mount lies below), does not.
func TestWalkCrossesNoMount(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "srv/opt", "data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "bin", "sh"), []byte("#!"), 0o755)
	for link, to := range map[string]string{"opt": "srv/opt", "tlink": "/tmp"} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := spec.ParseBytes("t.yaml", dir, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /tmp}
      - {type: tmpfs, target: /tmp/inner}
      - {type: tmpfs, target: /opt/new}
      - {type: bind, source: ./rootfs/bin, target: /data/b}
      - {type: tmpfs, target: /data/b/t}
      - {type: dev, target: /dev}
    processes:
      - name: main
        command: [/bin/sh]
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Caller: &rootCaller}
	p, err := Compile(s, fixedOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"/tmp": true, "/tmp/inner": false, "/opt/new": true, "/data/b": true, "/data/b/t": false, "/dev": true}
	if hostMountBelow(root) {
		t.Fatalf("the host has a mount below %s", root)
	}
	seen := map[string]bool{}
	for _, st := range ops(p, "a") {
		m, ok := st.Op.(Mount)
		if !ok || !m.InRoot {
			continue
		}
		if w, ok := want[m.Target]; ok && (m.Beneath == "" || m.Target == "/data/b/t" || m.Target == "/tmp/inner") {
			seen[m.Target] = true
			if m.NoXDev != w {
				t.Errorf("%s: NoXDev %v, want %v", FormatOp(m), m.NoXDev, w)
			}
		} else if m.NoXDev {
			t.Errorf("%s: NoXDev beneath %s", FormatOp(m), m.Beneath)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d of the %d mounts in the plan: %v", len(seen), len(want), seen)
	}
}

// hostMountBelow says whether the host has a mount below dir.
func hostMountBelow(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] != dir && within(f[4], dir) {
			return true
		}
	}
	return false
}
