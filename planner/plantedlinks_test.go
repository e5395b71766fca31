package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlantedLinks: a bind's source, a dir root or a closure's path
// reached through a symlink in a folder an environment of the spec may
// write is refused: root inside planted proj/cache -> /tmp through its
// writable bind of proj, and the next run bound the host's /tmp (a
// review wrote a host file so; a closure's link copied /etc/shadow into
// the tree). The same link in a folder no environment writes, or in one
// bound read-only, is followed as before.
func TestPlantedLinks(t *testing.T) {
	d := t.TempDir()
	for _, p := range []string{"root/src", "root/cache", "root/bin", "proj/bin", "elsewhere", "ro"} {
		os.MkdirAll(filepath.Join(d, p), 0o755)
	}
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(d, "proj/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(d, "elsewhere/secret"), []byte("x\n"), 0o600)
	os.Symlink(filepath.Join(d, "elsewhere"), filepath.Join(d, "proj/cache"))
	os.Symlink(filepath.Join(d, "elsewhere/secret"), filepath.Join(d, "proj/notes"))
	os.Symlink(filepath.Join(d, "elsewhere"), filepath.Join(d, "ro/cache"))
	os.Symlink(filepath.Join(d, "elsewhere"), filepath.Join(d, "linked"))
	env := func(rootfs, mounts string) string {
		return `version: 1
environments:
  dev:
    rootfs: ` + rootfs + `
    namespaces: [mnt, pid]
    mounts: [` + mounts + `]
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	root := "{dir: " + d + "/root}"
	for _, c := range []struct {
		name, rootfs, mounts, want string
	}{
		{"bind through a link in a writable bind", root,
			"{type: bind, source: " + d + "/proj, target: /src}, {type: bind, source: " + d + "/proj/cache, target: /cache}",
			"passes through the symlink " + d + "/proj/cache"},
		{"read-only bind through it too", root,
			"{type: bind, source: " + d + "/proj/cache, target: /cache, readonly: true}, {type: bind, source: " + d + "/proj, target: /src}",
			"environments.dev.mounts[1] lets an environment write"},
		{"a link in a read-only bind", root,
			"{type: bind, source: " + d + "/ro, target: /src, readonly: true}, {type: bind, source: " + d + "/ro/cache, target: /cache}", ""},
		{"a link in no bound folder", root,
			"{type: bind, source: " + d + "/proj, target: /src}, {type: bind, source: " + d + "/linked, target: /cache}", ""},
		{"a writable dir root", "{dir: " + d + "/proj, readonly: false}",
			"{type: bind, source: " + d + "/proj/cache, target: /src}", "environments.dev.rootfs.dir lets an environment write"},
		{"a closure's path", "{closure: [/bin/sh, " + d + "/proj/notes]}",
			"{type: bind, source: " + d + "/proj, target: /src}", "rootfs.closure[1]: " + d + "/proj/notes passes through the symlink"},
	} {
		_, err := compileLimits(t, env(c.rootfs, c.mounts), rootCaller, "hybrid")
		got := ""
		if err != nil {
			got = err.Error()
		}
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %s", c.name, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s: got %q, want an error with %q", c.name, got, c.want)
		}
	}
}
