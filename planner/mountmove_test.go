package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMountsMovable (helper-52's review): a writable bind without
// recursive of a folder with a host mount below it is refused: root
// inside renamed the mount's folder, which its namespace does not see as
// a mount point, and the host's mount moved with it to the path another
// environment bound, which read the host's filesystem in full (done by
// hand with two environments and a tmpfs of the host's). Recursive,
// read-only, or without a mount below, the bind is planned.
func TestMountsMovable(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "hidden"), 0o755)
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "sh"), []byte("#!"), 0o755)
	extra := "999 1 0:99 / " + dir + "/hidden rw,relatime - tmpfs tmpfs rw\n"
	spec := func(source, opts string) string {
		return `version: 1
environments:
  b:
    rootfs: {dir: ` + dir + `}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ` + source + `, target: /w` + opts + `}
    processes:
      - name: main
        command: [/bin/sh]
`
	}
	for _, c := range []struct {
		source, opts string
		refused      bool
	}{
		{dir, ", recursive: false", true},
		{dir, "", false},
		{dir, ", recursive: false, readonly: true", false},
		{dir + "/bin", ", recursive: false", false},
	} {
		_, err := compileMounts(t, spec(c.source, c.opts), rootCaller, extra)
		refused := err != nil && strings.Contains(err.Error(), "leaves out the host's mount at "+dir+"/hidden")
		if refused != c.refused {
			t.Errorf("%s%s: refused %v, want %v: %v", c.source, c.opts, refused, c.refused, err)
		}
	}
}
