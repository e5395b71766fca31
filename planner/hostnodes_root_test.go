package planner

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestRootMknodHostFolder: with CAP_MKNOD kept, a writable bind of a host
// folder whose filesystem the host mounts without nodev is refused
// outside a user namespace, and so is a writable dir root there: a review
// made a 0666 /dev/kmsg node in such a folder (nodev inside) and a host
// user wrote the kernel log through it. On a nodev filesystem, or
// read-only, or in a user namespace (rootless), planned. Root only: it
// mounts two tmpfs in temporary folders, one nodev, and unmounts them.
func TestRootMknodHostFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "mounts a tmpfs: needs root")
	}
	root := shRoot(t)
	mount := func(flags uintptr) string {
		dir := t.TempDir()
		if err := unix.Mount("nsup-test", dir, "tmpfs", flags, "size=1m"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
		return dir
	}
	devOK, nodev, outer := mount(unix.MS_NOSUID), mount(unix.MS_NOSUID|unix.MS_NODEV), mount(unix.MS_NOSUID|unix.MS_NODEV)
	// A nodev folder with a mount below it where nodes work: a
	// recursive bind brings it along.
	if err := os.Mkdir(outer+"/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("nsup-test", outer+"/sub", "tmpfs", unix.MS_NOSUID, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(outer+"/sub", unix.MNT_DETACH) })
	env := func(rootfs, bind, extra string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + rootfs + `` + extra + `}
    namespaces: [mnt, pid]
    security: {capabilities: {add: [MKNOD]}}
    mounts:
      - {type: bind, source: ` + bind + `, target: /data}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	const refused = "with CAP_MKNOD kept, root inside can leave a device node of the host's (its disk, /dev/kmsg) in this host folder"
	os.MkdirAll(devOK+"/bin", 0o755)
	os.WriteFile(devOK+"/bin/sh", []byte("#!"), 0o755)
	for _, c := range []struct {
		name, spec string
		caller     Caller
		want       string
	}{
		{"a writable bind", env(root, devOK, ""), rootCaller, "l.yaml:8:9: environments.web.mounts[0].readonly: " + refused},
		{"a writable bind, missing (create)", env(root, devOK+"/new/folder", ""), rootCaller, "environments.web.mounts[0].readonly: " + refused},
		{"a writable dir root", env(devOK, nodev, ", readonly: false"), rootCaller, "l.yaml:4:13: environments.web.rootfs.readonly: " + refused},
		{"a writable bind on nodev", env(root, nodev, ""), rootCaller, ""},
		{"a writable recursive bind on nodev, a mount below it without", env(root, outer, ""), rootCaller, "environments.web.mounts[0].readonly: " + refused},
		{"the same, not recursive", strings.Replace(env(root, outer, ""), "target: /data}", "target: /data, recursive: false}", 1), rootCaller, ""},
		{"a read-only bind", strings.Replace(env(root, devOK, ""), "target: /data}", "target: /data, readonly: true}", 1), rootCaller, ""},
		{"rootless", env(root, devOK, ""), userCaller, ""},
	} {
		spec := c.spec
		if strings.Contains(c.name, "create") {
			spec = strings.Replace(spec, "target: /data}", "target: /data, create: true}", 1)
		}
		_, err := compileRealMounts(t, spec, c.caller)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// compileRealMounts is compileLimits with the hybrid layout's groups and
// the host's own mount table (the layout's is a fixed file).
func compileRealMounts(t *testing.T, text string, caller Caller) (*Plan, error) {
	t.Helper()
	s, err := spec.ParseBytes("l.yaml", t.TempDir(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &caller})
	o.Cgroups = func() (*cgroup.Layout, error) {
		l, err := cgroup.Discover(os.DirFS("cgroup/testdata/hybrid"))
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile("/proc/self/mountinfo")
		l.Mounts = cgroup.Mounts(b)
		return l, err
	}
	return Compile(s, o)
}
