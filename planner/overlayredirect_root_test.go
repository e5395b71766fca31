package planner

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestRootOverlayRedirect (helper-70): a real overlay with
// redirect_dir=on, mounted by this test's binary run again in a mount
// namespace of its own (gone with it; the host's mounts are left as
// they were, which the test checks), and its lower folder old renamed
// to new through the merged folder (the upper folder's new redirects to
// old). With the spec read through merged/new and the lower folder old
// bound writable, the plan was made, and a write of the lower file
// (which the test makes, as root inside would) changed the spec;
// refused now. Root only.
func TestRootOverlayRedirect(t *testing.T) {
	requireOverlay(t)
	if d, inner := ownMountNS(t, "NSUP_TEST_OVERLAY_REDIRECT_DIR", nil); inner {
		overlayRedirect(t, d)
	}
}

// overlayRedirect is TestRootOverlayRedirect in its own mount
// namespace, in the folder d.
func overlayRedirect(t *testing.T, d string) {
	lower, upper, work, merged := d+"/lower", d+"/upper", d+"/work", d+"/merged"
	for _, p := range []string{lower + "/old/proj", upper, work, merged, d + "/root/bin"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [{type: bind, source: '" + lower + "/old', target: /w}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	os.WriteFile(lower+"/old/proj/nsup.yaml", []byte(text), 0o644)
	if err := unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work+",redirect_dir=on"); err != nil {
		os.WriteFile(d+"/skip", []byte("overlay with redirect_dir=on: "+err.Error()), 0o644)
		return
	}
	if err := os.Rename(merged+"/old", merged+"/new"); err != nil {
		t.Fatalf("rename through the merged folder: %v", err)
	}
	file := merged + "/new/proj/nsup.yaml"
	s, err := spec.ParseBytes(file, merged+"/new/proj", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	err = compileOnView(s, hostView(t, ownMountinfo(t), false))
	if err == nil || !strings.Contains(err.Error(), "shows at "+lower+"/old/proj/nsup.yaml too") {
		t.Errorf("the spec read through %s/new, the lower folder %s/old bound writable: %v, want refused, shown there", merged, lower, err)
	}
	// What root inside could do with the bind: write the lower file.
	was, _ := os.ReadFile(file)
	w, err := os.OpenFile(lower+"/old/proj/nsup.yaml", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("# root inside was here\n")
	w.Close()
	if now, _ := os.ReadFile(file); bytes.Equal(was, now) {
		t.Errorf("a write of %s/old/proj/nsup.yaml did not change the spec read through %s/new: the case is not what the check is for", lower, merged)
	}
	os.WriteFile(d+"/done", nil, 0o644)
}
