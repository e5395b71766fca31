package cgroup

import (
	"testing"
	"testing/fstest"
)

// TestImageSame (helper-80): images are the same file by filesystem and
// inode where both are known (a second loop device attached by another
// name of the image, or by its name after the first was removed), else
// by name; a removed image's name (" (deleted)" in sysfs) is kept
// without that suffix, and marked removed.
func TestImageSame(t *testing.T) {
	fsys := fstest.MapFS{
		"sys/dev/block/7:1/loop/backing_file": {Data: []byte("/imgs/disk.img (deleted)\n")},
		"sys/dev/block/7:2/loop/backing_file": {Data: []byte("/imgs/disk.img\n")},
	}
	a := blockBacking(fsys, "7:1", 0, nil)
	b := blockBacking(fsys, "7:2", 0, nil)
	if len(a) != 1 || a[0] != (Image{Name: "/imgs/disk.img", Removed: true}) {
		t.Fatalf("a removed image: %+v", a)
	}
	if len(b) != 1 || a[0].Same(b[0]) {
		t.Errorf("%+v and %+v, a removed file and the one now at its name, are not the same", a, b)
	}
	for _, c := range []struct {
		x, y Image
		same bool
	}{
		{Image{Name: "/a", Dev: "8:1", Ino: 12}, Image{Name: "/b", Removed: true, Dev: "8:1", Ino: 12}, true},
		{Image{Name: "/a", Dev: "8:1", Ino: 12}, Image{Name: "/a", Dev: "8:1", Ino: 13}, false},
		{Image{Name: "/a", Dev: "8:1", Ino: 12}, Image{Name: "/a"}, true},
		{Image{Name: "/a"}, Image{Name: "/b"}, false},
	} {
		if got := c.x.Same(c.y); got != c.same || c.y.Same(c.x) != c.same {
			t.Errorf("%+v.Same(%+v) = %v, want %v", c.x, c.y, got, c.same)
		}
	}
}
