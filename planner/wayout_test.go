package planner

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestLiftedWayOutEveryCheck: each check that refuses a writable mount
// and advises a read-only one advises, for root inside that keeps
// CAP_SYS_ADMIN in a user namespace (which lifts read-only flags), a
// read-only mount with SYS_ADMIN dropped, and without SYS_ADMIN the
// read-only mount alone; asserted on each check's own message. A
// strings.Replacer once rewrote the messages' text instead: a check
// reworded would have lost the lifted advice with no error saying so.
// Its last case, a's read-only bind of a host's device node lifted by
// b, which joins a's namespaces, was told "make it readonly: true" of a
// bind that says so.
func TestLiftedWayOutEveryCheck(t *testing.T) {
	const (
		mount     = "drop SYS_ADMIN and mount this read-only (read-only alone, root inside lifts the flag)"
		bind      = "drop SYS_ADMIN and mount the bind read-only (read-only alone, root inside lifts the flag)"
		recursive = "make the bind recursive (the default), or drop SYS_ADMIN and mount it read-only (read-only alone, root inside lifts the flag)"
		field     = "drop SYS_ADMIN and say readonly: true (alone, root inside lifts that flag)"
		root      = "make the root overlaid, or drop SYS_ADMIN and say readonly: true (alone, root inside lifts that flag)"
	)
	said := map[string]string{
		mount:     "make this mount read-only",
		bind:      "make the bind read-only",
		recursive: "make the bind recursive (the default), or read-only",
		field:     "make it readonly: true",
		root:      "make the root read-only or overlaid",
	}
	d := t.TempDir()
	for _, p := range []string{"rootfs/bin", "rootfs/x", "proj", "linked", "deep/sub", "env", "cache/nsup", "m/d/hidden", "n/hidden", "devroot/bin", "devroot/x", "devroot/dev"} {
		os.MkdirAll(filepath.Join(d, p), 0o755)
	}
	os.WriteFile(d+"/rootfs/bin/sh", []byte("#!"), 0o755)
	os.WriteFile(d+"/devroot/bin/sh", []byte("#!"), 0o755)
	os.WriteFile(d+"/rootfs/n", nil, 0o644) // a device node is bound on a file (targetKindFits)
	vols := filepath.Join(d, "vols")
	extra := "999 1 0:99 / " + d + "/m/d/hidden rw,relatime - tmpfs tmpfs rw\n" +
		"997 1 0:98 / " + d + "/n/hidden rw,relatime - tmpfs tmpfs rw\n" +
		"998 1 0:6 / " + d + "/devroot/dev rw,relatime - devtmpfs devtmpfs rw\n"
	env := func(name, rootfs, more, mount string) string {
		if mount != "" {
			more += "    mounts:\n      - " + mount + "\n"
		}
		return "  " + name + ":\n    rootfs: {dir: " + d + "/" + rootfs + "}\n" + more + "    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	const own = "    namespaces: [user, mnt, pid, net]\n    security: {capabilities: {add: [SYS_ADMIN]}}\n"
	one := func(rootfs, mount string) string {
		return "version: 1\nname: proj\nvolumes: {v: {}}\nenvironments:\n" + env("web", rootfs, own, mount)
	}
	joined := "version: 1\nenvironments:\n" + env("a", "rootfs", "    namespaces: [user, mnt, pid]\n", "{type: bind, source: /dev/null, target: /n, readonly: true}") +
		env("b", "rootfs", "    join: {user: a, mnt: a}\n    namespaces: [pid]\n    security: {capabilities: {add: [SYS_ADMIN]}}\n", "")
	for _, c := range []struct {
		name, at, text, id, way string
		plain                   bool // refused without SYS_ADMIN too
	}{
		{"spec file", "proj", one("rootfs", "{type: bind, source: "+d+"/proj/l.yaml, target: /x/l.yaml}"), "is " + d + "/proj/l.yaml, which nsup reads", mount, true},
		{"hard links", "linked", one("rootfs", "{type: bind, source: "+d+"/linked, target: /x}"), "has 2 names (hard links)", mount, true},
		{"subfolder", "deep/sub", one("rootfs", "{type: bind, source: "+d+"/deep, target: /x}"), ", a subfolder of ", mount, true},
		{".env", "env", one("rootfs", "{type: bind, source: \"${SRC:-"+d+"/env}\", target: /x}"), "no .env beside the spec", mount, true},
		{"cache", "proj", one("rootfs", "{type: bind, source: "+d+"/cache, target: /x}"), "holds nsup's cache", mount, true},
		{"volume", "proj", one("rootfs", "{type: volume, source: v, target: /x}"), "holds nsup's state directory", mount, true},
		{"folder above a mount", "proj", one("rootfs", "{type: bind, source: "+d+"/m, target: /x}"), "a folder above the host's mount at", bind, true},
		{"not recursive", "proj", one("rootfs", "{type: bind, source: "+d+"/n, target: /x, recursive: false}"), "without recursive leaves out the host's mount", recursive, true},
		{"device node", "proj", one("rootfs", "{type: bind, source: /dev/null, target: /n}"), "/dev/null is a device node of the host's", field, true},
		{"device folder", "proj", one("rootfs", "{type: bind, source: /dev, target: /x}"), "/dev is a folder of the host's /dev: root inside would change", field, true},
		{"device root", "proj", one("devroot, readonly: false", "{type: tmpfs, target: /x}"), "brings the host's devtmpfs at " + d + "/devroot/dev along", root, true},
		{"joined device node", "proj", joined, "/dev/null is a device node of the host's", field, false},
	} {
		for _, sysAdmin := range []bool{true, false} {
			if !sysAdmin && !c.plain {
				continue
			}
			text, want, not := c.text, c.way, said[c.way]
			if !sysAdmin {
				text, want, not = strings.ReplaceAll(text, "SYS_ADMIN", "NET_ADMIN"), not, want
			}
			file := filepath.Join(d, c.at, "l.yaml")
			os.Remove(d + "/linked/other")
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.at == "linked" {
				os.Link(file, d+"/linked/other")
			}
			s, err := spec.ParseBytes(file, filepath.Dir(file), []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(s, hybridOptions(t, Options{Caller: &rootCaller, CacheDir: d + "/cache/nsup", VolumeDir: vols, StateDir: VolumePath(vols, "proj", "v") + "/run"}, extra))
			line := ""
			if err != nil {
				for _, l := range strings.Split(err.Error(), "\n") {
					if strings.Contains(l, c.id) {
						line = l
					}
				}
			}
			if line == "" || !strings.Contains(line, want) || strings.Contains(line, not) {
				t.Errorf("%s, SYS_ADMIN %v: %q, want it with %q, not %q (all: %v)", c.name, sysAdmin, line, want, not, err)
			}
		}
	}
}

// TestWayOutsFromTable: no string of the planner's says a way out of
// wayOut's in words of its own: a message that did would keep its way
// out for root inside that lifts read-only flags, for which it is
// refused the same. The checks take it from readonlyWay.
func TestWayOutsFromTable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			if c, ok := n.(*ast.CompositeLit); ok {
				if id, ok := c.Type.(*ast.Ident); ok && id.Name == "wayOut" {
					return false // the table itself
				}
			}
			if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING {
				for _, w := range []wayOut{roMount, roBind, roRecursive, roField, roRoot} {
					if strings.Contains(l.Value, w.said) {
						t.Errorf("%s: says %q: take it from readonlyWay", fset.Position(l.Pos()), w.said)
					}
				}
			}
			return true
		})
	}
}
