package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDevFolderWritableRefused: outside a user namespace that maps root
// elsewhere, a writable bind of a folder of the host's devices (in
// /dev, on a devtmpfs or devpts wherever mounted, or a recursive bind
// that brings one along), and a writable dir root that is or holds one,
// are refused (helper-93's review): nodev stops opening a node, not a
// hard link or a chmod, and root inside linked the host's /dev/null to
// another node through a writable bind of /dev (the CVE-2025-31133
// class: every environment's masks and /dev/null bind the host's
// /dev/null). Read-only, one node, an overlaid root, and a user
// namespace that maps root elsewhere plan.
func TestDevFolderWritableRefused(t *testing.T) {
	root, node := shRoot(t, "/x"), nodeRoot(t, "/x")
	host, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"dev/sub", "tree/bin", "tree/dev", "pts/pts"} {
		os.MkdirAll(filepath.Join(host, d), 0o755)
	}
	os.WriteFile(host+"/tree/bin/sh", []byte("#!"), 0o755)
	extra := "90 27 0:6 / " + host + "/dev rw,relatime - devtmpfs devtmpfs rw\n" +
		"91 27 0:6 / " + host + "/tree/dev rw,relatime - devtmpfs devtmpfs rw\n" +
		"92 27 0:24 / " + host + "/pts/pts rw,relatime - devpts devpts rw\n" +
		"93 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw\n" +
		"94 93 0:25 / /dev/shm rw,relatime - tmpfs tmpfs rw\n"
	env := func(rootfs, bind, more string) string { return bindAtX(rootfs, "[mnt, pid, net]", bind) + more }
	const why = ": root inside would change the host's device nodes through it (nodev stops opening them, not a hard link"
	for _, c := range []struct{ rootfs, bind, want string }{
		{root, "source: /dev", "environments.web.mounts[0].readonly: /dev is a folder of the host's /dev" + why},
		// One node, writable: root inside would chmod the host's node
		// (helper-94's review).
		{node, "source: /dev/null", "environments.web.mounts[0].readonly: /dev/null is a device node of the host's: root inside would change it through a writable bind (chmod 666"},
		{root, "source: /dev/pts", "environments.web.mounts[0].readonly: /dev/pts is a folder of the host's /dev" + why},
		{root, "source: " + host + "/dev/sub", "environments.web.mounts[0].readonly: " + host + "/dev/sub is a folder of the host's devtmpfs mounted at " + host + "/dev" + why},
		{root, "source: " + host + "/tree", "environments.web.mounts[0].readonly: a recursive bind of " + host + "/tree brings the host's devtmpfs at " + host + "/tree/dev along" + why},
		{host + "/tree, readonly: false", "source: " + root + ", readonly: true", "environments.web.rootfs.readonly: a recursive bind of " + host + "/tree brings the host's devtmpfs at " + host + "/tree/dev along" + why},
	} {
		_, err := compileMounts(t, env(c.rootfs, c.bind, ""), rootCaller, extra)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("rootfs %s, bind %s: %v, want %q", c.rootfs, c.bind, err, c.want)
		}
	}
	idmap := "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"
	for _, c := range []struct{ rootfs, bind, more string }{
		{root, "source: /dev, readonly: true", ""},
		{node, "source: /dev/null, readonly: true", ""}, // one node, read-only
		{root, "source: /dev/shm", ""},                  // a tmpfs of its own below /dev (extra says so)
		{host + "/tree, readonly: false, overlay: true", "source: " + root + ", readonly: true", ""},
		{root, "source: " + host + "/dev/sub", idmap},
	} {
		more := c.more
		if more != "" {
			more = strings.Replace(env(c.rootfs, c.bind, ""), "    namespaces: [mnt, pid, net]\n", "    namespaces: [mnt, pid, net, user]\n"+more, 1)
		} else {
			more = env(c.rootfs, c.bind, "")
		}
		if _, err := compileMounts(t, more, rootCaller, extra); err != nil {
			t.Errorf("rootfs %s, bind %s%s: %v", c.rootfs, c.bind, c.more, err)
		}
	}
}
