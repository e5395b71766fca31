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
		// A target that is itself the link is placed where it leads,
		// /data, written so in the plan (targetLinks): no link is
		// followed at apply, which a writer of the tree could replace.
		{"{type: bind, source: ./host/conf, target: /lnk, readonly: true}", false},
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

// TestMountBelowLinkedBindRefused (helper-62's review of 26ae49b): a bind
// whose own target passes through a symlink of a dir root (/a/b, /a ->
// x) and a mount below it written by the path the link leads to
// (/x/b/conf) were both placed by path: linkedBelowBind compared the
// later target with the earlier one as written. The writer of the tree
// pointed /a elsewhere before apply, the writable bind went there, the
// read-only one to the tree's /x/b/conf, and root inside wrote the host's
// folder it was to make read-only (TestRootLinkedBindTargetRetargeted).
// Refused now, a masked path so too; the mount written below the bind's
// target as written, and a bind through a link with nothing below it,
// plan.
func TestMountBelowLinkedBindRefused(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"rootfs/bin", "rootfs/x/b", "rootfs/run", "rootfs/var", "host/conf"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "rootfs/bin/sh"), []byte("#!"), 0o755)
	os.Symlink("x", filepath.Join(dir, "rootfs/a"))
	os.Symlink("/a", filepath.Join(dir, "rootfs/c"))
	os.Symlink("../run", filepath.Join(dir, "rootfs/var/run"))
	compile := func(first, rest, overlay string) error {
		text := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs" + overlay + "}\n    namespaces: [mnt, pid]\n    mounts:\n      - {type: bind, source: ./host, target: " + first + "}\n" + rest + "    processes: [{name: main, command: [/bin/sh]}]\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{Caller: &rootCaller}))
		return err
	}
	for _, c := range []struct {
		first, rest, overlay string
		refused              bool
	}{
		{"/a/b", "      - {type: bind, source: ./host/conf, target: /x/b/conf, readonly: true}\n", "", true},
		{"/a/b", "      - {type: tmpfs, target: /x/b/conf}\n", ", overlay: true", true},
		{"/c/b", "      - {type: tmpfs, target: /x/b/conf}\n", "", true},
		{"/a/b", "    security: {masked_paths: [/x/b/conf]}\n", "", true},
		{"/var/run/h", "      - {type: tmpfs, target: /run/h/conf}\n", "", true},
		{"/a/b", "      - {type: bind, source: ./host/conf, target: /a/b/conf, readonly: true}\n", "", false},
		{"/var/run/h", "      - {type: tmpfs, target: /var/run/h/conf}\n", "", false},
		{"/var/run/h", "      - {type: tmpfs, target: /run/other}\n", "", false},
		{"/a/b", "", "", false},
	} {
		err := compile(c.first, c.rest, c.overlay)
		refused := err != nil && strings.Contains(err.Error(), "lies below the bind at "+c.first)
		if refused != c.refused {
			t.Errorf("a bind at %s, then %s: refused %v, want %v: %v", c.first, strings.TrimSpace(c.rest), refused, c.refused, err)
		}
	}
}

// TestConfinedRootPathWithoutMounts (helper-69's review): a dir root
// with masked or read-only paths of its own and no mount at all made
// linkedBelowBind index an empty list of mounts, and nsup plan panicked
// (index out of range). It plans, the missing path noted.
func TestConfinedRootPathWithoutMounts(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/etc"}, nil)
	s, err := spec.ParseBytes("t.yaml", dir, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    security: {masked_paths: [/etc/secret], readonly_paths: [/etc]}
    processes: [{name: main, command: [/bin/sh]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(s, fixedOptions(Options{Caller: &rootCaller}))
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(p.Environments[0].Notes, "\n"); !strings.Contains(notes, "not there, so not masked or made read-only: /etc/secret") {
		t.Errorf("notes: %s", notes)
	}
}
