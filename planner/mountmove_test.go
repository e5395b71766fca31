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
	dir := movableRoot(t, "hidden")
	checkBindCases(t, dir, "999 1 0:99 / "+dir+"/hidden rw,relatime - tmpfs tmpfs rw\n", "leaves out the host's mount at "+dir+"/hidden", []bindCase{
		{dir, ", recursive: false", true},
		{dir, "", false},
		{dir, ", recursive: false, readonly: true", false},
		{dir + "/bin", ", recursive: false", false},
	})
}

// TestMountsMovableUserNS: in a user namespace that maps root elsewhere,
// root inside renames a mount's folder only where a uid or gid it maps
// may write its parent: a folder of the host's root (0755) is not, one
// owned by the uid root inside maps to is.
func TestMountsMovableUserNS(t *testing.T) {
	if os.Getuid() != 0 {
		skipOrFail(t, "chown needs root")
	}
	for _, owned := range []bool{false, true} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "d", "hidden"), 0o755)
		os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
		os.WriteFile(filepath.Join(dir, "bin", "sh"), []byte("#!"), 0o755)
		if owned {
			if err := os.Chown(filepath.Join(dir, "d"), 100000, 100000); err != nil {
				t.Fatal(err)
			}
		}
		extra := "999 1 0:99 / " + dir + "/d/hidden rw,relatime - tmpfs tmpfs rw\n"
		text := `version: 1
environments:
  b:
    rootfs: {dir: ` + dir + `}
    namespaces: [user, mnt, pid]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
    mounts:
      - {type: bind, source: ` + dir + `/d, target: /w, recursive: false}
    processes:
      - name: main
        command: [/bin/sh]
`
		_, err := compileMounts(t, text, rootCaller, extra)
		refused := err != nil && strings.Contains(err.Error(), "leaves out the host's mount at "+dir+"/d/hidden")
		if refused != owned {
			t.Errorf("parent owned by a mapped uid %v: refused %v: %v", owned, refused, err)
		}
	}
}

// movableRoot is a dir root holding /bin/sh and the folder hidden, where
// the tests list a host mount, and the root's path.
func movableRoot(t *testing.T, hidden string) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, hidden), 0o755)
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "sh"), []byte("#!"), 0o755)
	return dir
}

// bindCase is one writable bind at /w: its source and its options, and
// whether the planner is to refuse it.
type bindCase struct {
	source, opts string
	refused      bool
}

// checkBindCases plans each case in a dir root at dir, with extra in the
// host's mount table, and checks that it is refused, naming want, exactly
// where the case says.
func checkBindCases(t *testing.T, dir, extra, want string, cases []bindCase) {
	t.Helper()
	for _, c := range cases {
		text := `version: 1
environments:
  b:
    rootfs: {dir: ` + dir + `}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ` + c.source + `, target: /w` + c.opts + `}
    processes:
      - name: main
        command: [/bin/sh]
`
		_, err := compileMounts(t, text, rootCaller, extra)
		refused := err != nil && strings.Contains(err.Error(), want)
		if refused != c.refused {
			t.Errorf("%s%s: refused %v, want %v: %v", c.source, c.opts, refused, c.refused, err)
		}
	}
}
