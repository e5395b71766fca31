package planner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nsup/nsup/spec"
)

// TestChildWalksHostPaths: as root, with an idmap that maps root inside
// elsewhere, a dir root or a bind source in a folder that uid may not
// search is refused at plan time, naming the folder (helper-115 found
// both planned and failing at apply with EACCES: TestRootChildWalks in
// cmd/nsup); a folder it may search, a missing one apply makes 0755
// (create: true), an owner the maps hold, or a root mapped to the host's
// root, plan.
func TestChildWalksHostPaths(t *testing.T) {
	dir := t.TempDir()
	priv := filepath.Join(dir, "priv")
	open := filepath.Join(dir, "open")
	for _, d := range []string{priv + "/root/bin", priv + "/src", open + "/root/bin", open + "/src", open + "/closed/bin",
		// The mounts' targets: root inside may not make them in a root
		// of the test's uid (targetMakeable).
		priv + "/root/src", priv + "/root/new", open + "/root/src", open + "/root/closed", open + "/root/b"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(d, "/bin") {
			os.WriteFile(d+"/sh", []byte("#!/bin/sh\n"), 0o755)
		}
	}
	for p, m := range map[string]os.FileMode{dir: 0o711, filepath.Dir(dir): 0o711, priv: 0o700, open: 0o711, open + "/closed": 0o700} {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	// The test's folders are the test's uid's: mapped elsewhere, not
	// held by the maps unless said.
	own := os.Getuid()
	elsewhere := "\n    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: [{inside: 0, outside: 100000, count: 65536}]"
	if own >= 100000 && own < 165536 {
		t.Fatalf("the test's uid %d is in the map", own)
	}
	src := func(root, mounts, idmap string) string {
		return "version: 1\nenvironments:\n  a:\n    rootfs: {dir: " + root + "}\n    namespaces: [user, mnt, pid]" + idmap +
			"\n    mounts:" + mounts + "\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	for _, tc := range []struct {
		name, root, mounts, idmap string
		want                      []string
	}{{
		name: "refused", root: priv + "/root", idmap: elsewhere,
		mounts: "\n      - {type: bind, source: " + priv + "/src, target: /src}\n      - {type: bind, source: " + open + "/closed/new, target: /new, create: true}",
		want: []string{
			"t.yaml:4:19: environments.a.rootfs.dir: the dir root PRIV/root is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search PRIV (mode 0700, owner OWN): apply would fail with EACCES; let that uid search them (chmod o+x, or that gid as their group), map their owner and group too, or map root inside to the host's root",
			"t.yaml:10:30: environments.a.mounts[0].source: bind source PRIV/src is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search PRIV (mode 0700, owner OWN): apply would fail with EACCES; let that uid search them (chmod o+x, or that gid as their group), map their owner and group too, or map root inside to the host's root",
			"t.yaml:11:30: environments.a.mounts[1].source: bind source OPEN/closed/new is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search OPEN/closed (mode 0700, owner OWN): apply would fail with EACCES; let that uid search them (chmod o+x, or that gid as their group), map their owner and group too, or map root inside to the host's root",
		},
	}, {
		name: "root-itself", root: open + "/closed", idmap: elsewhere, mounts: " []",
		want: []string{"t.yaml:4:19: environments.a.rootfs.dir: the dir root OPEN/closed is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search OPEN/closed (mode 0700, owner OWN): apply would fail with EACCES; let that uid search them (chmod o+x, or that gid as their group), map their owner and group too, or map root inside to the host's root"},
	}, {
		name: "searchable", root: open + "/root", idmap: elsewhere,
		mounts: "\n      - {type: bind, source: " + open + "/src, target: /src}\n      - {type: bind, source: " + open + "/closed, target: /closed}\n      - {type: bind, source: " + open + "/a/b, target: /b, create: true}",
	}, {
		name: "owner-mapped", root: priv + "/root", mounts: "\n      - {type: bind, source: " + priv + "/src, target: /src}",
		idmap: "\n    idmap:\n      uid: [{inside: 0, outside: 100000, count: 1}, {inside: 1, outside: OWNUID, count: 1}]\n      gid: [{inside: 0, outside: 100000, count: 1}, {inside: 1, outside: OWNGID, count: 1}]",
	}, {
		name: "root-mapped", root: priv + "/root", mounts: "\n      - {type: bind, source: " + priv + "/src, target: /src}",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			idmap := strings.NewReplacer("OWNUID", strconv.Itoa(own), "OWNGID", strconv.Itoa(os.Getgid())).Replace(tc.idmap)
			s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(src(tc.root, tc.mounts, idmap)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(s, fixedOptions(Options{Caller: &rootCaller, FolderStat: folderStat, CacheDir: t.TempDir()}))
			got := ""
			if err != nil {
				got = strings.NewReplacer(priv, "PRIV", open, "OPEN", strconv.Itoa(own)+":"+strconv.Itoa(os.Getgid()), "OWN").Replace(err.Error())
			}
			if d := cmp.Diff(strings.Join(tc.want, "\n"), got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
