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

// TestRootLoopOfLoopImage (helper-81's review, low): an ext4 image is
// attached to a loop device A, and A itself to a loop device B (losetup
// /dev/loopB /dev/loopA), whose filesystem, mounted (in a mount
// namespace of the test's own), holds the spec. Sysfs names B's backing
// file /dev/loopA, not the image: before the fix the image was not among
// the mount's backing files, and a writable bind of the image's folder
// was planned, through which root inside writes the spec's bytes in the
// image, and the spec nsup reads changes once the pages are dropped (the
// test does so). Refused now: a loop device's backing block device
// (LOOP_GET_STATUS64's lo_rdevice) is followed to its own image. The
// same bind read-only is planned. Root only; needs mkfs.ext4 and loop
// devices.
func TestRootLoopOfLoopImage(t *testing.T) {
	requireLoopImages(t)
	d, inner := ownMountNS(t, "NSUP_TEST_LOOP_OF_LOOP_DIR", func(d string) {
		// B first: it holds A open.
		a, _ := os.ReadFile(d + "/loopA")
		if n, err := os.ReadFile(d + "/loopB"); err == nil {
			clearLoop(t, strings.TrimSpace(string(n)), "/dev/loop"+strings.TrimSpace(string(a)))
		}
		if len(a) > 0 {
			clearLoop(t, strings.TrimSpace(string(a)), d+"/imgs/disk.img")
		}
	})
	if inner {
		loopOfLoopImage(t, d)
	}
}

// loopOfLoopImage is TestRootLoopOfLoopImage in its own mount namespace,
// in the folder d.
func loopOfLoopImage(t *testing.T, d string) {
	imgs, mnt := d+"/imgs", d+"/mnt"
	image := imgs + "/disk.img"
	ext4Image(t, d, image, imgs, mnt)
	a, fdA := attachLoop(t, image)
	os.WriteFile(d+"/loopA", []byte(strconv.Itoa(a)), 0o644)
	devA := "/dev/loop" + strconv.Itoa(a)
	b, fdB := attachLoop(t, devA)
	unix.Close(fdA) // B holds A now; A goes with B (autoclear)
	os.WriteFile(d+"/loopB", []byte(strconv.Itoa(b)), 0o644)
	err := unix.Mount("/dev/loop"+strconv.Itoa(b), mnt, "ext4", 0, "")
	unix.Close(fdB)
	if err != nil {
		t.Fatalf("mount loop%d at %s: %v", b, mnt, err)
	}
	defer unix.Unmount(mnt, 0)
	if got, _ := os.ReadFile("/sys/block/loop" + strconv.Itoa(b) + "/loop/backing_file"); strings.TrimSpace(string(got)) != devA {
		t.Fatalf("sysfs names loop%d's backing file %q, want %q", b, got, devA)
	}

	text := func(bound string) string {
		return "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    hostname: AAAAAAAA\n    namespaces: [mnt, pid, uts]\n    mounts: [" + bound + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	bind := func(src, opts string) string { return "{type: bind, source: '" + src + "', target: /w" + opts + "}" }
	file := mnt + "/proj/nsup.yaml"
	os.MkdirAll(mnt+"/proj", 0o755)
	compile := func(bound string) error {
		if err := os.WriteFile(file, []byte(text(bound)), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := spec.ParseBytes(file, mnt+"/proj", []byte(text(bound)))
		if err != nil {
			t.Fatal(err)
		}
		return compileOnView(s, hostView(t, ownMountinfo(t), true))
	}
	if err := compile(bind(imgs, ", readonly: true")); err != nil {
		t.Errorf("the image's folder bound read-only: %v, want planned", err)
	}
	want := "is on a filesystem mounted from the image file " + image
	if err := compile(bind(imgs, "")); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("the spec on loop%d (of loop%d, of %s), the image's folder bound writable: %v, want refused (%s)", b, a, image, err, want)
	}
	os.WriteFile(file, []byte(text(bind(imgs, ""))), 0o644)
	unix.Sync()

	// What root inside could do with that bind: write the spec's bytes
	// in the image.
	writeSpecInImage(t, image)
	dropPages(file, "/dev/loop"+strconv.Itoa(b), devA) // each layer's: the spec's, B's and A's
	if now, _ := os.ReadFile(file); !bytes.Contains(now, []byte("hostname: PWNEDxxx")) {
		t.Errorf("a write of %s did not change the spec on loop%d: the case is not what the check is for:\n%s", image, b, now)
	}
	os.WriteFile(d+"/done", nil, 0o644)
}
