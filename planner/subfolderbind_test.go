package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestSubfolderBoundReadonlyRefused (helper-68's review): a read-only
// bind of a host folder onto its own place in a subfolder of a writable
// bind of its parent is refused (TestRootSubfolderMountRenamed); one
// directly in the bound folder, one of another source, one below a
// subfolder bound itself, or below a read-only bind, plans.
func TestSubfolderBoundReadonlyRefused(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"rootfs/bin", "rootfs/data", "host/a/b", "host/c", "other"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "rootfs/bin/sh"), []byte("#!"), 0o755)
	os.Symlink("host", filepath.Join(dir, "lnk"))
	compile := func(mounts string) error {
		text := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt, pid]\n    mounts:\n" + mounts +
			"    processes: [{name: main, command: [/bin/sh]}]\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{Caller: &rootCaller}))
		return err
	}
	const bind = "      - {type: bind, source: ./host, target: /data}\n"
	for _, c := range []struct{ mounts, want string }{
		{bind + "      - {type: bind, source: ./host/a/b, target: /data/a/b, readonly: true}\n", "lies in /data/a, a subfolder of the writable bind at /data"},
		{bind + "      - {type: bind, source: ./lnk/a/b, target: /data/a/b, readonly: true}\n", "could rename /data/a"},
		{bind + "      - {type: bind, source: ./host/c, target: /data/c, readonly: true}\n", ""},
		{bind + "      - {type: bind, source: ./other, target: /data/a/b, readonly: true}\n", ""},
		{bind + "      - {type: bind, source: ./host/a, target: /data/a}\n      - {type: bind, source: ./host/a/b, target: /data/a/b, readonly: true}\n", ""},
		{"      - {type: bind, source: ./host, target: /data, readonly: true}\n      - {type: bind, source: ./host/a/b, target: /data/a/b, readonly: true}\n", ""},
	} {
		err := compile(c.mounts)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want planned", c.mounts, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want refused: %q", c.mounts, err, c.want)
		}
	}
}
