package planner

import (
	"archive/tar"
	"os"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestJoinedUserCacheReach: an environment that joins another's user
// namespace by name (join: {user: a}) with a mount namespace of its own
// has its child stage run as root of a's namespace, a's maps: with root
// there host uid 100000, the child opens a closure or tar root's tree
// by path in nsup's 0700 cache, and apply failed with EACCES
// ("overlay(...): open ...: permission denied" for a tar root, open_tree
// for a closure), the plan taking the joined maps as unknown
// (helper-126's review). It is refused at its rootfs now, naming the
// cache folder and the way out of joining a's mount namespace too; that
// join, and a's root mapped onto the host's root, plan.
func TestJoinedUserCacheReach(t *testing.T) {
	dir := t.TempDir()
	cache := dir + "/cache"
	os.Mkdir(cache, 0o700)
	stat := func(p string) (uid, gid, mode uint32, err error) {
		if _, err := os.Stat(p); err != nil {
			return 0, 0, 0, err
		}
		if p == cache {
			return 0, 0, 0o40700, nil
		}
		return 0, 0, 0o40755, nil
	}
	writeTar(t, dir, "root.tar", tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o755})
	const idmap = "\n    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}"
	src := func(rootfs, outside, join string) string {
		return strings.ReplaceAll("version: 1\nenvironments:\n  a:\n    rootfs: {closure: [/bin/sh]}\n    namespaces: [user, mnt, pid]"+idmap+
			"\n    processes: [{name: main, command: [/bin/sh]}]\n  c:\n    rootfs: "+rootfs+"\n    join: "+join+"\n    namespaces: [pid]\n    processes: [{name: main, command: [/bin/sh]}]\n",
			"outside: 100000", "outside: "+outside)
	}
	const own = "{user: a}"
	const way = "a dir root, or join a's mount namespace too (join: {user: a, mnt: a}), whose root a laid"
	for _, tc := range []struct {
		name, rootfs, outside, join, want string
	}{
		{"closure", "{closure: [/bin/sh]}", "100000", own, "t.yaml:9:13: environments.c.rootfs: the root's tree (nsup's cache) DIR/cache/closure/"},
		{"tar", "{tar: ./root.tar}", "100000", own, "t.yaml:9:13: environments.c.rootfs: the tar root's tree (nsup's cache) DIR/cache/tar/"},
		{"tar, root mapped onto root", "{tar: ./root.tar}", "0", own, ""},
		{"closure, mnt joined", "{closure: [/bin/sh]}", "100000", "{user: a, mnt: a}", ""},
		{"closure, root mapped onto root", "{closure: [/bin/sh]}", "0", own, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := src(tc.rootfs, tc.outside, tc.join)
			if tc.join == own {
				text = strings.Replace(text, "namespaces: [pid]", "namespaces: [mnt, pid]", 1)
			}
			s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(s, fixedOptions(Options{Caller: &rootCaller, FolderStat: stat, CacheDir: cache}))
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir, "DIR")
			}
			switch {
			case tc.want == "" && got != "":
				t.Errorf("refused: %s", got)
			case tc.want != "" && (!strings.Contains(got, tc.want) || !strings.Contains(got, "as root inside, host uid 100000 (gid 100000) through the id maps, which may not search DIR/cache (mode 0700, owner 0:0): apply would fail with EACCES") || !strings.Contains(got, way)):
				t.Errorf("got %q\nwant %q ... %q", got, tc.want, way)
			}
		})
	}
}
