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

// TestMappedTargetMakeable: as root, with an idmap that maps root inside
// to 100000, a mount whose target is missing in a dir root of the test's
// uid (0755) is refused at the mount, naming the first missing folder,
// its parent's owner and mode, who root inside is and the ways out: the
// plan showed "mkdir target if missing" and apply failed with "resolve
// /src inside the root: permission denied" (found by the helper before helper-118). So is
// one missing below an earlier bind, in that bind's host folder. A
// target that exists, one below an earlier tmpfs or in a folder an
// earlier mount made, a parent root inside may write (its owner and
// group mapped, o+w), an overlaid root, a root mapped to the host's
// root, no idmap, and rootless plan as before; a read-only root is
// checked as a writable one (apply makes the target in the same
// folder). TestRootMappedTargetMissing applies them.
func TestMappedTargetMakeable(t *testing.T) {
	dir := t.TempDir()
	// Searchable by root inside (childWalks): the temp folders are 0700.
	os.Chmod(filepath.Dir(dir), 0o711)
	os.Chmod(dir, 0o755)
	for _, d := range []string{"root/bin", "root/there", "root/deep/x", "root/deep/open", "src", "host/sub", "hostpriv/sub", "open/bin", "mine/bin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []string{"root", "open", "mine"} {
		os.WriteFile(filepath.Join(dir, r, "bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	}
	os.Chmod(filepath.Join(dir, "open"), 0o777)
	os.Chmod(filepath.Join(dir, "root/deep/open"), 0o777)
	os.Chmod(filepath.Join(dir, "root/deep"), 0o700)
	os.Chmod(filepath.Join(dir, "hostpriv"), 0o700)
	// Links of the root: to a folder root inside may not write, to one
	// it may, through one it may not search.
	os.MkdirAll(filepath.Join(dir, "root/real"), 0o755)
	os.MkdirAll(filepath.Join(dir, "root/wr"), 0o755)
	os.Chmod(filepath.Join(dir, "root/wr"), 0o777)
	os.Symlink("real", filepath.Join(dir, "root/l"))
	os.Symlink("/wr", filepath.Join(dir, "root/lw"))
	os.Symlink("deep/open", filepath.Join(dir, "root/ld"))
	own := os.Getuid()
	if own >= 100000 && own < 165536 {
		t.Fatalf("the test's uid %d is in the map", own)
	}
	// A case's rootfs is DIR/root, its idmap maps root inside to 100000
	// ("-": none), unless it says otherwise.
	const elsewhere = "\n    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}"
	const who = "inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not "
	const ownerMapped = "\n    idmap: {uid: [{inside: 0, outside: 100000, count: 1}, {inside: 1, outside: OWNUID, count: 1}], gid: [{inside: 0, outside: 100000, count: 1}, {inside: 1, outside: OWNGID, count: 1}]}"
	const fix = "make DIR/root/src in the root beforehand, say overlay: true (its upper layer is root inside's), or give an idmap that maps the root's owner and group too"
	bind := "\n      - {type: bind, source: DIR/src, target: /src}"
	for _, tc := range []struct {
		name, rootfs, idmap, mounts, want string
		caller                            Caller
	}{{
		name: "missing", mounts: bind,
		want: `t.yaml:8:9: environments.a.mounts[0].target: /src is missing in the dir root DIR/root: apply makes it ("target if missing") ` + who + `make its first missing folder DIR/root/src there (DIR/root is mode 0755, owner OWN): apply would fail with EACCES; ` + fix,
	}, {
		name: "readonly", rootfs: "{dir: DIR/root, readonly: true}", mounts: bind,
		want: "environments.a.mounts[0].target: /src is missing in the dir root DIR/root",
	}, {
		name: "tmpfs", mounts: "\n      - {type: tmpfs, target: /run/app}",
		want: "t.yaml:8:9: environments.a.mounts[0].target: /run/app is missing in the dir root DIR/root: apply makes it (\"target if missing\") " + who + "make its first missing folder DIR/root/run there (DIR/root is mode 0755, owner OWN)",
	}, {
		// Nested: the first missing folder is named; /a, once made, is
		// root inside's, and the next mount in it is not refused again.
		name: "nested", mounts: "\n      - {type: tmpfs, target: /a/b/c}\n      - {type: tmpfs, target: /a/d}",
		want: "t.yaml:8:9: environments.a.mounts[0].target: /a/b/c is missing in the dir root DIR/root: apply makes it (\"target if missing\") " + who + "make its first missing folder DIR/root/a there (DIR/root is mode 0755, owner OWN): apply would fail with EACCES; make DIR/root/a/b/c in the root beforehand",
	}, {
		name: "below-bind", mounts: "\n      - {type: bind, source: DIR/host, target: /there}\n      - {type: tmpfs, target: /there/sub/new}",
		want: "t.yaml:9:9: environments.a.mounts[1].target: /there/sub/new is missing below the bind at /there (environments.a.mounts[0]), in its host folder DIR/host: apply makes it (\"target if missing\") " + who + "make its first missing folder DIR/host/sub/new there (DIR/host/sub is mode 0755, owner OWN): apply would fail with EACCES; make DIR/host/sub/new beforehand, or give an idmap that maps that folder's owner and group too",
	}, {
		// On the way: a folder root inside may not search, the target
		// there or missing in a folder it could write.
		name: "unsearchable", mounts: "\n      - {type: tmpfs, target: /deep/x}",
		want: "t.yaml:8:9: environments.a.mounts[0].target: /deep/x lies in the dir root DIR/root, and apply's child stage resolves it " + who + "search DIR/root/deep on its way (mode 0700, owner OWN): apply would fail with EACCES; let that uid search it (chmod o+x, or that gid as its group), or give an idmap that maps its owner and group too",
	}, {
		name: "unsearchable-missing", mounts: "\n      - {type: tmpfs, target: /deep/open/new}",
		want: "environments.a.mounts[0].target: /deep/open/new lies in the dir root DIR/root, and apply's child stage resolves it " + who + "search DIR/root/deep on its way",
	}, {
		name: "below-bind-unsearchable", mounts: "\n      - {type: bind, source: DIR/hostpriv, target: /there}\n      - {type: tmpfs, target: /there/sub}",
		want: "environments.a.mounts[1].target: /there/sub lies below the bind at /there (environments.a.mounts[0]), in its host folder DIR/hostpriv, and apply's child stage resolves it " + who + "search DIR/hostpriv on its way (mode 0700, owner OWN)",
	}, {
		// Through a link of the root: judged where it lands, as apply
		// resolves it (helper-159's finding: /l/made planned, and apply
		// failed with "resolve /l/made inside the root: permission
		// denied", where /real/made was refused).
		name: "linked", mounts: "\n      - {type: tmpfs, target: /l/made}",
		want: "t.yaml:8:9: environments.a.mounts[0].target: /l/made is missing in the dir root DIR/root: apply makes it (\"target if missing\") " + who + "make its first missing folder DIR/root/real/made there (DIR/root/real is mode 0755, owner OWN): apply would fail with EACCES; make DIR/root/real/made in the root beforehand",
	}, {
		name: "linked-real", mounts: "\n      - {type: tmpfs, target: /real/made}",
		want: "t.yaml:8:9: environments.a.mounts[0].target: /real/made is missing in the dir root DIR/root: apply makes it (\"target if missing\") " + who + "make its first missing folder DIR/root/real/made there (DIR/root/real is mode 0755, owner OWN)",
	}, {
		name: "linked-unsearchable", mounts: "\n      - {type: tmpfs, target: /ld/new}",
		want: "environments.a.mounts[0].target: /ld/new lies in the dir root DIR/root, and apply's child stage resolves it " + who + "search DIR/root/deep on its way",
	}, {
		name: "linked-writable", mounts: "\n      - {type: tmpfs, target: /lw/new/deeper}",
	}, {
		// Made through the link, the folder is there for the next.
		name: "linked-made", mounts: "\n      - {type: tmpfs, target: /lw/new/a}\n      - {type: tmpfs, target: /wr/new/b}",
	}, {
		name: "exists", mounts: "\n      - {type: bind, source: DIR/src, target: /there}",
	}, {
		name: "below-tmpfs", mounts: "\n      - {type: tmpfs, target: /there}\n      - {type: bind, source: DIR/src, target: /there/a/src}",
	}, {
		name: "below-bind-there", mounts: "\n      - {type: bind, source: DIR/host, target: /there}\n      - {type: tmpfs, target: /there/sub}",
	}, {
		name: "others-write", rootfs: "{dir: DIR/open}", mounts: bind,
	}, {
		name: "owner-mapped", idmap: ownerMapped, mounts: bind,
	}, {
		name: "overlay", rootfs: "{dir: DIR/root, overlay: true}", mounts: bind,
	}, {
		name: "root-mapped", idmap: "-", mounts: bind,
	}, {
		name: "rootless", caller: userCaller,
		idmap: "\n    idmap: {uid: [{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 65536}]}", mounts: bind,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rootfs, idmap := tc.rootfs, tc.idmap
			if rootfs == "" {
				rootfs = "{dir: DIR/root}"
			}
			switch idmap {
			case "":
				idmap = elsewhere
			case "-":
				idmap = ""
			}
			r := strings.NewReplacer("DIR", dir, "OWNUID", strconv.Itoa(own), "OWNGID", strconv.Itoa(os.Getgid()))
			text := r.Replace("version: 1\nenvironments:\n  a:\n    rootfs: " + rootfs + "\n    namespaces: [user, mnt, pid]" + idmap + "\n    mounts:" + tc.mounts + "\n    processes: [{name: main, command: [/bin/sh]}]\n")
			s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			caller := rootCaller
			if tc.caller.UID != 0 {
				caller = tc.caller
			}
			_, err = Compile(s, fixedOptions(Options{Caller: &caller, FolderStat: folderStat, CacheDir: t.TempDir()}))
			got := ""
			if err != nil {
				got = strings.NewReplacer(dir, "DIR", strconv.Itoa(own)+":"+strconv.Itoa(os.Getgid()), "OWN").Replace(err.Error())
			}
			switch {
			case tc.want == "" && got != "":
				t.Errorf("refused: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("(-want +got):\n%s", cmp.Diff(tc.want, got))
			case tc.want != "" && strings.Count(got, "t.yaml:") != 1:
				t.Errorf("refused more than once: %s", got)
			}
		})
	}
}
