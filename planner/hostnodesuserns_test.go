package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostNodesInUserNS: in a user namespace that maps root elsewhere
// (the root's idmap to 100000, or rootless: the caller's own uid), the
// option dev on a bind of a folder of the host's devices, and a bind of
// the host's mqueue (or a recursive one bringing it along), are refused
// as outside one. The kernel checks a terminal, a device node and a
// message queue by its owner (and ACL): root inside is every uid it
// maps. A review of the fixes that refused the host's /proc there, from
// an environment mapping root to 100000 with {type: bind, source:
// /dev/pts, options: [dev]}, read a line typed into a host terminal of
// uid 100000 (another environment's, or, rootless, the user's own: its
// sudo password) and wrote into it. A bind of the host's devpts nodev (a
// node there does not open), and one node with dev, stay planned.
func TestHostNodesInUserNS(t *testing.T) {
	root, node := shRoot(t, "/x"), nodeRoot(t, "/x")
	const idmap = "\n    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}"
	env := func(bind string, caller Caller) string {
		rootfs := root
		if strings.HasPrefix(bind, "source: /dev/null") {
			rootfs = node // one node is bound on a file
		}
		text := bindAtX(rootfs, "[user, mnt, pid, net]"+idmap, bind)
		if caller.UID != 0 {
			text = strings.Replace(text, idmap, "", 1)
		}
		return text
	}
	host, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"pts/pts", "mq/mqueue", "dev/sub"} {
		os.MkdirAll(filepath.Join(host, d), 0o755)
	}
	extra := "92 27 0:24 / " + host + "/pts/pts rw,relatime - devpts devpts rw\n" +
		"93 27 0:19 / " + host + "/mq/mqueue rw,relatime - mqueue mqueue rw\n" +
		"94 27 0:6 / " + host + "/dev rw,relatime - devtmpfs devtmpfs rw\n"
	for _, caller := range []Caller{rootCaller, userCaller} {
		for _, c := range []struct{ bind, want string }{
			{"source: " + host + "/pts/pts, options: [dev]", "environments.web.mounts[0].options: " + host + "/pts/pts is a folder of the host's devpts"},
			{"source: " + host + "/pts, recursive: true, options: [dev]", "environments.web.mounts[0].options: a recursive bind of " + host + "/pts brings the host's devpts at " + host + "/pts/pts along"},
			{"source: /dev/pts, options: [dev]", "environments.web.mounts[0].options: /dev/pts is a folder of the host's /dev"},
			{"source: /dev, readonly: true, options: [dev]", "environments.web.mounts[0].options: /dev is a folder of the host's /dev"},
			{"source: " + host + "/dev/sub, options: [dev]", "environments.web.mounts[0].options: " + host + "/dev/sub is a folder of the host's devtmpfs"},
			{"source: " + host + "/mq/mqueue", "environments.web.mounts[0].source: " + host + "/mq/mqueue is a folder of the host's mqueue"},
			{"source: " + host + "/mq, recursive: true, readonly: true", "environments.web.mounts[0].source: a recursive bind of " + host + "/mq brings the host's mqueue at " + host + "/mq/mqueue along"},
		} {
			_, err := compileMounts(t, env(c.bind, caller), caller, extra)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("uid %d, %s: %v, want %q", caller.UID, c.bind, err, c.want)
			}
		}
		for _, bind := range []string{
			"source: " + host + "/pts/pts",                         // nodev
			"source: " + host + "/pts, recursive: true",            // nodev
			"source: /dev, readonly: true",                         // nodev
			"source: /dev/null, options: [dev]",                    // one node
			"source: " + host + "/mq, recursive: false",            // the folder, not the mount below it
			"source: " + root + ", readonly: true, options: [dev]", // no device there
		} {
			if _, err := compileMounts(t, env(bind, caller), caller, extra); err != nil {
				t.Errorf("uid %d, %s: %v", caller.UID, bind, err)
			}
		}
	}
}
