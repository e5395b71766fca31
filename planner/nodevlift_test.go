package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestNodevLiftedRefused: in a user namespace that maps root elsewhere,
// a bind of a folder of the host's devices without the option dev is
// nodev, which root inside that keeps CAP_SYS_ADMIN there lifts (mount
// -o remount,bind,dev: nsup set the flag in the environment's own mount
// namespace, where the kernel locks none). helper-128's review, as root
// with root mapped to 100000 and /dev bound read-only: a host node of
// uid 100000, mode 0600, refused a write before the remount and took it
// after. Refused as the option dev is (userNSDevWhy); rootless too, for
// the joiner of a mount namespace by name, and for a dir root; one node,
// a tmpfs of the host's /dev (/dev/shm), or no SYS_ADMIN plan.
func TestNodevLiftedRefused(t *testing.T) {
	root, node := shRoot(t, "/x"), nodeRoot(t, "/x")
	const idmap = "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"
	const sysAdmin = "    security: {capabilities: {add: [SYS_ADMIN]}}\n"
	const want = "environments.web.mounts[0]: /dev/pts is a folder of the host's /dev: root inside keeps CAP_SYS_ADMIN in its user namespace"
	for _, c := range []struct {
		name, bind, more string
		caller           Caller
		want             string
	}{
		{"readonly", "source: /dev/pts, readonly: true", idmap + sysAdmin, rootCaller, want},
		{"writable", "source: /dev/pts", idmap + sysAdmin, rootCaller, want},
		{"rootless", "source: /dev/pts, readonly: true", sysAdmin, userCaller, want},
		{"dev folder", "source: /dev, readonly: true", idmap + sysAdmin, rootCaller, "environments.web.mounts[0]: /dev is a folder of the host's /dev: root inside keeps"},
		{"one node", "source: /dev/null, readonly: true", idmap + sysAdmin, rootCaller, ""},
		{"no SYS_ADMIN", "source: /dev/pts, readonly: true", idmap, rootCaller, ""},
		{"rootless, no SYS_ADMIN", "source: /dev/pts, readonly: true", "", userCaller, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rootfs := root
			if strings.HasPrefix(c.bind, "source: /dev/null") {
				rootfs = node // one node is bound on a file
			}
			_, err := compileMounts(t, bindAtX(rootfs, "[user, mnt, pid, net]", c.bind)+c.more, c.caller, "")
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%v, want planned", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "mount -o remount,bind,dev")):
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
}

// TestNodevLiftedJoined: b, joining by name the user and mount namespaces
// of a (root mapped elsewhere, no SYS_ADMIN), with SYS_ADMIN kept, lifts
// the nodev flag of a's bind of /dev/pts, read-only or not: refused at
// b's capability; without SYS_ADMIN b plans.
func TestNodevLiftedJoined(t *testing.T) {
	root := shRoot(t, "/x")
	text := `version: 1
environments:
  a:
    rootfs: {dir: ` + root + `}
    namespaces: [user, mnt, pid]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
    mounts:
      - {type: bind, source: /dev/pts, target: /x, readonly: true}
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ` + root + `}
    join: {user: a, mnt: a}
    namespaces: [pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    processes: [{name: main, command: [/bin/sh]}]
`
	const want = "l.yaml:14:37: environments.b.security.capabilities.add: /dev/pts is a folder of the host's /dev: root inside keeps CAP_SYS_ADMIN"
	for _, c := range []struct{ name, text, want string }{
		{"readonly", text, want},
		{"writable", strings.Replace(text, ", readonly: true}", "}", 1), want},
		{"no SYS_ADMIN", strings.Replace(text, "SYS_ADMIN", "NET_ADMIN", 1), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := compileMounts(t, c.text, rootCaller, "")
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%v, want planned", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "which this environment joins")):
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
}

// TestLiftedWayOut: with SYS_ADMIN kept in a user namespace, the checks
// of a writable mount advised "make this mount read-only", which root
// inside lifts: a read-only bind of a folder holding nsup's cache was
// refused so (helper-128's review, rootless, the cache in the user's
// home), a writable one told to take a way out refused the same. They
// advise a read-only mount with SYS_ADMIN dropped now (helper-129's
// review: told only to drop SYS_ADMIN, the writable one was refused
// still); without it, the read-only mount still.
func TestLiftedWayOut(t *testing.T) {
	root := shRoot(t, "/x")
	const sysAdmin = "    security: {capabilities: {add: [SYS_ADMIN]}}\n"
	const drop, ro = "drop SYS_ADMIN and mount this read-only", "make this mount read-only"
	for _, c := range []struct{ name, bind, more, want, not string }{
		{"readonly", "source: /var/cache, readonly: true", sysAdmin, drop, ro},
		{"writable", "source: /var/cache", sysAdmin, drop, ro},
		{"writable, no SYS_ADMIN", "source: /var/cache", "", ro, drop},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := compileMounts(t, bindAtX(root, "[user, mnt, pid, net]", c.bind)+c.more, rootCaller, "")
			if err == nil || !strings.Contains(err.Error(), "holds nsup's cache /var/cache/nsup") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.not) {
				t.Errorf("%v, want %q and not %q", err, c.want, c.not)
			}
		})
	}
}

// TestLiftedDevWayOut: a writable bind of a host's device node, with
// SYS_ADMIN kept in a user namespace that maps root to the host's, was
// told "make it readonly: true", which is refused the same
// (TestLiftedDevNodeRefused): it is told to drop SYS_ADMIN with it now.
func TestLiftedDevWayOut(t *testing.T) {
	root := nodeRoot(t, "/x")
	_, err := compileMounts(t, bindAtX(root, "[user, mnt, pid, net]", "source: /dev/null")+"    security: {capabilities: {add: [SYS_ADMIN]}}\n", rootCaller, "")
	if err == nil || !strings.Contains(err.Error(), "/dev/null is a device node of the host's") || !strings.Contains(err.Error(), "drop SYS_ADMIN and say readonly: true") || strings.Contains(err.Error(), "make it readonly: true") {
		t.Errorf("%v, want the way out drop SYS_ADMIN", err)
	}
}

// TestLiftedWayOutBindAndRoot: with SYS_ADMIN kept in a user namespace
// that maps root to the host's, a writable bind with a host mount below
// a folder of its own was told "make the bind read-only", and a writable
// dir root holding the host's devtmpfs "make the root read-only or
// overlaid": read-only alone, both are refused the same
// (TestLiftedMountsMovable, TestLiftedDevNodeRefused). helper-129's
// review: they advise a read-only one with SYS_ADMIN dropped now.
func TestLiftedWayOutBindAndRoot(t *testing.T) {
	const sysAdmin = "    security: {capabilities: {add: [SYS_ADMIN]}}\n"
	dir, devs := movableRoot(t, "d/hidden"), movableRoot(t, "dev")
	extra := "999 1 0:99 / " + dir + "/d/hidden rw,relatime - tmpfs tmpfs rw\n" +
		"998 1 0:6 / " + devs + "/dev rw,relatime - devtmpfs devtmpfs rw\n"
	root := shRoot(t, "/x")
	for _, c := range []struct{ name, yaml, want, not string }{
		{"bind", bindAtX(root, "[user, mnt, pid, net]", "source: "+dir), "drop SYS_ADMIN and mount the bind read-only", "make the bind read-only"},
		{"root", bindAtX(devs+", readonly: false", "[user, mnt, pid, net]", "source: "+root+", readonly: true"), "make the root overlaid, or drop SYS_ADMIN and say readonly: true", "make the root read-only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := compileMounts(t, c.yaml+sysAdmin, rootCaller, extra)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.not) {
				t.Errorf("%v, want %q and not %q", err, c.want, c.not)
			}
		})
	}
}

// TestSharedUserMountsLifted: b keeps SYS_ADMIN in the user namespace
// that owns a's mount namespace, which b does not join: joining a's user
// namespace by name (as root, root mapped to 100000), or a's pod's
// (rootless, b joining a's network namespace). A process of a hands b
// its /proc/self/ns/mnt, and b enters it (helper-128's review: b
// unmounted the read-only bind a's plan put over nsup.yaml and wrote
// it). a's mounts are checked as a joined mount namespace's: refused at
// b's capability; with a user namespace of b's own, or without
// SYS_ADMIN, b plans.
func TestSharedUserMountsLifted(t *testing.T) {
	root := shRoot(t, "/x")
	text := `version: 1
environments:
  a:
    rootfs: {dir: ` + root + `}
    namespaces: [user, mnt, pid, net]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
    mounts:
      - {type: bind, source: ., target: /x}
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ` + root + `}
    join: {user: a}
    namespaces: [mnt, pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    processes: [{name: main, command: [/bin/sh]}]
`
	pod := strings.Replace(strings.Replace(text, "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n", "", 1), "join: {user: a}", "join: {net: a}", 1)
	// The other order: b, planned after a, is the one whose mounts a's
	// root inside lifts (helper-128's review left it unchecked).
	reverse := `version: 1
environments:
  a:
    rootfs: {dir: ` + root + `}
    namespaces: [user, mnt, pid, net]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
    security: {capabilities: {add: [SYS_ADMIN]}}
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ` + root + `}
    join: {user: a}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ., target: /x}
    processes: [{name: main, command: [/bin/sh]}]
`
	const want = "environments.b.security.capabilities.add: "
	const why = "in a's mount namespace, which belongs to the user namespace root inside here keeps CAP_SYS_ADMIN in"
	const wantA = "environments.a.security.capabilities.add: "
	const whyA = "in b's mount namespace, which belongs to the user namespace root inside here keeps CAP_SYS_ADMIN in"
	for _, c := range []struct {
		name, text string
		caller     Caller
		want, why  string
	}{
		{"user joined", text, rootCaller, "l.yaml:14:37: " + want, why},
		{"user joined, planned after", reverse, rootCaller, "l.yaml:7:37: " + wantA, whyA},
		{"user joined, planned after, no SYS_ADMIN", strings.Replace(reverse, "SYS_ADMIN", "NET_ADMIN", 1), rootCaller, "", ""},
		{"rootless pod", pod, userCaller, "l.yaml:13:37: " + want, why},
		{"own user namespace", strings.Replace(text, "    join: {user: a}\n    namespaces: [mnt, pid]", "    namespaces: [user, mnt, pid]", 1), rootCaller, "", ""},
		{"no SYS_ADMIN", strings.Replace(text, "SYS_ADMIN", "NET_ADMIN", 1), rootCaller, "", ""},
		{"rootless pod, no SYS_ADMIN", strings.Replace(pod, "SYS_ADMIN", "NET_ADMIN", 1), userCaller, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The spec in the folder a binds writable: its plan puts a
			// read-only bind over l.yaml.
			file := filepath.Join(t.TempDir(), "l.yaml")
			if err := os.WriteFile(file, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := spec.Parse(file)
			if err != nil {
				t.Fatal(err)
			}
			s.File = "l.yaml"
			caller := c.caller
			_, err = Compile(s, fixedOptions(Options{Caller: &caller, CacheDir: "/var/cache/nsup"}))
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%v, want planned", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want+file+", which nsup reads to plan this spec") || !strings.Contains(err.Error(), c.why)):
				t.Errorf("%v, want %q and %q", err, c.want, c.why)
			}
		})
	}
}

// TestNodevLiftedJoinedOverlayRoot: an overlaid dir root on the host's
// devtmpfs is nodev, which root inside keeping SYS_ADMIN lifts as it
// does a bind's (nodevLifted refuses the environment's own). b, joining
// a's user and mount namespaces with SYS_ADMIN, lifted a's: liftedDirRoot
// left an overlaid root out before its nodev check (helper-129's
// review). Refused at b's capability now; without SYS_ADMIN b plans.
func TestNodevLiftedJoinedOverlayRoot(t *testing.T) {
	devs := movableRoot(t, "x")
	extra := "998 1 0:6 / " + devs + " rw,relatime - devtmpfs devtmpfs rw\n"
	const idmap = "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"
	own := `version: 1
environments:
  a:
    rootfs: {dir: ` + devs + `, overlay: true}
    namespaces: [user, mnt, pid]
` + idmap + `    security: {capabilities: {add: [SYS_ADMIN]}}
    processes: [{name: main, command: [/bin/sh]}]
`
	joined := strings.Replace(own, "    security: {capabilities: {add: [SYS_ADMIN]}}\n", "", 1) + `  b:
    rootfs: {dir: ` + devs + `}
    join: {user: a, mnt: a}
    namespaces: [pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    processes: [{name: main, command: [/bin/sh]}]
`
	const why = " is a folder of the host's devtmpfs mounted at "
	for _, c := range []struct{ name, text, want string }{
		{"own", own, "environments.a.rootfs.dir: " + devs + why},
		{"joined", joined, "environments.b.security.capabilities.add: " + devs + why},
		{"joined, no SYS_ADMIN", strings.Replace(joined, "SYS_ADMIN", "NET_ADMIN", 1), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := compileMounts(t, c.text, rootCaller, extra)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%v, want planned", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "mount -o remount,bind,dev")):
				t.Errorf("%v, want %q", err, c.want)
			}
		})
	}
}
