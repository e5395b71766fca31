package planner

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nsup/nsup/spec"
)

// TestMappedTarTargetMakeable: as root, with an idmap that maps root
// inside to 100000, a mount whose target a tar root's archive lacks (no
// overlay: the tree is nsup's cache entry, root's) is refused at the
// mount, naming the first missing folder as the archive's symlinks lead
// to it, its parent's mode and owner, who root inside is and the ways
// out: the plan showed "mkdir target if missing" and apply failed with
// "resolve /src inside the root: permission denied" (helper-119). So is
// a target in a folder of the archive root inside may not search. A
// target the archive has (through a link too), one below an earlier
// tmpfs or reached through a link into it, a folder an earlier mount
// made, a parent root inside may write (0777, or its owner mapped), an
// archive whose root member is 0777, an overlaid root, a root mapped to
// the host's root and rootless plan as before.
// TestRootMappedTargetMissing applies them.
func TestMappedTarTargetMakeable(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o711)
	os.Chmod(dir, 0o755)
	os.Mkdir(filepath.Join(dir, "src"), 0o755)
	write := func(name string, root int64) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tw := tar.NewWriter(f)
		d := func(n string, mode int64, uid int) tar.Header {
			return tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: mode, Uid: uid, Gid: uid}
		}
		l := func(n, to string) tar.Header {
			return tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: to, Mode: 0o777}
		}
		hs := []tar.Header{d("./", root, 0), d("bin/", 0o755, 0), {Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o755},
			d("usr/lib/there/", 0o755, 0), l("lib", "usr/lib"), l("abslib", "/usr/lib"), l("here", "there"),
			d("deep/", 0o700, 0), d("deep/x/", 0o755, 0), d("open/", 0o777, 0), d("mine/", 0o755, 100000), d("there/", 0o755, 0)}
		for _, h := range hs {
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("root.tar", 0o755)
	write("open.tar", 0o777)
	const elsewhere = "\n    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}"
	const who = `inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not `
	bind := "\n      - {type: bind, source: DIR/src, target: TARGET}"
	for _, tc := range []struct {
		name, rootfs, idmap, mounts, want string
		caller                            Caller
	}{{
		name: "missing", mounts: strings.Replace(bind, "TARGET", "/src", 1),
		want: `t.yaml:8:9: environments.a.mounts[0].target: /src is missing in the tar root's archive DIR/root.tar: apply makes it ("target if missing") ` + who + `make its first missing folder /src in nsup's cache tree of the archive (/ is mode 0755, owner 0:0 there): apply would fail with EACCES; add the folder /src to the archive, say overlay: true (its upper layer is root inside's), or give no idmap`,
	}, {
		// Nested: the first missing folder is named; /a, once made, is
		// root inside's, and the next mount in it is not refused again.
		name: "nested", mounts: "\n      - {type: tmpfs, target: /a/b/c}\n      - {type: tmpfs, target: /a/d}",
		want: `t.yaml:8:9: environments.a.mounts[0].target: /a/b/c is missing in the tar root's archive DIR/root.tar: apply makes it ("target if missing") ` + who + `make its first missing folder /a in nsup's cache tree`,
	}, {
		name: "through-link", mounts: "\n      - {type: tmpfs, target: /lib/new}",
		want: `environments.a.mounts[0].target: /lib/new is missing in the tar root's archive DIR/root.tar: apply makes it ("target if missing") ` + who + `make its first missing folder /usr/lib/new in nsup's cache tree of the archive (/usr/lib is mode 0755, owner 0:0 there)`,
	}, {
		name: "unsearchable", mounts: "\n      - {type: tmpfs, target: /deep/x}",
		want: `t.yaml:8:9: environments.a.mounts[0].target: /deep/x lies in the tar root's archive DIR/root.tar, and apply's child stage resolves it ` + who + `search /deep on its way (mode 0700, owner 0:0 in the archive and in nsup's cache tree of it): apply would fail with EACCES; let that uid search it in the archive (o+x, or that gid as its group), or give no idmap`,
	}, {
		name: "exists", mounts: strings.Replace(bind, "TARGET", "/there", 1),
	}, {
		name: "exists-through-links", mounts: "\n      - {type: tmpfs, target: /abslib/there}\n      - {type: tmpfs, target: /here}",
	}, {
		name: "below-tmpfs", mounts: "\n      - {type: tmpfs, target: /there}\n      - {type: tmpfs, target: /there/a/b}\n      - {type: tmpfs, target: /here/c}",
	}, {
		name: "others-write", mounts: "\n      - {type: tmpfs, target: /open/new/x}",
	}, {
		name: "owner-mapped", mounts: "\n      - {type: tmpfs, target: /mine/new}",
	}, {
		name: "root-member-open", rootfs: "{tar: DIR/open.tar}", mounts: strings.Replace(bind, "TARGET", "/src", 1),
	}, {
		name: "file", mounts: "\n      - {type: bind, source: DIR/root.tar, target: /bin/sh}",
	}, {
		name: "overlay", rootfs: "{tar: DIR/root.tar, overlay: true}", mounts: strings.Replace(bind, "TARGET", "/src", 1),
	}, {
		name: "root-mapped", idmap: "-", mounts: strings.Replace(bind, "TARGET", "/src", 1),
	}, {
		name: "rootless", caller: userCaller, mounts: strings.Replace(bind, "TARGET", "/src", 1),
		idmap: "\n    idmap: {uid: [{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 65536}]}",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rootfs, idmap := tc.rootfs, tc.idmap
			if rootfs == "" {
				rootfs = "{tar: DIR/root.tar}"
			}
			switch idmap {
			case "":
				idmap = elsewhere
			case "-":
				idmap = ""
			}
			text := strings.ReplaceAll("version: 1\nenvironments:\n  a:\n    rootfs: "+rootfs+"\n    namespaces: [user, mnt, pid]"+idmap+"\n    mounts:"+tc.mounts+"\n    processes: [{name: main, command: [/bin/sh]}]\n", "DIR", dir)
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
				got = strings.ReplaceAll(err.Error(), dir, "DIR")
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
