package planner

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestRootRemovedLoopImageKeptName (helper-73's review, low; helper-80's
// fix): an ext4 image, attached to a loop device and mounted (in a mount
// namespace of the test's own, as TestRootLoopImageShowsSpec), holds the
// spec; then the image gets a second name (keep/disk.img, a hard link)
// and its first is removed, so sysfs names it "imgs/disk.img (deleted)".
// Before the fix a removed image was not placed at all, and a writable
// bind of keep/ was planned: root inside writes the spec's bytes in
// keep/disk.img, and the spec nsup reads changes once its pages are
// dropped (the test does so). Refused now: a removed image's other names
// are on its filesystem (LOOP_GET_STATUS64's lo_device), where they are
// is not known, and a writable bind of any folder of that filesystem is
// refused (also with a tmpfs mounted over the folder the removed name
// was in: the loop device, not that folder, says which filesystem); so
// is a writable bind of the filesystem of a second loop device attached
// by the kept name (the same image: matched by filesystem and inode, the
// names differ). The same bind read-only, and a writable bind of a folder on
// another filesystem (a tmpfs), are planned. Root only; needs mkfs.ext4
// and loop devices.
func TestRootRemovedLoopImageKeptName(t *testing.T) {
	requireLoopImages(t)
	d, inner := ownMountNS(t, "NSUP_TEST_LOOP_KEPT_DIR", func(d string) {
		if n, err := os.ReadFile(d + "/loop"); err == nil {
			clearLoop(t, strings.TrimSpace(string(n)), d+"/imgs/disk.img (deleted)")
		}
		if n, err := os.ReadFile(d + "/loop2"); err == nil {
			clearLoop(t, strings.TrimSpace(string(n)), d+"/keep/disk.img")
		}
	})
	if inner {
		removedLoopImageKeptName(t, d)
	}
}

// removedLoopImageKeptName is TestRootRemovedLoopImageKeptName in its
// own mount namespace, in the folder d.
func removedLoopImageKeptName(t *testing.T, d string) {
	imgs, keep, mnt, other := d+"/imgs", d+"/keep", d+"/mnt", d+"/other"
	image, kept := imgs+"/disk.img", keep+"/disk.img"
	ext4Image(t, d, image, imgs, keep, mnt, other)
	n := mountLoop(t, d, image, mnt)
	defer unix.Unmount(mnt, 0) // the loop device's autoclear detaches it then
	// A folder of another filesystem.
	if err := unix.Mount("tmpfs", other, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(other, 0)
	// The image keeps another name; its first is removed.
	if err := os.Link(image, kept); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(image); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile("/sys/block/loop" + strconv.Itoa(n) + "/loop/backing_file"); strings.TrimSpace(string(b)) != image+" (deleted)" {
		t.Fatalf("sysfs names loop%d's image %q, want %q", n, b, image+" (deleted)")
	}

	text := func(bound string) string {
		return "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    hostname: AAAAAAAA\n    namespaces: [mnt, pid, uts]\n    mounts: [" + bound + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	bind := func(src, opts string) string { return "{type: bind, source: '" + src + "', target: /w" + opts + "}" }
	file := mnt + "/proj/nsup.yaml"
	os.MkdirAll(mnt+"/proj", 0o755)
	compile := func(bound string) error {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(text(bound))
		f.Sync()
		f.Close()
		s, err := spec.ParseBytes(file, mnt+"/proj", []byte(text(bound)))
		if err != nil {
			t.Fatal(err)
		}
		return compileOnView(s, hostView(t, ownMountinfo(t), true))
	}
	if err := compile(bind(keep, ", readonly: true")); err != nil {
		t.Errorf("the folder of the image's other name bound read-only: %v, want planned", err)
	}
	if err := compile(bind(other, "")); err != nil {
		t.Errorf("a folder of another filesystem bound writable: %v, want planned", err)
	}
	want := "is on a filesystem mounted from the image file " + image + " (removed; a name it keeps may be anywhere on its filesystem) (a loop device's), which this mount lets the environment write at " + keep + ":"
	if err := compile(bind(keep, "")); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("the spec on loop%d, its removed image's other name's folder %s bound writable: %v, want refused (%s)", n, keep, err, want)
	}
	// With a tmpfs over the folder the removed name was in, the folder
	// no longer says which filesystem the image is on; the loop device
	// does.
	if err := unix.Mount("tmpfs", imgs, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	err := compile(bind(keep, ""))
	unix.Unmount(imgs, 0)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("the same, a tmpfs over %s: %v, want refused (%s)", imgs, err, want)
	}

	// What root inside could do with that bind: write the spec's bytes
	// in the image, through its other name.
	writeSpecInImage(t, kept)
	dropPages(file)
	if now, _ := os.ReadFile(file); !bytes.Contains(now, []byte("hostname: PWNEDxxx")) {
		t.Errorf("a write of %s did not change the spec on loop%d: the case is not what the check is for:\n%s", kept, n, now)
	}

	// A second loop device of the image, attached by its kept name, its
	// filesystem mounted: the same blocks, under another name than the
	// first device's. A writable bind of that mount is refused: the two
	// are matched by the image's filesystem and inode.
	n2, fd2 := attachLoop(t, kept)
	os.WriteFile(d+"/loop2", []byte(strconv.Itoa(n2)), 0o644)
	mnt2 := d + "/mnt2"
	os.MkdirAll(mnt2, 0o755)
	err = unix.Mount("/dev/loop"+strconv.Itoa(n2), mnt2, "ext4", 0, "")
	unix.Close(fd2)
	if err != nil {
		t.Fatalf("mount loop%d at %s: %v", n2, mnt2, err)
	}
	defer unix.Unmount(mnt2, 0)
	if err := compile(bind(mnt2, "")); err == nil || !strings.Contains(err.Error(), "is on a filesystem mounted from the image file "+image+" (removed;") || !strings.Contains(err.Error(), "which this mount lets the environment write at "+mnt2+"/proj/nsup.yaml:") {
		t.Errorf("the spec on loop%d, a second loop device of its image (loop%d, by the kept name) mounted at %s and bound writable: %v, want refused", n, n2, mnt2, err)
	}
	os.WriteFile(d+"/done", nil, 0o644)
}
