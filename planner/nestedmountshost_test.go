package planner

import (
	"os"
	"path/filepath"
	"strings"
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
// helper-68's review: TestRootMissingFolderLinkedOnHostMount). One
// through a link of the tree at plan time was walked following links,
// and the writer of the tree pointed a link elsewhere after the plan
// (helper-69's review: TestRootMissingFolderLinkedToHostMount): it is
// refused now, naming the path it leads to.
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
	parse := func(mounts string) *spec.Spec {
		s, err := spec.ParseBytes("t.yaml", dir, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
`+mounts+`    processes:
      - name: main
        command: [/bin/sh]
`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := parse("      - {type: tmpfs, target: /opt/new}\n      - {type: tmpfs, target: /mnt/x}\n      - {type: tmpfs, target: /mn}\n")
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
	want := map[string][2]bool{"/opt/new": {true, false}, "/mnt/x": {false, true}, "/mn": {true, false}}
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
	_, err = Compile(parse("      - {type: tmpfs, target: /lnk/y}\n"), opts)
	if w := "t.yaml:7:9: environments.a.mounts[0].target: /lnk/y passes through the symlink /lnk of the root (-> \"mnt\") and leads to /mnt/y, on a mount of the host's below the root"; err == nil || !strings.Contains(err.Error(), w) {
		t.Errorf("/lnk/y: %v, want refused: %s", err, w)
	}
}
