package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestNestedMountThroughLinkRefused (helper-57's review): a mount whose
// target passes through a symlink of a dir root to below a bind listed
// before it was planned by its path, since nestedMounts goes by the path
// as written: another environment that may write the tree replaced the
// link with a folder of its own before apply resolved it, and a
// read-only bind at /lnk/conf (/lnk -> data) below a writable bind at
// /data went there, so root inside wrote the host's folder it was to
// make read-only (shown with a root test by the review). It is refused
// now, as is a masked or read-only path so spelled; a link that leads
// elsewhere, and the path as it leads, plan.
func TestNestedMountThroughLinkRefused(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"rootfs/bin", "rootfs/data", "rootfs/run", "rootfs/var", "host/conf"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "rootfs/bin/sh"), []byte("#!"), 0o755)
	os.Symlink("data", filepath.Join(dir, "rootfs/lnk"))
	os.Symlink("/lnk", filepath.Join(dir, "rootfs/abs"))
	os.Symlink("../run", filepath.Join(dir, "rootfs/var/run"))
	compile := func(mounts, overlay string) error {
		text := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs" + overlay + "}\n    namespaces: [mnt, pid]\n    mounts:\n      - {type: bind, source: ./host, target: /data}\n" + mounts + "    processes: [{name: main, command: [/bin/sh]}]\n"

		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{Caller: &rootCaller}))
		return err
	}
	for _, c := range []struct {
		mount   string
		refused bool
	}{
		{"{type: bind, source: ./host/conf, target: /lnk/conf, readonly: true}", true},
		{"{type: tmpfs, target: /abs/conf}", true},
		{"{type: bind, source: ./host/conf, target: /lnk, readonly: true}", true},
		{"{type: bind, source: ./host/conf, target: /data/conf, readonly: true}", false},
		{"{type: tmpfs, target: /var/run/x}", false},
		// A masked or read-only path of the root's own, placed by its
		// path after every mount: the same.
		{"security: {masked_paths: [/lnk/conf]}", true},
		{"security: {readonly_paths: [/abs/conf]}", true},
		{"security: {masked_paths: [/data/conf]}", false},
	} {
		m := "      - " + c.mount + "\n"
		if strings.HasPrefix(c.mount, "security") {
			m = "    " + c.mount + "\n"
		}
		err := compile(m, "")
		refused := err != nil && strings.Contains(err.Error(), "leads below the bind at /data")
		if refused != c.refused {
			t.Errorf("%s: refused %v, want %v: %v", c.mount, refused, c.refused, err)
		}
	}
	// An overlaid dir root shows its lower folder's links: the same.
	if err := compile("      - {type: tmpfs, target: /lnk/conf}\n", ", overlay: true"); err == nil || !strings.Contains(err.Error(), "leads below the bind at /data") {
		t.Errorf("an overlaid root: %v, want refused", err)
	}
}
