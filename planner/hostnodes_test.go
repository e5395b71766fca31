package planner

import (
	"strings"
	"testing"
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
