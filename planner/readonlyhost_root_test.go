package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// hostMount mounts at dir, until the test ends: a read-only bind of dir
// itself (mount --bind, then -o remount,bind,ro), or else a writable
// tmpfs (a filesystem of its own below a root's folder).
func hostMount(t *testing.T, dir string, readonlyBind bool) {
	t.Helper()
	var err error
	if !readonlyBind {
		err = unix.Mount("nsup-h144", dir, "tmpfs", 0, "size=64k")
	} else if err = unix.Mount(dir, dir, "", unix.MS_BIND, ""); err == nil {
		if err = unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	}
	if err != nil {
		t.Fatalf("mount at %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) }) // before TempDir's removal
}

// TestRootReadonlyHostTargetRefused (helper-144): a missing mount target
// that apply would make in a host folder on a read-only mount of the
// host's planned, and apply failed at the mount's step with "read-only
// file system", though the spec made nothing read-only: a bind keeps the
// host mount's flags. So in a dir root on one (readonly: true or false, and
// through a link of the root where it lands), a writable bind or volume
// of a folder on one, a folder create: true makes in one (apply's mkdir
// failed first), and a host mount below a readonly: true dir root's
// folder, which apply makes read-only with the root. Each is refused at
// its position, naming the host folder and the way out. A target that is
// there (in the root, in the bind) is mounted on, an overlaid root makes
// it in its upper layer, and a writable host mount below a writable root,
// or the root's own folder of a read-only root, take it: those plan.
// Root only: it mounts.
func TestRootReadonlyHostTargetRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "makes read-only mounts: needs root")
	}
	dir := t.TempDir()
	refusalTree(t, dir, []string{"ro/root/bin", "ro/root/exists", "ro/root/data", "ro/data/sub", "ro/vols/p/v", "rw/root/bin", "rw/root/data", "rw/root/sub"},
		map[string]string{"ro/root/lnk": "exists"})
	for _, r := range []string{"ro/root", "rw/root"} {
		os.WriteFile(filepath.Join(dir, r, "bin/sh"), []byte("#!"), 0o755)
	}
	hostMount(t, filepath.Join(dir, "ro"), true)
	sub := filepath.Join(dir, "rw/root/sub")
	hostMount(t, sub, false)
	if err := os.Mkdir(filepath.Join(sub, "there"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpfs := func(at string) string { return "      - {type: tmpfs, target: " + at + "}\n" }
	// A dir root is read-only unless it says readonly: false.
	roRoot, rwRoot := "{dir: ./ro/root}", "{dir: ./rw/root}"
	onRO := "is on a read-only mount of the host's"
	for _, c := range []struct{ rootfs, mounts, want string }{
		{roRoot, tmpfs("/new"), "t.yaml:8:9: environments.a.mounts[0].target: /new is missing in the dir root DIR/ro/root, whose folder DIR/ro/root " + onRO + ": apply would make /new there (\"target if missing\") and fail (read-only file system); make DIR/ro/root/new on the host, make the host's mount writable, or say overlay: true on the root"},
		{"{dir: ./ro/root, readonly: false}", tmpfs("/new/deeper"), "/new/deeper is missing in the dir root DIR/ro/root, whose folder DIR/ro/root " + onRO + ": apply would make /new there"},
		{roRoot, tmpfs("/lnk/new"), "/lnk/new is missing in the dir root DIR/ro/root, whose folder DIR/ro/root/exists " + onRO + ": apply would make /exists/new there"},
		{rwRoot, "      - {type: bind, source: ./ro/data, target: /data}\n" + tmpfs("/data/new"), "t.yaml:9:9: environments.a.mounts[1].target: /data/new is missing in the bind at /data (environments.a.mounts[0]), whose host folder DIR/ro/data " + onRO + ", which the bind keeps: apply would make /data/new there (\"target if missing\") and fail (read-only file system); make DIR/ro/data/new on the host"},
		{rwRoot, "      - {type: volume, source: v, target: /data}\n" + tmpfs("/data/x"), "/data/x is missing in the volume at /data (environments.a.mounts[0]), whose host folder DIR/ro/vols/p/v " + onRO},
		{rwRoot, "      - {type: bind, source: ./ro/data/made, target: /data, create: true}\n", "t.yaml:8:30: environments.a.mounts[0].source: DIR/ro/data/made is missing, and apply would make it (create: true) in DIR/ro/data, which " + onRO + ": apply's mkdir would fail (read-only file system)"},
		{rwRoot, tmpfs("/sub/new"), "/sub/new is missing in the dir root DIR/rw/root, whose folder DIR/rw/root/sub is on a mount of the host's below the root's folder, which apply makes read-only with the root before the spec's mounts (rootfs.readonly): apply would make /sub/new there"},
		// There already, in an overlay's upper layer, or in a writable mount.
		{roRoot, tmpfs("/exists") + "      - {type: bind, source: ./ro/data, target: /data}\n" + tmpfs("/data/sub"), ""},
		{"{dir: ./ro/root, overlay: true}", tmpfs("/new"), ""},
		{rwRoot, tmpfs("/sub/there") + tmpfs("/new"), ""},
		{"{dir: ./rw/root, readonly: false}", tmpfs("/sub/new") + "      - {type: bind, source: ./rw/made, target: /data, create: true}\n", ""},
		{rwRoot, "      - {type: bind, source: ./ro/data, target: /data, readonly: true}\n" + tmpfs("/data/sub"), ""},
	} {
		text := "version: 1\nvolumes: {v: {}}\nenvironments:\n  a:\n    rootfs: " + c.rootfs + "\n    namespaces: [mnt, pid, net, ipc]\n    mounts:\n" + c.mounts +
			"    processes: [{name: main, command: [/bin/sh]}]\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{FolderStat: folderStat, Caller: &rootCaller, CacheDir: t.TempDir(), VolumeDir: filepath.Join(dir, "ro/vols"), Project: "p"}))
		got := ""
		if err != nil {
			got = strings.ReplaceAll(err.Error(), dir, "DIR")
		}
		switch {
		case c.want == "" && got != "":
			t.Errorf("%s\n%s: %s, want planned", c.rootfs, c.mounts, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s\n%s: %q, want refused: %q", c.rootfs, c.mounts, got, c.want)
		}
	}
}
