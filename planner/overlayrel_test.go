package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestOverlayRelativeLayers (helper-70): overlays whose folders are
// named relative to their mounter's working folder, as container
// engines name them when the options would not fit in a page: Docker's
// overlay2 (l/ABC lowers, <id>/diff and <id>/work, mounted from its
// driver's folder on <id>/merged there) and containerd's snapshotter
// (lowers named from its snapshots folder, the upper one in full).
// They were not placed: with the spec in the container's upper folder
// and its merged folder bound writable, or the spec read through the
// merged folder and a lower one bound writable, the plan was made
// (TestRootOverlayRelativeLayers wrote the spec so). Placed now as the
// engines mount them, and refused. Folders named so from elsewhere (no
// engine's way places them) stay not placed: planned, as before
// (docs/design.md). The mountinfo is a fixture (the overlays' devices
// made up, their folders the test's).
func TestOverlayRelativeLayers(t *testing.T) {
	d := t.TempDir()
	hybrid, err := filepath.Abs("cgroup/testdata/hybrid")
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.ReadFile(hybrid + "/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	home, snaps := d+"/docker/overlay2", d+"/ctd/snapshots"
	for _, p := range []string{home + "/c1/diff/proj", home + "/c1/work/work", home + "/c1/merged/proj2", home + "/L1/diff/proj2", home + "/l",
		snaps + "/3/fs/proj3", snaps + "/5/fs", snaps + "/5/work", d + "/run/c2/rootfs/proj3",
		d + "/else/merged/proj4", d + "/up/proj4", d + "/root/bin", d + "/other"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("../L1/diff", home+"/l/ABC")
	os.WriteFile(d+"/root/bin/sh", []byte("#!"), 0o755)
	lines := "950 27 0:950 / " + home + "/c1/merged rw,relatime - overlay overlay rw,lowerdir=l/ABC,upperdir=c1/diff,workdir=c1/work\n" +
		"951 27 0:951 / " + d + "/run/c2/rootfs rw,relatime - overlay overlay rw,lowerdir=3/fs,upperdir=" + snaps + "/5/fs,workdir=" + snaps + "/5/work\n" +
		// Relative to a working folder no engine's way names.
		"952 27 0:952 / " + d + "/else/merged rw,relatime - overlay overlay rw,lowerdir=other,upperdir=up,workdir=work\n"
	fsys := hostView(t, append(append([]byte{}, mi...), lines...), false)
	compile := func(specDir, mounts string) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [" + mounts + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		file := filepath.Join(specDir, "nsup.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		s, err := spec.ParseBytes(file, specDir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return compileOnView(s, fsys)
	}
	bind := func(src string) string { return "{type: bind, source: '" + src + "', target: /w}" }
	for _, c := range []struct {
		name, spec, bound, shown string // shown: "" if planned
	}{
		{"Docker: the spec in the upper folder, the merged one bound", home + "/c1/diff/proj", home + "/c1/merged", home + "/c1/merged/proj/nsup.yaml"},
		{"Docker: the spec read through the merged folder, a lower one bound", home + "/c1/merged/proj2", home + "/L1", home + "/L1/diff/proj2/nsup.yaml"},
		{"Docker: the spec read through the merged folder, the upper one bound", home + "/c1/merged/proj2", home + "/c1/diff", home + "/c1/diff/proj2/nsup.yaml"},
		{"containerd: the spec read through the merged folder, a lower one bound", d + "/run/c2/rootfs/proj3", snaps + "/3", snaps + "/3/fs/proj3/nsup.yaml"},
		{"another mounter's relative folders", d + "/up/proj4", d + "/else/merged", ""},
		{"Docker: the merged folder bound, the spec elsewhere", d + "/other", home + "/c1/merged", ""},
	} {
		err := compile(c.spec, bind(c.bound))
		refused := err != nil && strings.Contains(err.Error(), "which nsup reads to plan this spec")
		switch {
		case c.shown != "" && (!refused || !strings.Contains(err.Error(), "shows at "+c.shown+" too")):
			t.Errorf("%s: %v, want the spec refused, shown at %s", c.name, err, c.shown)
		case c.shown == "" && err != nil:
			t.Errorf("%s: %v, want planned", c.name, err)
		}
	}
}
