package planner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestRootOverlayRelativeLayers (helper-70): a real overlay mounted as
// Docker's overlay2 mounts one whose options would not fit in a page
// (from its driver's folder, the lower folder named by its short link
// l/ABC, the upper and work ones as c1/diff and c1/work, on c1/merged),
// by this test's binary run again in a mount namespace of its own (gone
// with it; the host's mounts are left as they were, which the test
// checks). With the spec in the upper folder and the merged folder
// bound writable the plan was made, and a write through the merged
// folder (which the test makes, as root inside would) changed the spec;
// refused now. So is a rename through the merged folder above a host
// mount in the upper folder (aliasBelow). Root only.
func TestRootOverlayRelativeLayers(t *testing.T) {
	requireOverlay(t)
	if d, inner := ownMountNS(t, "NSUP_TEST_OVERLAY_REL_DIR", nil); inner {
		overlayRelativeLayers(t, d)
	}
}

// overlayRelativeLayers is TestRootOverlayRelativeLayers in its own
// mount namespace, in the folder d.
func overlayRelativeLayers(t *testing.T, d string) {
	home := d + "/overlay2"
	upper, merged := home+"/c1/diff", home+"/c1/merged"
	for _, p := range []string{upper + "/proj", upper + "/x", home + "/c1/work", merged, home + "/L1/diff", home + "/l", d + "/root/bin", d + "/plain"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("../L1/diff", home+"/l/ABC")
	os.WriteFile(d+"/root/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	text := func(mounts string) string {
		return "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [" + mounts + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	bind := "{type: bind, source: '" + merged + "', target: /w}"
	os.WriteFile(upper+"/proj/nsup.yaml", []byte(text(bind)), 0o644)
	// Mounted from the driver's folder, as Docker's mountFrom does.
	wd, _ := os.Getwd()
	if err := os.Chdir(home); err != nil {
		t.Fatal(err)
	}
	err := unix.Mount("overlay", merged, "overlay", 0, "lowerdir=l/ABC,upperdir=c1/diff,workdir=c1/work")
	os.Chdir(wd)
	if err != nil {
		t.Fatalf("overlay at %s: %v", merged, err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if !bytes.Contains(mi, []byte("lowerdir=l/ABC,upperdir=c1/diff")) {
		t.Fatalf("the overlay's folders are not named relative in mountinfo:\n%s", mi)
	}
	compile := func(specDir string) error {
		file := filepath.Join(specDir, "nsup.yaml")
		s, err := spec.ParseBytes(file, specDir, []byte(text(bind)))
		if err != nil {
			t.Fatal(err)
		}
		return compileOnView(s, hostView(t, ownMountinfo(t), false))
	}
	err = compile(upper + "/proj")
	if err == nil || !strings.Contains(err.Error(), "shows at "+merged+"/proj/nsup.yaml too") {
		t.Errorf("the spec in %s, the merged folder %s bound writable: %v, want refused, shown there", upper, merged, err)
	}
	// What root inside could do with the bind: write the spec through
	// the merged folder.
	was, _ := os.ReadFile(upper + "/proj/nsup.yaml")
	f, err := os.OpenFile(merged+"/proj/nsup.yaml", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("# root inside was here\n")
	f.Close()
	if now, _ := os.ReadFile(upper + "/proj/nsup.yaml"); bytes.Equal(was, now) {
		t.Errorf("a write through %s did not change the spec in %s: the case is not what the check is for", merged, upper)
	}
	// A host mount on an entry of the upper folder, the merged folder
	// bound writable: root inside would rename its folder.
	if err := unix.Mount("tmpfs", upper+"/x", "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(d+"/plain/nsup.yaml", []byte(text(bind)), 0o644)
	if err := compile(d + "/plain"); err == nil || !strings.Contains(err.Error(), "rename the folder of the host's mount at "+upper+"/x,") {
		t.Errorf("a host tmpfs at %s/x, %s bound writable: %v, want refused, naming it", upper, merged, err)
	}
	os.WriteFile(d+"/done", nil, 0o644)
}
