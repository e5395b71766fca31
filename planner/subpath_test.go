package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBindSubpath: a bind's subpath stays within its source once the
// symlinks below the source are followed, as the kubelet keeps a subPath
// within its volume (CVE-2017-1002101): a link in the shared folder that
// leads out (app -> the host's secrets), or one that leads nowhere (apply
// would make the folder where it leads), is refused at plan time at the
// subpath's mount; a link that stays inside, a missing folder to create,
// and a source reached through a link of its own are fine. The import of
// a Pod's subPath bound wherever such a link led.
func TestBindSubpath(t *testing.T) {
	d := t.TempDir()
	for _, p := range []string{"root/bin", "shared/real/conf", "secrets", "alias-target"} {
		os.MkdirAll(filepath.Join(d, p), 0o755)
	}
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink(filepath.Join(d, "secrets"), filepath.Join(d, "shared/out"))
	os.Symlink("../secrets", filepath.Join(d, "shared/rel"))
	os.Symlink("real", filepath.Join(d, "shared/in"))
	os.Symlink(filepath.Join(d, "nowhere"), filepath.Join(d, "shared/dangling"))
	os.Symlink(filepath.Join(d, "shared"), filepath.Join(d, "alias"))
	env := func(mount string) string {
		return `version: 1
environments:
  dev:
    rootfs: {dir: ` + d + `/root}
    namespaces: [mnt, pid]
    mounts:
      - ` + mount + `
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	for _, c := range []struct{ name, mount, want string }{
		{"a link out", "{type: bind, source: " + d + "/shared, subpath: out, target: /c, readonly: true}",
			"l.yaml:7:9: environments.dev.mounts[0].subpath: " + d + "/shared/out leads to " + d + "/secrets, outside its source"},
		{"a relative link out, below", "{type: bind, source: " + d + "/shared, subpath: rel/x, target: /c, create: true}",
			"environments.dev.mounts[0].subpath: " + d + "/shared/rel/x passes through the symlink " + d + "/shared/rel"},
		{"a link that leads nowhere", "{type: bind, source: " + d + "/shared, subpath: dangling, target: /c, create: true}",
			"passes through the symlink " + d + "/shared/dangling"},
		{"a link that stays inside", "{type: bind, source: " + d + "/shared, subpath: in/conf, target: /c}", ""},
		{"a folder to make", "{type: bind, source: " + d + "/shared, subpath: new/dir, target: /c, create: true}", ""},
		{"a source through a link of its own", "{type: bind, source: " + d + "/alias, subpath: real/conf, target: /c}", ""},
		{"a link out of a source through a link", "{type: bind, source: " + d + "/alias, subpath: out, target: /c}", "outside its source " + d + "/alias (" + d + "/shared)"},
	} {
		_, err := compileLimits(t, env(c.mount), rootCaller, "hybrid")
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
