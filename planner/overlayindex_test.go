package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestOverlayLayerNames (helper-70): the spec read through a host
// overlay's merged folder is its upper (or lower) folder's file, whose
// other names (hard links) were not counted: only the merged path's
// were, on the overlay's major:minor. An overlay with index=on keeps a
// copied-up file whose lower file had several names under a second name
// in its work folder's index/ (TestRootOverlayIndexNames); any hard link
// of the upper file is another way to write it. A writable bind on the
// upper file's filesystem is refused now, naming that file; one on
// another filesystem is planned. The mountinfo is a fixture (the
// overlay's device made up, its folders the test's, a tmpfs line for
// the other filesystem).
func TestOverlayLayerNames(t *testing.T) {
	d := t.TempDir()
	hybrid, err := filepath.Abs("cgroup/testdata/hybrid")
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.ReadFile(hybrid + "/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d + "/up/proj", d + "/low", d + "/work/index", d + "/merged/proj", d + "/root/bin", d + "/tmpfs"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!"), 0o755)
	lines := "960 27 0:960 / " + d + "/merged rw,relatime - overlay overlay rw,lowerdir=" + d + "/low,upperdir=" + d + "/up,workdir=" + d + "/work,index=on\n" +
		"961 27 0:961 / " + d + "/tmpfs rw,relatime - tmpfs tmpfs rw\n"
	fsys := hostView(t, append(append([]byte{}, mi...), lines...), false)
	text := func(mounts string) string {
		return "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [" + mounts + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	bind := func(src string) string { return "{type: bind, source: '" + src + "', target: /w}" }
	compile := func(mounts string) error {
		// The merged folder's file (a plain one: no overlay is mounted)
		// and the upper folder's, with a second name in index/.
		file := d + "/merged/proj/nsup.yaml"
		os.WriteFile(file, []byte(text(mounts)), 0o644)
		os.Remove(d + "/up/proj/nsup.yaml")
		os.Remove(d + "/work/index/00fb")
		os.WriteFile(d+"/up/proj/nsup.yaml", []byte(text(mounts)), 0o644)
		os.Link(d+"/up/proj/nsup.yaml", d+"/work/index/00fb")
		s, err := spec.ParseBytes(file, d+"/merged/proj", []byte(text(mounts)))
		if err != nil {
			t.Fatal(err)
		}
		return compileOnView(s, fsys)
	}
	if err := compile(bind(d + "/work")); err == nil || !strings.Contains(err.Error(), "is read through "+d+"/up/proj/nsup.yaml (a host overlay's folder, or an image file), which has 2 names (hard links)") {
		t.Errorf("the spec read through %s/merged, its work folder bound writable: %v, want refused, naming the upper folder's file", d, err)
	}
	if err := compile(bind(d + "/tmpfs")); err != nil {
		t.Errorf("a folder of another filesystem bound writable: %v, want planned", err)
	}
}
