package planner

import (
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
	dir := movableRoot(t, "a/hidden")
	checkBindCases(t, dir, "999 1 0:99 / "+dir+"/a/hidden rw,relatime - tmpfs tmpfs rw\n", "host's mount at "+dir+"/a/hidden", []bindCase{
		{dir, "", true},
		{dir, ", recursive: false", true},
		{dir, ", readonly: true", false},
		{dir + "/a", "", false},
		{dir + "/a", ", recursive: false", true},
		{dir + "/bin", "", false},
	})
}

// TestMountsMovableDirRoot: a writable dir root is bound recursively,
// host mounts below it along: a folder above one of them is renamed by
// root inside as through a writable bind (helper-54's review).
func TestMountsMovableDirRoot(t *testing.T) {
	dir := movableRoot(t, "a/hidden")
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
