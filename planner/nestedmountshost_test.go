package planner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestWalkCrossesNoHostMount (helper-66's review): a mount of the host's
// below a dir root (at rootfs/mnt) takes NoXDev only from the mounts
// whose target lies on it, as written or as the tree's links lead it;
// before, it took it from every mount of the root, and a link put in a
// target's path after the plan led its missing folder into a host
// folder bound inside (TestRootMissingFolderLinkedWithHostMountBelow).
// A target on that mount is walked crossing mounts, as it must be, and
// following no link where its path passes none at plan time (NoLinks,
// helper-68's review: TestRootMissingFolderLinkedOnHostMount); one
// through a link of the tree at plan time still follows links.
func TestWalkCrossesNoHostMount(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "mnt", "opt"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "bin", "sh"), []byte("#!"), 0o755)
	if err := os.Symlink("mnt", filepath.Join(root, "lnk")); err != nil {
		t.Fatal(err)
	}
	s, err := spec.ParseBytes("t.yaml", dir, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /opt/new}
      - {type: tmpfs, target: /mnt/x}
      - {type: tmpfs, target: /lnk/y}
      - {type: tmpfs, target: /mn}
    processes:
      - name: main
        command: [/bin/sh]
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := fixedOptions(Options{Caller: &rootCaller})
	opts.Cgroups = func() (*cgroup.Layout, error) {
		l, err := fixedCgroups()
		if err != nil {
			return nil, err
		}
		l.Mounts = append(l.Mounts, cgroup.Mount{Point: filepath.Join(root, "mnt"), FSType: "tmpfs"})
		return l, nil
	}
	p, err := Compile(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	// NoXDev, NoLinks.
	want := map[string][2]bool{"/opt/new": {true, false}, "/mnt/x": {false, true}, "/lnk/y": {false, false}, "/mn": {true, false}}
	seen := 0
	for _, st := range ops(p, "a") {
		m, ok := st.Op.(Mount)
		if w, in := want[m.Target]; ok && m.InRoot && in {
			seen++
			if m.NoXDev != w[0] || m.NoLinks != w[1] {
				t.Errorf("%s: NoXDev %v, NoLinks %v, want %v", FormatOp(m), m.NoXDev, m.NoLinks, w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d of the %d mounts in the plan", seen, len(want))
	}
}
