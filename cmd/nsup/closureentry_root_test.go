package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootClosureEntryMountPoints: a closure or host root is nsup's
// cache entry, built from the plan's list and shared by every
// environment whose list hashes the same; apply's mounts make their
// missing targets through the root's bind, in the entry. Before
// helper-141's stop the list had a bound file's folder only, and a
// folder target as written: a file bind at /q (and at a path through a
// link of the tree, and a tmpfs there) left in the entry what its list
// lacks, seen by every later environment of that digest (a spec with
// /proc alone, applied first here, had the same digest, and its
// environment saw /q). Each apply is followed by a listing of every
// entry of the cache against the plan's list of it: the entry built
// first, for /proc alone (as an older nsup would have built it for the
// file bind's spec too), is not written by the later applies.
func TestRootClosureEntryMountPoints(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir, err := os.MkdirTemp("", "nsup-closureentry-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	cache := filepath.Join(dir, "cache")
	t.Setenv("NSUP_CACHE_DIR", cache)
	bin := buildNsup(t)
	os.WriteFile(filepath.Join(dir, "hostfile"), []byte("bound\n"), 0o644)
	// A folder of the closure's with a link in it: a target through the
	// link lands in the folder it leads to.
	tools := filepath.Join(dir, "tools")
	os.MkdirAll(filepath.Join(tools, "sub"), 0o755)
	os.Symlink("sub", filepath.Join(tools, "l"))
	const idmap = "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"
	closure := "{closure: [/bin/busybox, " + tools + "]}"
	lists := map[string][]string{} // entry digest -> the plan's list
	for _, c := range []struct {
		name, rootfs, namespaces, extra, mounts, script, want string
	}{
		{"proc", closure, "mnt, pid", "", "", "test -e /q || echo no q", "no q\n"},
		{"file", closure, "mnt, pid", "", "      - {type: bind, source: ./hostfile, target: /q}\n",
			"/bin/busybox cat /q", "bound\n"},
		{"file in new folders", closure, "mnt, pid", "", "      - {type: bind, source: ./hostfile, target: /m/sub/f}\n",
			"/bin/busybox cat /m/sub/f", "bound\n"},
		{"through a link", closure, "mnt, pid", "",
			"      - {type: tmpfs, target: " + tools + "/l/nd}\n      - {type: bind, source: ./hostfile, target: " + tools + "/l/qq}\n",
			"/bin/busybox cat " + tools + "/sub/qq; /bin/busybox grep -q \" " + tools + "/sub/nd tmpfs \" /proc/self/mounts && echo nd", "bound\nnd\n"},
		{"idmap", closure, "user, mnt, pid", idmap, "      - {type: bind, source: ./hostfile, target: /q2}\n",
			"/bin/busybox cat /q2", "bound\n"},
		{"host root", "{host: [/usr, /bin, /lib, /lib64]}", "mnt, pid", "", "      - {type: bind, source: ./hostfile, target: /q}\n",
			"/bin/cat /q", "bound\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "")+".yaml")
			os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  e:
    rootfs: %s
    namespaces: [%s]
%s    mounts:
      - {type: proc, target: /proc}
%s    processes:
      - {name: main, command: [/bin/busybox, sh, -c, '%s']}
`, c.rootfs, c.namespaces, c.extra, c.mounts, c.script)), 0o644)
			code, out, errs := runCaptured(t, exec.Command(bin, "plan", "--json", spec))
			if code != 0 {
				t.Fatalf("plan: exit %d\n%s", code, errs)
			}
			p, err := planner.Unmarshal([]byte(out))
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range p.Environments[0].Steps {
				r, ok := st.Op.(planner.Rootfs)
				if !ok {
					continue
				}
				var list []string
				for _, f := range r.Files {
					if f.Path != "/" {
						list = append(list, strings.TrimPrefix(f.Path, "/")+" "+f.Type)
					}
				}
				slices.Sort(list)
				lists[strings.TrimPrefix(r.Digest, "sha256:")] = list
			}
			code, out, errs = runCaptured(t, exec.Command(bin, "apply", spec))
			if code != 0 || out != c.want {
				t.Errorf("apply: exit %d, out %q, want 0 and %q\n%s", code, out, c.want, errs)
			}
			for digest, want := range lists {
				if got := closureEntryList(t, filepath.Join(cache, "closure", digest)); !slices.Equal(got, want) {
					t.Errorf("the cache entry %s holds, after the apply of %s:\n%s\nits plan's list:\n%s", digest, c.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

// closureEntryList lists a closure entry's tree, as its plan's list is
// written here: each path below the entry, and its type.
func closureEntryList(t *testing.T, entry string) []string {
	t.Helper()
	var list []string
	err := filepath.Walk(entry, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == entry {
			return err
		}
		r, _ := filepath.Rel(entry, p)
		kind := "file"
		switch {
		case fi.IsDir():
			kind = "dir"
		case fi.Mode()&os.ModeSymlink != 0:
			kind = "symlink"
		}
		list = append(list, r+" "+kind)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(list)
	return list
}
