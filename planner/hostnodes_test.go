package planner

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMknodHostFolder: with CAP_MKNOD kept outside a user namespace that
// maps root elsewhere, a writable bind of a host folder, and a writable
// dir root, are refused, the environment's own or those of the one whose
// mount namespace it joins: a review made a 0666 /dev/kmsg node in such
// a folder (nodev inside) and a host user wrote the kernel log through
// it; the next left one through a join of the mount namespace by name,
// and through a host mount of the folder's filesystem that is not nodev
// when the source's is; a review of those left one in the joined
// environment's volume, which its spec writes as a volume, not a bind.
// Read-only, or in a user namespace (rootless),
// planned.
func TestMknodHostFolder(t *testing.T) {
	root, data := shRoot(t), t.TempDir()
	env := func(rootfs, source, extra string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + rootfs + `, readonly: false}
    namespaces: [mnt, pid]
    security: {capabilities: {add: [MKNOD]}}
    mounts:
      - {type: bind, source: ` + source + `, target: /data` + extra + `}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	// The root read-only, as by default: the bind is what is looked at.
	bind := func(source, extra string) string {
		return strings.Replace(env(root, source, extra), ", readonly: false}", "}", 1)
	}
	joined := `version: 1
environments:
  a:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ` + data + `, target: /data}
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ` + root + `}
    namespaces: []
    join: {mnt: a, pid: a}
    security: {capabilities: {add: [MKNOD]}}
    processes: [{name: main, command: [/bin/sh]}]
`
	// The volume of the environment whose mount namespace it joins: a
	// review left a 0666 /dev/kmsg node there, and another environment,
	// with the volume bound with dev, wrote the kernel log through it.
	t.Setenv("NSUP_VOLUME_DIR", t.TempDir())
	joinedVolume := "name: p\nvolumes: {data: null}\n" + strings.Replace(joined, "{type: bind, source: "+data+", target: /data}", "{type: volume, source: data, target: /data}", 1)
	// The pid namespace shared with a, a's processes' /proc/PID/root: a
	// review's b made a 0666 /dev/kmsg node in a's writable bind so, and
	// a host user wrote the kernel log through it. Either way round, and
	// with a's dev mount, and by path.
	pidPeer := strings.Replace(strings.Replace(joined, "join: {mnt: a, pid: a}", "join: {pid: a}", 1), "namespaces: []", "namespaces: [mnt]\n    mounts: [{type: proc, target: /proc}]", 1)
	pidOwner := `version: 1
environments:
  a:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid]
    security: {capabilities: {add: [MKNOD]}}
    mounts: [{type: proc, target: /proc}]
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt]
    join: {pid: a}
    mounts: [{type: bind, source: ` + data + `, target: /data}]
    processes: [{name: main, command: [/bin/sh]}]
`
	pidDev := strings.Replace(pidPeer, "target: /data}", "target: /data, readonly: true, options: [dev]}", 1)
	pidPath := strings.Replace(pidPeer, "join: {pid: a}", "join: {pid: /proc/self/ns/pid}", 1)
	const refused = "with CAP_MKNOD kept, root inside can leave a device node of the host's (its disk, /dev/kmsg) in a writable host folder"
	for _, c := range []struct {
		name, spec string
		caller     Caller
		want       string
	}{
		{"a writable bind", bind(data, ""), rootCaller, "l.yaml:8:9: environments.web.mounts[0].readonly: " + refused},
		{"a writable bind, made at apply", bind(data+"/new", ", create: true"), rootCaller, "environments.web.mounts[0].readonly: " + refused},
		{"a writable dir root", env(root, data, ", readonly: true"), rootCaller, "l.yaml:4:13: environments.web.rootfs.readonly: " + refused},
		{"the mounts of the mount namespace it joins", joined, rootCaller, "l.yaml:12:17: environments.b.join.mnt: " + refused},
		{"the volume of the mount namespace it joins", joinedVolume, rootCaller, "a user namespace (a's writable volume data, whose mount namespace it joins)"},
		{"a writable bind of the pid namespace it joins", pidPeer, rootCaller, "a user namespace (a's writable bind of " + data + ", reached through the /proc/PID/root of a's processes, in the pid namespace it shares)"},
		{"a writable bind of an environment that joins its pid namespace", pidOwner, rootCaller, "l.yaml:5:23: environments.a.namespaces: " + refused},
		{"a dev mount of the pid namespace it joins", pidDev, rootCaller, "environments.b.join.pid: with CAP_MKNOD kept, root inside can make a device node of the host's (its disk, /dev/kmsg) and open it in the mounts of a where nodes work"},
		{"a pid namespace joined by path", pidPath, rootCaller, "environments.b.join.pid: with CAP_MKNOD kept, root inside can make a device node of the host's (its disk, /dev/kmsg) and open it in any writable folder of the processes of the pid namespace joined by path"},
		{"a read-only bind", bind(data, ", readonly: true"), rootCaller, ""},
		{"rootless", bind(data, ""), userCaller, ""},
	} {
		_, err := compileLimits(t, c.spec, c.caller, "hybrid")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestReadonlyRootBelow: a read-only dir root makes the host's mounts
// below its folder, which its recursive bind brings along, read-only
// with it, before the spec's mounts, and its own mount writable again
// for their mount points until the root switch: the final
// mount_setattr of / is not recursive, and a review wrote a host tmpfs
// mounted below a read-only root, and left a 0666 /dev/kmsg node in it
// with MKNOD, through which a host user wrote the kernel log.
// TestRootReadonlyRootBelow mounts one. A writable root, or an
// overlay's, is left as it was.
func TestReadonlyRootBelow(t *testing.T) {
	root := shRoot(t)
	spec := func(rootOpt string) string {
		return `version: 1
environments:
  web:
    rootfs: {dir: ` + root + rootOpt + `}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /tmp}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	for _, c := range []struct {
		name, rootOpt string
		want          []string
	}{
		{"read-only", "", []string{"recursive read-only", "own mount writable", "tmpfs", "/ read-only"}},
		{"writable", ", readonly: false", []string{"tmpfs"}},
		{"overlay", ", overlay: true", []string{"tmpfs"}},
	} {
		p, err := compileLimits(t, spec(c.rootOpt), rootCaller, "hybrid")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, st := range p.Environments[0].Steps {
			switch op := st.Op.(type) {
			case MountSetattr:
				switch {
				case op.InRoot && op.Root == root && op.Path == "/" && op.Recursive && op.Set == unix.MOUNT_ATTR_RDONLY:
					got = append(got, "recursive read-only")
				case op.InRoot && op.Root == root && op.Path == "/" && !op.Recursive && op.Clear == unix.MOUNT_ATTR_RDONLY:
					got = append(got, "own mount writable")
				case !op.InRoot && op.Path == "/" && op.Set == unix.MOUNT_ATTR_RDONLY:
					got = append(got, "/ read-only")
				}
			case Mount:
				if op.FSType == "tmpfs" {
					got = append(got, "tmpfs")
				}
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
