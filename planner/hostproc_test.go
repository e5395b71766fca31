package planner

import (
	"strings"
	"testing"
)

// TestHostProcInUserNS: a bind of the host's /proc (or of what is below
// it, or a recursive bind that brings a proc mount along, or a dir root
// of it) is refused in a user namespace too. The kernel checks a
// process's oom_score_adj, autogroup, coredump_filter and clear_refs by
// the file's owner, the process's uid, and no ptrace check: a review of
// the twelfth stop's fixes, from an environment with a pid namespace of
// its own mapping root to 100000, wrote 1000 to the oom_score_adj of a
// host process of uid 100000 (another environment's of the same range:
// the OOM killer's first choice) and nice 19 to its session's
// autogroup. Another bind, /sys's, stays planned there.
func TestHostProcInUserNS(t *testing.T) {
	root := shRoot(t, "/x")
	const idmap = "\n    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}"
	env := func(rootfs, bind string) string { return bindAtX(rootfs, "[user, mnt, pid, net]"+idmap, bind) }
	for _, caller := range []Caller{rootCaller, userCaller} {
		for bind, want := range map[string]string{
			"source: /proc":                      "environments.web.mounts[0].source: /proc is in the host's /proc",
			"source: /proc, recursive: false":    "environments.web.mounts[0].source: /proc is in the host's /proc",
			"source: /proc/self, readonly: true": "environments.web.mounts[0].source: /proc/self is in the host's /proc",
			"source: /, recursive: true":         "environments.web.mounts[0].source: a recursive bind of / brings the host's proc at /proc along",
		} {
			text := env(root, bind)
			if caller.UID != 0 {
				text = strings.Replace(text, idmap, "", 1)
			}
			_, err := compileLimits(t, text, caller, "hybrid")
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("uid %d, %s: %v, want %q", caller.UID, bind, err, want)
			}
		}
		text := strings.Replace(env("/proc", "source: "+root), "rootfs: {dir: /proc}", "rootfs: {dir: /proc, readonly: false}", 1)
		if caller.UID != 0 {
			text = strings.Replace(text, idmap, "", 1)
		}
		if _, err := compileLimits(t, text, caller, "hybrid"); err == nil || !strings.Contains(err.Error(), "environments.web.rootfs.dir: /proc is in the host's /proc") {
			t.Errorf("uid %d, rootfs.dir /proc: %v", caller.UID, err)
		}
		text = env(root, "source: /sys, recursive: false")
		if caller.UID != 0 {
			text = strings.Replace(text, idmap, "", 1)
		}
		if _, err := compileLimits(t, text, caller, "hybrid"); err != nil {
			t.Errorf("uid %d, a bind of /sys: %v", caller.UID, err)
		}
	}
}
