package planner

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nsup/nsup/spec"
)

// TestRootlessSubordinateRootReach: rootless, with an idmap that maps
// root inside to a subordinate uid and leaves the caller's ids unmapped,
// a dir root or a bind source in a 0700 folder of the caller's, a
// missing mount target in the caller's dir root and a closure root in
// the caller's cache are refused, naming the folder and the caller's own
// ids as a way out (helper-121 found them planned and failing at apply:
// TestRootRootlessSubordinateRoot in cmd/nsup). With the caller's uid and
// gid mapped too (a cache folder missing now included: apply makes it
// the caller's), or root inside the caller, they plan.
func TestRootlessSubordinateRootReach(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"closed/root/bin", "closed/root/proc", "closed/root/src", "closed/src", "open/bin", "open/proc", "open/src", "cache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(dir+"/closed/root/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(dir+"/open/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	// The caller's (uid 1000) folders: dir and below; closed and the
	// cache 0700.
	stat := func(p string) (uid, gid, mode uint32, err error) {
		if _, err := os.Stat(p); err != nil {
			return 0, 0, 0, err
		}
		switch {
		case p == dir+"/closed", p == dir+"/cache":
			return 1000, 1000, 0o40700, nil
		case strings.HasPrefix(p, dir):
			return 1000, 1000, 0o40755, nil
		}
		return 0, 0, 0o40755, nil
	}
	sub := "\n    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: [{inside: 0, outside: 100000, count: 65536}]"
	withUser := "\n    idmap:\n      uid: [{inside: 0, outside: 100000, count: 1}, {inside: 1, outside: 1000, count: 1}]\n      gid: [{inside: 0, outside: 100000, count: 1}, {inside: 1, outside: 1000, count: 1}]"
	src := func(rootfs, mounts, idmap string) string {
		return "version: 1\nenvironments:\n  a:\n    rootfs: " + rootfs + "\n    namespaces: [user, mnt, pid]" + idmap +
			"\n    mounts: [{type: proc, target: /proc}" + mounts + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	const who = "is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search "
	const way = "map root inside to your own uid 1000 and gid 1000 (or map those too)"
	dirRoot, closure := "{dir: "+dir+"/closed/root}", "{closure: [/bin/sh]}"
	bind := ", {type: bind, source: " + dir + "/closed/src, target: /src}"
	created := ", {type: bind, source: " + dir + "/made/src, create: true, target: /src}, {type: tmpfs, target: /src/sub}"
	for _, tc := range []struct {
		name, rootfs, mounts, idmap, cache string
		want                               []string
	}{{
		name: "dir-root", rootfs: dirRoot, idmap: sub,
		want: []string{"t.yaml:4:19: environments.a.rootfs.dir: the dir root DIR/closed/root " + who + "DIR/closed (mode 0700, owner 1000:1000): apply would fail with EACCES; let that uid search them (chmod o+x), map their owner and group too, or " + way},
	}, {
		name: "bind", rootfs: "{dir: " + dir + "/open}", mounts: bind, idmap: sub,
		want: []string{"t.yaml:9:64: environments.a.mounts[1].source: bind source DIR/closed/src " + who + "DIR/closed (mode 0700, owner 1000:1000): apply would fail with EACCES; let that uid search them (chmod o+x), map their owner and group too, or " + way},
	}, {
		name: "target", rootfs: "{dir: " + dir + "/open}", mounts: ", {type: tmpfs, target: /made}", idmap: sub,
		want: []string{"t.yaml:9:43: environments.a.mounts[1].target: /made is missing in the dir root DIR/open: apply makes it (\"target if missing\") inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not make its first missing folder DIR/open/made there (DIR/open is mode 0755, owner 1000:1000): apply would fail with EACCES; make DIR/open/made in the root beforehand, say overlay: true (its upper layer is root inside's), or give an idmap that maps the root's owner and group too"},
	}, {
		name: "closure", rootfs: closure, idmap: sub, cache: dir + "/cache",
		want: []string{"t.yaml:4:13: environments.a.rootfs: the root's tree (nsup's cache) DIR/cache/closure/HASH " + who + "DIR/cache (mode 0700, owner 1000:1000): apply would fail with EACCES; give nsup a cache whose folders that uid may search (NSUP_CACHE_DIR, its closure and tar folders made so beforehand, as nsup makes them 0700; other host users may then reach its trees by digest too), a dir root, or " + way},
	}, {
		name: "closure-missing-cache", rootfs: closure, idmap: sub, cache: dir + "/cache/nsup",
		want: []string{"t.yaml:4:13: environments.a.rootfs: the root's tree (nsup's cache) DIR/cache/nsup/closure/HASH " + who + "DIR/cache (mode 0700, owner 1000:1000): apply would fail with EACCES; give nsup a cache whose folders that uid may search (NSUP_CACHE_DIR, its closure and tar folders made so beforehand, as nsup makes them 0700; other host users may then reach its trees by digest too), a dir root, or " + way},
	}, {
		// A bind with create: true: apply's host stage makes its folder
		// 0755, the caller's, and the child, as root inside, the target
		// in it (helper-122: planned, then EACCES).
		name: "create-target", rootfs: "{dir: " + dir + "/open}", mounts: created, idmap: sub,
		want: []string{"t.yaml:9:COL: environments.a.mounts[2].target: /src/sub lies below the bind at /src (environments.a.mounts[1]), whose host folder DIR/made/src apply makes (create: true) 0755, uid 1000's, and apply's child stage makes /src/sub in it (\"target if missing\") inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not write there: apply would fail with EACCES; make DIR/made/src/sub beforehand, or " + way},
	}, {
		name: "with-user-create-target", rootfs: "{dir: " + dir + "/open}", mounts: created, idmap: withUser,
	}, {
		name: "with-user", rootfs: dirRoot, mounts: bind + ", {type: tmpfs, target: /made}", idmap: withUser,
	}, {
		name: "with-user-closure", rootfs: closure, mounts: bind, idmap: withUser, cache: dir + "/cache/nsup",
	}, {
		name: "root-is-caller", rootfs: dirRoot, mounts: bind,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(src(tc.rootfs, tc.mounts, tc.idmap)))
			if err != nil {
				t.Fatal(err)
			}
			cache := tc.cache
			if cache == "" {
				cache = dir + "/cache"
			}
			_, err = Compile(s, fixedOptions(Options{Caller: &userCaller, FolderStat: stat, CacheDir: cache}))
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir, "DIR")
				// A column after DIR varies with its length.
				got = regexp.MustCompile(`t\.yaml:9:\d+: environments\.a\.mounts\[2\]`).ReplaceAllString(got, "t.yaml:9:COL: environments.a.mounts[2]")
				if i := strings.Index(got, "/closure/"); i >= 0 {
					got = got[:i+9] + "HASH" + got[i+9+64:]
				}
			}
			if d := cmp.Diff(strings.Join(tc.want, "\n"), got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestCreatedBindTargetReach: as root, with an idmap that maps root
// inside to another uid, a missing target below a bind with create: true
// of a folder missing now is refused: apply's host stage makes the folder
// 0755, root's, which root inside may not write (helper-122: planned,
// then "resolve /data/sub inside the root: permission denied").
func TestCreatedBindTargetReach(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"root/bin", "root/proc", "root/data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(dir+"/root/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	stat := func(p string) (uid, gid, mode uint32, err error) {
		if _, err := os.Stat(p); err != nil {
			return 0, 0, 0, err
		}
		return 0, 0, 0o40755, nil
	}
	src := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: " + dir + "/root}\n    namespaces: [user, mnt, pid]\n    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: [{inside: 0, outside: 100000, count: 65536}]" +
		"\n    mounts: [{type: proc, target: /proc}, {type: bind, source: " + dir + "/made/src, create: true, target: /data}, {type: tmpfs, target: /data/sub}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(s, fixedOptions(Options{Caller: &rootCaller, FolderStat: stat, CacheDir: dir + "/cache"}))
	want := "environments.a.mounts[2].target: /data/sub lies below the bind at /data (environments.a.mounts[1]), whose host folder " + dir + "/made/src apply makes (create: true) 0755, uid 0's, and apply's child stage makes /data/sub in it (\"target if missing\") inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not write there: apply would fail with EACCES; make " + dir + "/made/src/sub beforehand, or map root inside to the host's root"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %q", err, want)
	}
}

// TestRootlessKeptGroupReach: rootless, with root inside on a subordinate
// uid and the gid map the caller's own gid alone (written without
// newgidmap, setgroups denied), the child keeps the caller's
// supplementary groups: a 0710 folder of one of them is searchable, and
// the plan takes it (helper-122: refused, which apply reaches). Through
// newgidmap the child drops them, and the folder is refused.
func TestRootlessKeptGroupReach(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"shared/root/bin", "shared/root/proc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(dir+"/shared/root/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	stat := func(p string) (uid, gid, mode uint32, err error) {
		if _, err := os.Stat(p); err != nil {
			return 0, 0, 0, err
		}
		switch {
		case p == dir+"/shared":
			return 1000, 2000, 0o40710, nil
		case strings.HasPrefix(p, dir):
			return 1000, 1000, 0o40755, nil
		}
		return 0, 0, 0o40755, nil
	}
	caller := userCaller
	caller.Groups = []uint32{1000, 2000}
	for _, tc := range []struct{ name, gid, want string }{
		{"kept", "[{inside: 0, outside: 1000, count: 1}]", ""},
		{"dropped", "[{inside: 0, outside: 100000, count: 65536}]", "which may not search DIR/shared (mode 0710, owner 1000:2000)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: " + dir + "/shared/root}\n    namespaces: [user, mnt, pid]\n    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: " + tc.gid +
				"\n    mounts: [{type: proc, target: /proc}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
			s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(s, fixedOptions(Options{Caller: &caller, FolderStat: stat, CacheDir: dir + "/cache"}))
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir, "DIR")
			}
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
