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

// TestRootOverlayIndexNames (helper-70): a real overlay with index=on,
// mounted by this test's binary run again in a mount namespace of its
// own (gone with it; the host's mounts are left as they were, which the
// test checks). The spec, in its lower folder with a second name there,
// is copied up by an open for writing through the merged folder, and
// the overlay keeps the upper file under a second name in the work
// folder's index/. With the spec read through the merged folder and
// the work folder bound writable, the plan was made, and a write of the
// index/ name (which the test makes, as root inside would) changed the
// spec; refused now. Root only.
func TestRootOverlayIndexNames(t *testing.T) {
	requireOverlay(t)
	if d, inner := ownMountNS(t, "NSUP_TEST_OVERLAY_INDEX_DIR", nil); inner {
		overlayIndexNames(t, d)
	}
}

// overlayIndexNames is TestRootOverlayIndexNames in its own mount
// namespace, in the folder d.
func overlayIndexNames(t *testing.T, d string) {
	lower, upper, work, merged := d+"/lower", d+"/upper", d+"/work", d+"/merged"
	for _, p := range []string{lower + "/proj", upper, work, merged, d + "/root/bin"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [{type: bind, source: '" + work + "', target: /w}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	os.WriteFile(lower+"/proj/nsup.yaml", []byte(text), 0o644)
	os.Link(lower+"/proj/nsup.yaml", lower+"/proj/other.yaml")
	if err := unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+lower+",upperdir="+upper+",workdir="+work+",index=on"); err != nil {
		os.WriteFile(d+"/skip", []byte("overlay with index=on: "+err.Error()), 0o644)
		return
	}
	// A copy up: an open for writing through the merged folder.
	file := merged + "/proj/nsup.yaml"
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	index, _ := filepath.Glob(work + "/index/*")
	if len(index) != 1 {
		t.Fatalf("index/ of %s holds %v, want the copied-up spec's second name", work, index)
	}
	s, err := spec.ParseBytes(file, merged+"/proj", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	err = compileOnView(s, hostView(t, ownMountinfo(t), false))
	// The lower file (two names too, on the same filesystem) may be the
	// one named.
	if err == nil || !strings.Contains(err.Error(), "/proj/nsup.yaml (a host overlay's folder, or an image file), which has 2 names (hard links)") ||
		!strings.Contains(err.Error(), "is read through "+upper+"/") && !strings.Contains(err.Error(), "is read through "+lower+"/") {
		t.Errorf("the spec read through %s, the work folder %s bound writable: %v, want refused, naming its layer's file", merged, work, err)
	}
	// What root inside could do with the bind: write the index/ name.
	was, _ := os.ReadFile(file)
	w, err := os.OpenFile(index[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("# root inside was here\n")
	w.Close()
	if now, _ := os.ReadFile(file); bytes.Equal(was, now) {
		t.Errorf("a write of %s did not change the spec read through %s: the case is not what the check is for", index[0], merged)
	}
	os.WriteFile(d+"/done", nil, 0o644)
}
