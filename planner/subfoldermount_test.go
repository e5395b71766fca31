package planner

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSubfolderMountHidesRefused (helper-75's review): a mount of any
// type that hides host files in a subfolder of a writable bind (a
// tmpfs at /data/sub/cache over the host's host/sub/cache) is refused:
// root inside renames /data/sub, and the next run mounts it on a folder
// of its own (TestRootSubfolderMountHidesRenamed). One directly in the
// bound folder (/work/node_modules), over a host path that is not there
// or is an empty folder or file (nothing to hide), in a subfolder bound onto
// its own place, below a tmpfs or in a read-only bind, or a writable
// bind of the very folder shown there, plans.
func TestSubfolderMountHidesRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/data", "host/sub/cache", "host/sub/empty", "host/top", "host/own/deep/x", "other/x", "vols"}, nil)
	for _, f := range []string{"host/sub/cache/token", "host/top/token", "host/sub/conf", "host/own/deep/x/token", "other/f"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// An empty file: a bound file's mount point, as apply makes it
	// (helper-141's stop: taken as hiding, refused).
	if err := os.WriteFile(filepath.Join(dir, "host/sub/emptyf"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const bind = "      - {type: bind, source: ./host, target: /data}\n"
	tmpfs := func(at string) string { return "      - {type: tmpfs, target: " + at + "}\n" }
	hides := func(what, at, host string) string {
		return what + " at " + at + ", which hides the host's " + filepath.Join(dir, host) + ", lies in "
	}
	opts := fixedOptions(Options{FolderStat: folderStat, Caller: &rootCaller, VolumeDir: filepath.Join(dir, "vols"), Project: "p"})
	checkRefusals(t, dir, "mnt, pid", "volumes:\n  v: {}\n", opts, []refusal{
		{bind + tmpfs("/data/sub/cache"), "", hides("the tmpfs", "/data/sub/cache", "host/sub/cache") + "/data/sub, a subfolder of the writable bind at /data: the kernel refuses to rename a mount point, not the folders above it, so root inside could rename /data/sub and leave a folder of its own in its place, and the next run would mount it in that folder of root inside's and leave the host's " + filepath.Join(dir, "host/sub/cache") + " open to root inside at the new name; bind /data/sub itself (a mount of its own, read-only or not), mount it directly in /data, or make the bind at /data read-only"},
		{bind + "      - {type: bind, source: ./other, target: /data/sub/cache}\n", "", hides("the bind of "+filepath.Join(dir, "other"), "/data/sub/cache", "host/sub/cache")},
		{bind + "      - {type: bind, source: ./other/f, target: /data/sub/conf, readonly: true}\n", "", hides("the read-only bind of "+filepath.Join(dir, "other/f"), "/data/sub/conf", "host/sub/conf")},
		{bind + "      - {type: volume, source: v, target: /data/sub/cache}\n", "", "the volume v at /data/sub/cache, which hides the host's " + filepath.Join(dir, "host/sub/cache") + ", lies in /data/sub"},
		{bind + "      - {type: proc, target: /data/sub/cache}\n", "", hides("the proc", "/data/sub/cache", "host/sub/cache")},
		{"      - {type: volume, source: v, target: /data}\n      - {type: bind, source: ./other, target: /data/sub/cache}\n", "", ""},
		// Below a bind of the same folder onto its place, in a subfolder.
		{bind + "      - {type: bind, source: ./host/own/deep, target: /data/own/deep}\n" + tmpfs("/data/own/deep/x"), "",
			"lies in the bind at /data/own/deep (of the very folder the writable bind at /data shows there), in /data/own, a subfolder of the writable bind at /data"},
		// Directly in the bound folder: its parent is a mount point.
		{bind + tmpfs("/data/top"), "", ""},
		// Nothing to hide: not there (two levels down), or empty.
		{bind + tmpfs("/data/sub/empty"), "", ""},
		{bind + tmpfs("/data/sub/none/deeper"), "", ""},
		{bind + "      - {type: bind, source: ./other/f, target: /data/sub/emptyf, readonly: true}\n", "", ""},
		{bind + "      - {type: bind, source: ./other, target: /data/new/dir, create: true}\n", "", ""},
		// The subfolder bound onto itself, a tmpfs or a read-only bind
		// above, the very folder bound writable again.
		{bind + "      - {type: bind, source: ./host/sub, target: /data/sub}\n" + tmpfs("/data/sub/cache"), "", ""},
		{bind + tmpfs("/data/sub") + tmpfs("/data/sub/cache"), "", ""},
		{"      - {type: bind, source: ./host, target: /data, readonly: true}\n" + tmpfs("/data/sub/cache"), "", ""},
		{bind + "      - {type: bind, source: ./host/sub/cache, target: /data/sub/cache}\n", "", ""},
		{bind + "      - {type: bind, source: ./other, target: /data/sub/empty, readonly: true}\n" + tmpfs("/data/sub/empty/x"), "", ""},
	})
	// With a peer renaming through /proc/PID/root, directly in is
	// refused too (TestConfinedPidPeerRefused), when it hides anything
	// (TestRootSubfolderMountHidesPidPeer runs the peer's rename).
	peer := "  b:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt]\n    join: {pid: a}\n    processes: [{name: main, command: [/bin/sh]}]\n"
	checkRefusals(t, dir, "mnt, pid, net", peer, opts, []refusal{
		{bind + tmpfs("/data/top"), "", hides("the tmpfs", "/data/top", "host/top") + "/data, a folder of the writable bind at /data, and environment b"},
		{bind + tmpfs("/data/none"), "", ""},
	})
}

// TestSubfolderMountHidesInWritableRootRefused (helper-75's review): the
// same in a writable dir root's own tree (a tmpfs at /etc/cache over
// rootfs/etc/cache, root inside moving /etc), as the tree's links lead
// it too; over an empty folder (/var/tmp), directly in the root
// (/tmp), in a folder of the tree bound onto itself, and in a read-only
// or overlaid root, it plans.
func TestSubfolderMountHidesInWritableRootRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/etc/cache", "rootfs/var/tmp", "rootfs/tmp"}, map[string]string{"rootfs/lnk": "etc"})
	for _, f := range []string{"rootfs/etc/cache/token", "rootfs/tmp/token"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmpfs := func(at string) string { return "      - {type: tmpfs, target: " + at + "}\n" }
	root := filepath.Join(dir, "rootfs")
	for _, caller := range []Caller{rootCaller, userCaller} {
		opts := fixedOptions(Options{Caller: &caller})
		checkRefusalsIn(t, dir, "{dir: ./rootfs, readonly: false}", "mnt, pid", "", opts, []refusal{
			{tmpfs("/etc/cache"), "", "the tmpfs at /etc/cache, which hides the host's " + root + "/etc/cache, lies in /etc, a subfolder of the writable root " + root + ": the kernel refuses to rename a mount point, not the folders above it, so root inside could rename /etc"},
			{tmpfs("/etc/cache"), "", "bind " + root + "/etc onto /etc (a mount of its own, read-only or not), mount it directly in /, or make the root read-only"},
			{tmpfs("/lnk/cache"), "", "the tmpfs at /lnk/cache, which hides the host's " + root + "/etc/cache, lies in /etc"},
			{tmpfs("/var/tmp"), "", ""},
			{tmpfs("/tmp"), "", ""},
			{"      - {type: bind, source: ./rootfs/etc, target: /etc}\n" + tmpfs("/etc/cache"), "", ""},
		})
		for _, rootfs := range []string{"{dir: ./rootfs}", "{dir: ./rootfs, overlay: true}"} {
			checkRefusalsIn(t, dir, rootfs, "mnt, pid", "", opts, []refusal{{tmpfs("/etc/cache"), "", ""}})
		}
	}
}
