package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMountsMovableAncestor (helper-54's review): the kernel refuses to
// rename a mount point of the renamer's own mount namespace, but not a
// folder above one: with a writable bind of a folder, recursive or not,
// root inside renames the folder between the bind's source and a host
// mount below it, and the host's mount moves with it in every namespace,
// the host's too. A bind whose host mount lies right below its source
// (recursive: the rename is refused), or a read-only one, is not refused.
func TestMountsMovableAncestor(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "hidden"), 0o755)
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "sh"), []byte("#!"), 0o755)
	extra := "999 1 0:99 / " + dir + "/a/hidden rw,relatime - tmpfs tmpfs rw\n"
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
		{dir, "", true},
		{dir, ", recursive: false", true},
		{dir, ", readonly: true", false},
		{dir + "/a", "", false},
		{dir + "/a", ", recursive: false", true},
		{dir + "/bin", "", false},
	} {
		_, err := compileMounts(t, spec(c.source, c.opts), rootCaller, extra)
		refused := err != nil && strings.Contains(err.Error(), "host's mount at "+dir+"/a/hidden")
		if refused != c.refused {
			t.Errorf("%s%s: refused %v, want %v: %v", c.source, c.opts, refused, c.refused, err)
		}
	}
}

// TestMountsMovableDirRoot: a writable dir root is bound recursively,
// host mounts below it along: a folder above one of them is renamed by
// root inside as through a writable bind (helper-54's review).
func TestMountsMovableDirRoot(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "hidden"), 0o755)
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "sh"), []byte("#!"), 0o755)
	extra := "999 1 0:99 / " + dir + "/a/hidden rw,relatime - tmpfs tmpfs rw\n"
	for _, ro := range []bool{false, true} {
		text := `version: 1
environments:
  b:
    rootfs: {dir: ` + dir + `, readonly: ` + map[bool]string{false: "false", true: "true"}[ro] + `}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh]
`
		_, err := compileMounts(t, text, rootCaller, extra)
		refused := err != nil && strings.Contains(err.Error(), "host's mount at "+dir+"/a/hidden")
		if refused == ro {
			t.Errorf("readonly: %v: refused %v: %v", ro, refused, err)
		}
	}
}
