package planner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
)

// TestConfinedSubfolderRefused (helper-66's review): a masked or
// read-only path in a subfolder of a writable bind (a volume's too) is
// refused: root inside renames the folder above the mount point
// (TestRootConfinedSubfolderRenamed). One directly in the bound folder,
// one in a subfolder bound itself, or below a read-only bind, plans.
func TestConfinedSubfolderRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/data", "host/sub/deep", "vols"}, nil)
	os.WriteFile(filepath.Join(dir, "host/secret"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "host/sub/secret"), nil, 0o600)
	const bind = "      - {type: bind, source: ./host, target: /data}\n"
	security := func(s string) string { return "    security: {" + s + "}\n" }
	opts := fixedOptions(Options{Caller: &rootCaller, VolumeDir: filepath.Join(dir, "vols"), Project: "p"})
	checkRefusals(t, dir, "mnt, pid", "volumes:\n  v: {}\n", opts, []refusal{
		{bind, security("masked_paths: [/data/sub/secret]"), "/data/sub/secret lies in /data/sub, a subfolder of the writable bind at /data"},
		{bind, security("readonly_paths: [/data/sub/deep]"), "could rename /data/sub"},
		{"      - {type: volume, source: v, target: /data}\n", security("masked_paths: [/data/a/b]"), "a subfolder of the writable bind at /data"},
		{bind, security("masked_paths: [/data/secret], readonly_paths: [/data/sub]"), ""},
		{bind + "      - {type: bind, source: ./host/sub, target: /data/sub}\n", security("masked_paths: [/data/sub/secret]"), ""},
		{"      - {type: bind, source: ./host, target: /data, readonly: true}\n", security("masked_paths: [/data/sub/secret]"), ""},
		// Helper-69's review: through a bind of /data's own subfolder
		// onto its place, itself in a subfolder (root inside moved
		// /data/sub, and the next run bound its empty /data/sub/deep).
		{bind + "      - {type: bind, source: ./host/sub/deep, target: /data/sub/deep}\n", security("masked_paths: [/data/sub/deep/secret]"),
			"/data/sub/deep/secret lies in the bind at /data/sub/deep (of the very folder the writable bind at /data shows there), in /data/sub, a subfolder of the writable bind at /data"},
		{bind + "      - {type: bind, source: ./host/sub/deep, target: /data/sub/deep, readonly: true}\n", security("readonly_paths: [/data/sub/deep/x]"), "could rename /data/sub"},
		// Below a read-only path directly in /data: a read-only mount
		// point, nothing in it to rename. Not when that folder is not
		// there (nothing mounted), or is itself in a subfolder.
		{bind, security("masked_paths: [/data/sub/secret], readonly_paths: [/data/sub]"), ""},
		{bind, security("masked_paths: [/data/none/secret], readonly_paths: [/data/none]"), "/data/none/secret lies in /data/none, a subfolder of the writable bind at /data"},
		{bind, security("masked_paths: [/data/sub/deep/secret], readonly_paths: [/data/sub/deep]"), "/data/sub/deep/secret lies in /data/sub/deep, a subfolder"},
		// Each folder on the way a mount point: nothing to rename.
		{bind + "      - {type: bind, source: ./host/sub, target: /data/sub}\n      - {type: bind, source: ./host/sub/deep, target: /data/sub/deep}\n",
			security("masked_paths: [/data/sub/deep/secret]"), ""},
		// Another source: found again by its own host path.
		{bind + "      - {type: bind, source: ./vols, target: /data/sub/deep}\n", security("masked_paths: [/data/sub/deep/secret]"), ""},
		// A volume's own subfolder bound onto its place (made at apply).
		{"      - {type: volume, source: v, target: /data}\n      - {type: bind, source: ./vols/p/v/a/b, target: /data/a/b}\n", security("masked_paths: [/data/a/b/c]"), "could rename /data/a"},
	})
}

// TestConfinedInWritableRootRefused (helper-69's review): a masked or
// read-only path in a subfolder of a writable dir root's own tree
// (masked_paths: [/etc/secret]) is refused as in a writable bind: root
// inside moved /etc to /etc2 and made an empty /etc, and the next run
// skipped the missing path (TestRootConfinedRootSubfolderRenamed). So
// is one that the tree's links lead there, and a read-only bind of the
// tree's own subfolder onto its place. One directly in the root, in a
// folder of the tree bound onto itself, on a tmpfs, the defaults under
// a proc, and any in a read-only or overlaid root, plan.
func TestConfinedInWritableRootRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/etc/conf", "rootfs/srv/conf", "rootfs/tmp", "rootfs/proc"}, map[string]string{"rootfs/lnk": "etc/secret", "rootfs/elink": "etc"})
	os.WriteFile(filepath.Join(dir, "rootfs/etc/secret"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "rootfs/secret"), nil, 0o600)
	// Rootless too: root inside (the user) renames the user's folders.
	for _, caller := range []Caller{rootCaller, userCaller} {
		testConfinedInWritableRoot(t, dir, fixedOptions(Options{Caller: &caller}))
	}
	// A mount of the host's below the root: its point is a mount point.
	opts := fixedOptions(Options{Caller: &rootCaller})
	opts.Cgroups = func() (*cgroup.Layout, error) {
		l, err := fixedCgroups()
		if err != nil {
			return nil, err
		}
		l.Mounts = append(l.Mounts, cgroup.Mount{Point: filepath.Join(dir, "rootfs/srv"), FSType: "ext4"})
		return l, nil
	}
	checkRefusalsIn(t, dir, "{dir: ./rootfs, readonly: false}", "mnt, pid", "", opts, []refusal{
		{"      - {type: tmpfs, target: /tmp}\n", "    security: {masked_paths: [/srv/secret]}\n", ""},
		// Below a read-only folder directly in the root: a mount point.
		{"      - {type: tmpfs, target: /tmp}\n", "    security: {masked_paths: [/etc/secret], readonly_paths: [/etc]}\n", ""},
		{"      - {type: tmpfs, target: /tmp}\n", "    security: {masked_paths: [/srv/conf/secret]}\n",
			"/srv/conf/secret lies in /srv/conf, a subfolder of the mount of the host's at /srv in the writable root " + filepath.Join(dir, "rootfs") + ": the kernel refuses to rename a mount point, not the folders above it, so root inside could rename /srv/conf"},
	})
}

func testConfinedInWritableRoot(t *testing.T, dir string, opts Options) {
	t.Helper()
	security := func(s string) string { return "    security: {" + s + "}\n" }
	const tmpfs = "      - {type: tmpfs, target: /tmp}\n"
	checkRefusalsIn(t, dir, "{dir: ./rootfs, readonly: false}", "mnt, pid", "", opts, []refusal{
		{tmpfs, security("masked_paths: [/etc/secret]"), "/etc/secret lies in /etc, a subfolder of the writable root " + filepath.Join(dir, "rootfs") + ": the kernel refuses to rename a mount point, not the folders above it, so root inside could rename /etc"},
		{tmpfs, security("masked_paths: [/etc/secret]"), "bind " + filepath.Join(dir, "rootfs/etc") + " onto /etc (a mount of its own, read-only or not), name a path directly in /, or make the root read-only"},
		{tmpfs, security("readonly_paths: [/etc/conf]"), "could rename /etc"},
		{tmpfs, security("masked_paths: [/etc/gone]"), "could rename /etc"},
		{tmpfs, security("masked_paths: [/lnk]"), "/lnk (/etc/secret, as the tree's links lead it) lies in /etc"},
		// A read-only folder named through a link of the tree is not
		// held, nor a path below one named through a link (helper-74's
		// review): root inside repoints the link, and the next run masks
		// its decoy.
		{tmpfs, security("masked_paths: [/elink/secret], readonly_paths: [/elink]"), "/elink/secret (/etc/secret, as the tree's links lead it) lies in /etc"},
		{tmpfs, security("masked_paths: [/elink/secret], readonly_paths: [/etc]"), "/elink/secret (/etc/secret, as the tree's links lead it) lies in /etc"},
		{"      - {type: bind, source: ./rootfs/srv/conf, target: /srv/conf, readonly: true}\n", "",
			"the read-only bind of " + filepath.Join(dir, "rootfs/srv/conf") + " at /srv/conf, the folder the writable root " + filepath.Join(dir, "rootfs") + " shows there, lies in /srv"},
		{"      - {type: bind, source: ./rootfs/srv, target: /srv}\n      - {type: bind, source: ./rootfs/srv/conf, target: /srv/conf, readonly: true}\n", "", ""},
		{"      - {type: bind, source: ./rootfs/etc, target: /etc}\n", security("masked_paths: [/etc/secret], readonly_paths: [/etc/conf]"), ""},
		{tmpfs, security("masked_paths: [/secret, /tmp/x/y]"), ""},
		{"      - {type: proc, target: /proc}\n", "", ""},
	})
	for _, rootfs := range []string{"{dir: ./rootfs}", "{dir: ./rootfs, overlay: true}"} {
		checkRefusalsIn(t, dir, rootfs, "mnt, pid", "", opts, []refusal{
			{tmpfs, security("masked_paths: [/etc/secret], readonly_paths: [/etc/conf]"), ""},
			{"      - {type: bind, source: ./rootfs/srv/conf, target: /srv/conf, readonly: true}\n", "", ""},
		})
	}
}

// TestConfinedPidPeerRefused (helper-69's review): an environment that
// shares a's pid namespace from a mount namespace of its own reaches a's
// mounts through /proc/PID/root, where a's mount points are not its own:
// it renamed a's masked /data/secret and read-only /data/conf, directly
// in a's writable bind (TestRootConfinedPidPeerRenamed). With such a
// peer, a path directly in a writable bind or root is refused too; with
// none, or a peer in a's mount namespace, or a read-only bind, it plans.
func TestConfinedPidPeerRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/data", "host/conf"}, nil)
	const bind = "      - {type: bind, source: ./host, target: /data}\n"
	masked := "    security: {masked_paths: [/data/secret]}\n"
	peer := func(ns, join string) string {
		return "  b:\n    rootfs: {dir: ./rootfs}\n    namespaces: [" + ns + "]\n    join: {" + join + "}\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	opts := fixedOptions(Options{Caller: &rootCaller})
	for _, c := range []struct {
		mounts, rest, tail, want string
	}{
		{bind, masked, peer("mnt", "pid: a"), "/data/secret lies in /data, a folder of the writable bind at /data, and environment b shares this environment's pid namespace from a mount namespace of its own: root there reaches this environment's mounts through /proc/PID/root, where only the mount points of its own namespace cannot be renamed, so it could rename /data/secret and leave one of its own in its place, and /data/secret would no longer be masked (at once, or from the next nsup run on); make the bind at /data read-only, or give the environment a pid namespace of its own"},
		{bind, "    security: {readonly_paths: [/data/conf]}\n", peer("mnt", "pid: a"), "could rename /data/conf"},
		{bind + "      - {type: bind, source: ./host/conf, target: /data/conf, readonly: true}\n", "", peer("mnt", "pid: a"), "the read-only bind of " + dir + "/host/conf at /data/conf, the folder the writable bind at /data shows there, lies in /data, a folder of the writable bind at /data, and environment b"},
		// The peer renames the read-only folder itself.
		{bind, "    security: {readonly_paths: [/data/conf], masked_paths: [/data/conf/secret]}\n", peer("mnt", "pid: a"), "/data/conf/secret lies in /data/conf, a folder of the writable bind at /data, and environment b"},
		{bind, masked, peer("uts", "mnt: a, pid: a"), ""},
		{bind, masked, peer("mnt, pid", "net: a"), ""},
		{"      - {type: bind, source: ./host, target: /data, readonly: true}\n", masked, peer("mnt", "pid: a"), ""},
	} {
		checkRefusals(t, dir, "mnt, pid, net", c.tail, opts, []refusal{{c.mounts, c.rest, c.want}})
	}
}
