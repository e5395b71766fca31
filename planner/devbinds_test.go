package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// compileMounts compiles text on the hybrid cgroup layout whose mount
// table has extra lines too (a host with devtmpfs, devpts or mqueue
// mounted where the test says).
func compileMounts(t *testing.T, text string, caller Caller, extra string) (*Plan, error) {
	t.Helper()
	s, err := spec.ParseBytes("l.yaml", t.TempDir(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return Compile(s, hybridOptions(t, Options{CacheDir: "/var/cache/nsup", Caller: &caller}, extra))
}

// hybridOptions is fixedOptions of o on the hybrid cgroup layout whose
// mount table has extra lines too.
func hybridOptions(t *testing.T, o Options, extra string) Options {
	fsys := t.TempDir()
	hybrid, err := filepath.Abs("cgroup/testdata/hybrid")
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.ReadFile(hybrid + "/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	cg, err := os.ReadFile(hybrid + "/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(fsys+"/proc/self", 0o755)
	os.WriteFile(fsys+"/proc/self/mountinfo", append(mi, extra...), 0o644)
	os.WriteFile(fsys+"/proc/self/cgroup", cg, 0o644)
	os.Symlink(hybrid+"/sys", fsys+"/sys")
	o = fixedOptions(o)
	o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS(fsys)) }
	return o
}

// TestDevBinds: outside a user namespace, the option dev on a bind of a
// folder of the host's devices (in /dev, on a devtmpfs or devpts
// wherever it is mounted, or a recursive bind that brings one along) is
// refused, read-only or not, and rootfs.dev on a dir root that is or
// holds one: every device of the host's opens there without CAP_MKNOD (a
// review wrote the host's kernel log through /hostdev/kmsg, a read-only
// bind of /dev with dev; devtmpfs reports a tmpfs's magic, so kernelFS
// missed it). A bind of one node with dev (docker's --device), and the
// same binds nodev, are planned; in a user namespace the same are
// refused (TestHostNodesInUserNS) but the host's devpts brought along
// nodev.
func TestDevBinds(t *testing.T) {
	root := shRoot(t)
	env := func(rootfs, bind string) string { return bindAtX(rootfs, "[mnt, pid, net]", bind) }
	// A host whose devtmpfs is mounted at host/dev and inside tree, its
	// devpts in pts, and an mqueue in mq.
	host, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"dev/sub", "dev/bin", "tree/bin", "tree/dev", "pts/pts", "mq/mqueue"} {
		os.MkdirAll(filepath.Join(host, d), 0o755)
	}
	os.WriteFile(host+"/tree/bin/sh", []byte("#!"), 0o755)
	os.WriteFile(host+"/dev/bin/sh", []byte("#!"), 0o755)
	os.WriteFile(host+"/dev/node", nil, 0o644) // a node of that devtmpfs
	link := filepath.Join(t.TempDir(), "hostdev")
	os.Symlink("/dev", link)
	extra := "90 27 0:6 / " + host + "/dev rw,relatime - devtmpfs devtmpfs rw\n" +
		"91 27 0:6 / " + host + "/tree/dev rw,relatime - devtmpfs devtmpfs rw\n" +
		"92 27 0:24 / " + host + "/pts/pts rw,relatime - devpts devpts rw\n" +
		"93 27 0:19 / " + host + "/mq/mqueue rw,relatime - mqueue mqueue rw\n"
	const why = ": with dev, root inside would open every device of the host's"
	for _, c := range []struct{ rootfs, bind, want string }{
		{root, "source: /dev, readonly: true, options: [dev]", "environments.web.mounts[0].options: /dev is a folder of the host's /dev" + why},
		{root, "source: /dev, options: [dev]", "environments.web.mounts[0].options: /dev is a folder of the host's /dev" + why},
		{root, "source: /dev/nsup-missing, create: true, options: [dev]", "environments.web.mounts[0].options: /dev/nsup-missing is a folder of the host's /dev" + why},
		{root, "source: " + link + ", readonly: true, options: [dev]", "environments.web.mounts[0].options: " + link + " (/dev) is a folder of the host's /dev" + why},
		{root, "source: " + host + "/dev, readonly: true, options: [dev]", "environments.web.mounts[0].options: " + host + "/dev is a folder of the host's devtmpfs mounted at " + host + "/dev" + why},
		{root, "source: " + host + "/dev/sub, readonly: true, options: [dev]", "environments.web.mounts[0].options: " + host + "/dev/sub is a folder of the host's devtmpfs mounted at " + host + "/dev" + why},
		{root, "source: " + host + "/pts/pts, readonly: true, options: [dev]", "environments.web.mounts[0].options: " + host + "/pts/pts is a folder of the host's devpts"},
		{root, "source: " + host + "/tree, recursive: true, readonly: true, options: [dev]", "environments.web.mounts[0].options: a recursive bind of " + host + "/tree brings the host's devtmpfs at " + host + "/tree/dev along" + why},
		// The root is bound recursively as the environment's /.
		{host + "/tree, dev: true", "source: " + root, "environments.web.rootfs.dev: a recursive bind of " + host + "/tree brings the host's devtmpfs at " + host + "/tree/dev along" + why},
		{host + "/dev, dev: true", "source: " + root, "environments.web.rootfs.dev: " + host + "/dev is a folder of the host's devtmpfs"},
		// devpts and mqueue are not brought along by a recursive bind,
		// dev or not.
		{root, "source: " + host + "/pts, recursive: true, readonly: true", "environments.web.mounts[0].source: a recursive bind of " + host + "/pts brings the host's devpts at " + host + "/pts/pts along"},
		{root, "source: " + host + "/mq, recursive: true", "environments.web.mounts[0].source: a recursive bind of " + host + "/mq brings the host's mqueue at " + host + "/mq/mqueue along"},
	} {
		_, err := compileMounts(t, env(c.rootfs, c.bind), rootCaller, extra)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("rootfs %s, bind %s: %v, want %q", c.rootfs, c.bind, err, c.want)
		}
		// In a user namespace too (TestHostNodesInUserNS), but for the
		// host's devpts brought along nodev: its nodes do not open.
		_, err = compileMounts(t, env(c.rootfs, c.bind), userCaller, extra)
		if planned := strings.HasSuffix(c.bind, "/pts, recursive: true, readonly: true"); planned != (err == nil) {
			t.Errorf("rootfs %s, bind %s in a user namespace (rootless): %v", c.rootfs, c.bind, err)
		}
	}
	for _, c := range []struct{ rootfs, bind string }{
		{root, "source: /dev/null, readonly: true, options: [dev]"}, // one device, as --device gives
		{root, "source: " + host + "/dev/node, readonly: true, options: [dev]"},
		{root, "source: /dev, readonly: true"}, // nodev
		{root, "source: " + host + "/dev, readonly: true"},
		{root, "source: " + host + "/tree, recursive: false, readonly: true, options: [dev]"}, // not recursive: its /dev is the folder below the mount
		{root, "source: " + root + ", readonly: true, options: [dev]"},
		{host + "/tree", "source: " + root},                           // nodev
		{host + "/tree, overlay: true, dev: true", "source: " + root}, // an overlay's lower shows no mount below it
	} {
		if _, err := compileMounts(t, env(c.rootfs, c.bind), rootCaller, extra); err != nil {
			t.Errorf("rootfs %s, bind %s: %v", c.rootfs, c.bind, err)
		}
	}
}

// bindAtX is a spec of one environment, web, on the rootfs folder, in
// namespaces (a YAML list, and any key after it), with one bind at /x
// whose keys but type and target are bind.
func bindAtX(rootfs, namespaces, bind string) string {
	return `version: 1
environments:
  web:
    rootfs: {dir: ` + rootfs + `}
    namespaces: ` + namespaces + `
    mounts:
      - {type: bind, target: /x, ` + bind + `}
    processes: [{name: main, command: [/bin/sh]}]
`
}
