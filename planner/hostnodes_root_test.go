package planner

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
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
	devOK, nodev := mount(unix.MS_NOSUID), mount(unix.MS_NOSUID|unix.MS_NODEV)
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
		{"a read-only bind", strings.Replace(env(root, devOK, ""), "target: /data}", "target: /data, readonly: true}", 1), rootCaller, ""},
		{"rootless", env(root, devOK, ""), userCaller, ""},
	} {
		spec := c.spec
		if strings.Contains(c.name, "create") {
			spec = strings.Replace(spec, "target: /data}", "target: /data, create: true}", 1)
		}
		_, err := compileLimits(t, spec, c.caller, "hybrid")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
