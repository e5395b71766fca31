package planner

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestRootLoopImageShowsSpec (helper-70): a real ext4 image, attached to
// a loop device and mounted by this test's binary run again in a mount
// namespace of its own (the mount gone with it, the loop device cleared
// with its mount, and again here if not: the host's mounts and loop
// devices are left as they were, which the test checks). With the spec
// on that filesystem and the image's folder bound writable, the plan was
// made; the test writes the spec's bytes in the image, as root inside
// would (and did, by hand, with nsup apply), and sees the spec nsup
// reads change once its pages are dropped (as memory pressure, a
// remount or a reboot drops them). Refused now, naming the image; the
// same bind read-only is planned. The same with btrfs, which shows a
// major:minor of its own and the loop device as the source. Root only;
// needs mkfs.ext4 (e2fsprogs), mkfs.btrfs (btrfs-progs) and loop
// devices.
func TestRootLoopImageShowsSpec(t *testing.T) {
	requireLoopImages(t)
	d, inner := ownMountNS(t, "NSUP_TEST_LOOP_DIR", func(d string) {
		if n, err := os.ReadFile(d + "/loop"); err == nil {
			clearLoop(t, strings.TrimSpace(string(n)), d+"/imgs/disk.img")
		}
		if n, err := os.ReadFile(d + "/loop2"); err == nil {
			clearLoop(t, strings.TrimSpace(string(n)), d+"/imgs/btrfs.img")
		}
	})
	if inner {
		loopImageShowsSpec(t, d)
	}
}

// writeSpecInImage does what root inside could do with a writable bind
// of an image that holds the spec: it writes "hostname: PWNEDxxx" over
// each "hostname: AAAAAAAA" in the image's bytes (the spec may be there
// more than once, a block each time it was written).
func writeSpecInImage(t *testing.T, image string) {
	t.Helper()
	img, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(img, []byte("hostname: AAAAAAAA")) {
		t.Fatalf("the spec's bytes are not in %s", image)
	}
	w, err := os.OpenFile(image, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for at, off := 0, 0; ; at += off + 1 {
		if off = bytes.Index(img[at:], []byte("hostname: AAAAAAAA")); off < 0 {
			break
		}
		w.WriteAt([]byte("hostname: PWNEDxxx"), int64(at+off))
	}
	w.Sync()
}

// dropPages drops the clean pages of each file (or device) cached, so
// that the next read finds what is below.
func dropPages(paths ...string) {
	for _, p := range paths {
		if r, err := os.Open(p); err == nil {
			unix.Fadvise(int(r.Fd()), 0, 0, unix.FADV_DONTNEED)
			r.Close()
		}
	}
}

// requireLoopImages: root, mkfs.ext4 and loop devices, which the loop
// image tests attach (skipOrFail: a failure under CI=true).
func requireLoopImages(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "attaches a loop device: needs root")
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		skipOrFail(t, "no mkfs.ext4 (apt-get install e2fsprogs)")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		skipOrFail(t, "no /dev/loop-control (modprobe loop)")
	}
}

// clearLoop detaches the loop device /dev/loopN if it is still the
// image's (its autoclear detaches it when its mount goes), and fails
// the test if it stays so.
func clearLoop(t *testing.T, n, image string) {
	t.Helper()
	backing := "/sys/block/loop" + n + "/loop/backing_file"
	if b, err := os.ReadFile(backing); err != nil || strings.TrimSpace(string(b)) != image {
		return
	}
	fd, err := unix.Open("/dev/loop"+n, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("loop%s still holds %s: %v", n, image, err)
	}
	defer unix.Close(fd)
	// Busy, LOOP_CLR_FD only sets autoclear: it is cleared on this close.
	if err := unix.IoctlSetInt(fd, unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		t.Errorf("LOOP_CLR_FD of loop%s: %v", n, err)
	}
}

// attachLoop attaches the file image to a free loop device, with
// autoclear (detached when its last user, the mount, is gone), and
// returns its number and an open fd of it (to hold it until mounted).
func attachLoop(t *testing.T, image string) (int, int) {
	ctl, err := unix.Open("/dev/loop-control", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ctl)
	f, err := unix.Open(image, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(f)
	for range 16 { // another attacher may take the free one first
		n, err := unix.IoctlRetInt(ctl, unix.LOOP_CTL_GET_FREE)
		if err != nil {
			t.Fatalf("LOOP_CTL_GET_FREE: %v", err)
		}
		fd, err := unix.Open("/dev/loop"+strconv.Itoa(n), unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		cfg := unix.LoopConfig{Fd: uint32(f), Info: unix.LoopInfo64{Flags: unix.LO_FLAGS_AUTOCLEAR}}
		if err := unix.IoctlLoopConfigure(fd, &cfg); err == nil {
			return n, fd
		} else if !errors.Is(err, unix.EBUSY) {
			t.Fatalf("LOOP_CONFIGURE of loop%d: %v", n, err)
		}
		unix.Close(fd)
	}
	t.Fatal("no free loop device")
	return 0, 0
}

// ext4Image makes the folders dirs, d/root/bin/sh (a root to plan) and an
// 8 MiB ext4 image at image.
func ext4Image(t *testing.T, d, image string, dirs ...string) {
	t.Helper()
	for _, p := range append(dirs, d+"/root/bin") {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	if err := os.WriteFile(image, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(image, 8<<20)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", image).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
}

// mountLoop attaches image to a loop device, writes its number to d/loop
// (for the test's cleanup) and mounts it at mnt; unmounting mnt, the
// caller's to do, detaches it (autoclear). It returns the number.
func mountLoop(t *testing.T, d, image, mnt string) int {
	t.Helper()
	n, fd := attachLoop(t, image)
	os.WriteFile(d+"/loop", []byte(strconv.Itoa(n)), 0o644)
	err := unix.Mount("/dev/loop"+strconv.Itoa(n), mnt, "ext4", 0, "")
	unix.Close(fd)
	if err != nil {
		t.Fatalf("mount loop%d at %s: %v", n, mnt, err)
	}
	return n
}

// loopImageShowsSpec is TestRootLoopImageShowsSpec in its own mount
// namespace, in the folder d.
func loopImageShowsSpec(t *testing.T, d string) {
	imgs, mnt, image := d+"/imgs", d+"/mnt", d+"/imgs/disk.img"
	ext4Image(t, d, image, imgs, mnt)
	n := mountLoop(t, d, image, mnt)
	defer unix.Unmount(mnt, 0) // the loop device's autoclear detaches it then

	// The spec, on the loop-mounted filesystem, its hostname a marker
	// root inside finds in the image.
	text := func(bound string) string {
		return "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    hostname: AAAAAAAA\n    namespaces: [mnt, pid, uts]\n    mounts: [" + bound + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	bind := func(opts string) string { return "{type: bind, source: '" + imgs + "', target: /w" + opts + "}" }
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
		// The host's mounts (this namespace's), its sysfs and /dev as
		// they are; the cgroup layout the test data's.
		return compileOnView(s, hostView(t, ownMountinfo(t), true))
	}
	if err := compile(bind(", readonly: true")); err != nil {
		t.Errorf("the image's folder bound read-only: %v, want planned", err)
	}
	err := compile(bind(""))
	if err == nil || !strings.Contains(err.Error(), "is on a filesystem mounted from the image file "+image+" (a loop device's), which this mount lets the environment write at "+image+":") {
		t.Errorf("the spec on loop%d, its image's folder %s bound writable: %v, want refused, naming the image", n, imgs, err)
	}

	// What root inside could do with the bind: write the spec's bytes in
	// the image, through the bound folder.
	writeSpecInImage(t, image)
	dropPages(file) // as memory pressure would
	if now, _ := os.ReadFile(file); !bytes.Contains(now, []byte("hostname: PWNEDxxx")) {
		t.Errorf("a write of %s did not change the spec on loop%d: the case is not what the check is for:\n%s", image, n, now)
	}

	// btrfs shows a major:minor of its own (0:NN), and its device as the
	// source: the image is found through the source.
	if _, err := exec.LookPath("mkfs.btrfs"); err != nil {
		os.WriteFile(d+"/skip", []byte("no mkfs.btrfs (apt-get install btrfs-progs)"), 0o644)
		return
	}
	if fs, _ := os.ReadFile("/proc/filesystems"); !bytes.Contains(fs, []byte("\tbtrfs\n")) {
		os.WriteFile(d+"/skip", []byte("no btrfs filesystem (modprobe btrfs)"), 0o644)
		return
	}
	image2, mnt2 := imgs+"/btrfs.img", d+"/mnt2"
	os.MkdirAll(mnt2, 0o755)
	os.WriteFile(image2, nil, 0o644)
	os.Truncate(image2, 128<<20)
	if out, err := exec.Command("mkfs.btrfs", "-q", "-f", image2).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.btrfs: %v %s", err, out)
	}
	n2, fd2 := attachLoop(t, image2)
	os.WriteFile(d+"/loop2", []byte(strconv.Itoa(n2)), 0o644)
	err = unix.Mount("/dev/loop"+strconv.Itoa(n2), mnt2, "btrfs", 0, "")
	unix.Close(fd2)
	if err != nil {
		t.Fatalf("mount loop%d at %s: %v", n2, mnt2, err)
	}
	defer unix.Unmount(mnt2, 0)
	mnt, file = mnt2, mnt2+"/proj/nsup.yaml"
	os.MkdirAll(mnt2+"/proj", 0o755)
	err = compile(bind(""))
	if err == nil || !strings.Contains(err.Error(), "is on a filesystem mounted from the image file "+image2+" (a loop device's)") {
		t.Errorf("the spec on btrfs on loop%d, its image's folder %s bound writable: %v, want refused, naming the image", n2, imgs, err)
	}
	os.WriteFile(d+"/done", nil, 0o644)
}
