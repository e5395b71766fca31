package cgroup

import (
	"slices"
	"testing"
)

// TestVisibleStacked: a mount stacked on another at the same point is
// the one programs see, and so are the mounts below it. visible dropped
// the top of a stack with the one it covers (its walk up met the covered
// parent), so a host with /dev/shm mounted twice had no /dev/shm in the
// planner's table: a writable bind of /dev/shm was taken as one of the
// host's /dev and refused, and a devtmpfs stacked at a folder would
// have been taken as the filesystem below it (helper-94's review).
func TestVisibleStacked(t *testing.T) {
	var mounts []mountinfo
	for _, l := range []string{
		"1 0 254:0 / / rw - ext4 /dev/vda rw",
		"24 1 0:6 / /dev rw - devtmpfs devtmpfs rw",
		"25 24 0:23 / /dev/shm rw - tmpfs tmpfs rw",
		"30 25 0:27 / /dev/shm rw - tmpfs tmpfs rw",
		"31 30 0:28 / /dev/shm/x rw - tmpfs tmpfs rw",
		"40 1 0:30 / /srv rw - tmpfs tmpfs rw",
		"41 40 0:31 / /srv/a rw - tmpfs tmpfs rw",
		"42 40 0:6 / /srv rw - devtmpfs devtmpfs rw",
	} {
		m, ok := parseMountinfo(l)
		if !ok {
			t.Fatal(l)
		}
		mounts = append(mounts, m)
	}
	var got []int
	for _, m := range visible(mounts) {
		got = append(got, m.id)
	}
	// 25 is covered by 30; 40 by 42, and 41 with it (below 40).
	if want := []int{1, 24, 30, 31, 42}; !slices.Equal(got, want) {
		t.Errorf("visible: %v, want %v", got, want)
	}
}
