package planner

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestTargetKindFits: a mount whose target a dir root (or the host folder
// of an earlier bind) has as a file where it needs a folder, or a file on
// the way to it, is refused at its target, with the path and the
// ways out: the plan showed "mkdir target if missing" and apply failed at
// the mount with ENOTDIR (helper-133's review). Every error at once; an
// overlaid root too (the file is in its lower layer). Targets of the
// right kind (a file bound on a file), missing ones, and one below an
// earlier tmpfs plan.
func TestTargetKindFits(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"root/bin", "root/srv", "host/sub"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"root/bin/sh", "root/data", "root/data2", "host/file", "conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, overlay := range []bool{false, true} {
		text := `version: 1
environments:
  a:
    rootfs: {dir: ./root, overlay: ` + map[bool]string{false: "false", true: "true"}[overlay] + `}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /data}
      - {type: tmpfs, target: /data2/x}
      - {type: bind, source: ./host, target: /srv}
      - {type: bind, source: ./host, target: /mnt}
      - {type: proc, target: /mnt/file}
      - {type: tmpfs, target: /srv/ok}
      - {type: bind, source: ./conf, target: /bin/sh}
      - {type: tmpfs, target: /tmp}
      - {type: tmpfs, target: /tmp/data}
    processes:
      - {name: main, command: [/bin/sh]}
`
		got := planErrors(t, dir, text)
		for _, want := range []string{
			"t.yaml:7:9: environments.a.mounts[0].target: /data is a file in the dir root DIR/root (DIR/root/data), and a tmpfs mount needs a folder there: apply's mount would fail with ENOTDIR; make DIR/root/data a folder, or mount at another target",
			"t.yaml:8:9: environments.a.mounts[1].target: /data2/x lies in the dir root DIR/root below DIR/root/data2, a file, not a folder: apply could not reach the target (ENOTDIR); make DIR/root/data2 a folder, or mount at another target",
			"t.yaml:11:9: environments.a.mounts[4].target: /mnt/file is a file below the bind at /mnt (environments.a.mounts[3]), in its host folder DIR/host (DIR/host/file), and a proc mount needs a folder there",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("overlay %v: want\n  %s\nin\n  %s", overlay, want, got)
			}
		}
		for _, not := range []string{"mounts[5]", "mounts[6]", "mounts[7]", "mounts[8]"} {
			if strings.Contains(got, not+".target") {
				t.Errorf("overlay %v: %s refused: %s", overlay, not, got)
			}
		}
	}
}

// TestClosureTargetKindFits: a mount of a folder at a file of a closure
// root (/etc/hostname named in closure), or below one, is refused at its
// target: it planned, and apply failed at the mount with ENOTDIR
// (helper-133's review). A file bound on a closure file, and a folder
// mounted where the closure has a folder, plan.
func TestClosureTargetKindFits(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"conf", "conf2", "conf3"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o644)
	}
	text := `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh, ./conf, ./conf2, ./conf3]}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: ` + dir + `/conf}
      - {type: proc, target: ` + dir + `/conf2/x}
      - {type: bind, source: ./conf, target: ` + dir + `/conf3}
      - {type: tmpfs, target: /usr}
    processes:
      - {name: main, command: [/bin/sh]}
`
	got := planErrors(t, dir, text)
	for _, want := range []string{
		"t.yaml:7:9: environments.a.mounts[0].target: DIR/conf is a file of the closure root, from DIR/conf, and a tmpfs mount needs a folder there: apply's mount would fail (ENOTDIR); mount at another target, or leave that file out of the closure",
		"t.yaml:8:9: environments.a.mounts[1].target: DIR/conf2/x lies below DIR/conf2, a file of the closure root, from DIR/conf2, not a folder: apply could not reach the target (ENOTDIR); mount at another target, or leave that file out of the closure",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want\n  %s\nin\n  %s", want, got)
		}
	}
	for _, not := range []string{"mounts[2]", "mounts[3]"} {
		if strings.Contains(got, not+".target") {
			t.Errorf("%s refused: %s", not, got)
		}
	}
}

// TestFileOnFolderRefused: a bind of a file, a device node or a socket
// whose target is a folder of the tree the plan knows (a dir root, plain
// or overlaid, the host folder of an earlier bind it lies below, a
// closure or host root) is refused at its target, with the path and the
// ways out: it planned, and apply's move_mount failed with EINVAL (the
// kernel binds a non-folder only on a non-folder); so is a target below
// an earlier bind of a file (ENOTDIR on the way). Every error at once.
// A file bound on a file, at a missing target, below an earlier tmpfs,
// and a folder bound on a folder, plan.
func TestFileOnFolderRefused(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"root/bin", "root/xdir", "root/ydir", "root/ok", "host/sub"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"root/bin/sh", "root/file", "conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, overlay := range []string{"false", "true"} {
		text := `version: 1
environments:
  a:
    rootfs: {dir: ./root, overlay: ` + overlay + `}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./conf, target: /xdir}
      - {type: bind, source: /dev/null, target: /ydir, readonly: true}
      - {type: bind, source: ./host, target: /srv}
      - {type: bind, source: ./sock, target: /srv/sub}
      - {type: bind, source: ./conf, target: /file}
      - {type: bind, source: ./conf, target: /missing}
      - {type: tmpfs, target: /ok}
      - {type: bind, source: ./conf, target: /ok/conf}
      - {type: bind, source: ./host, target: /mnt}
      - {type: tmpfs, target: /missing/x}
    processes:
      - {name: main, command: [/bin/sh]}
`
		got := planErrors(t, dir, text)
		for _, want := range []string{
			"t.yaml:7:9: environments.a.mounts[0].target: /xdir is a folder in the dir root DIR/root (DIR/root/xdir), and the bind of DIR/conf, a file, needs a file there: apply's mount would fail (EINVAL); bind it at a path that is not a folder, or make DIR/root/xdir a file",
			"t.yaml:8:9: environments.a.mounts[1].target: /ydir is a folder in the dir root DIR/root (DIR/root/ydir), and the bind of /dev/null, a device, needs a file there",
			"t.yaml:10:9: environments.a.mounts[3].target: /srv/sub is a folder below the bind at /srv (environments.a.mounts[2]), in its host folder DIR/host (DIR/host/sub), and the bind of DIR/sock, a socket, needs a file there: apply's mount would fail (EINVAL); bind it at a path that is not a folder, or make DIR/host/sub a file",
			"t.yaml:16:9: environments.a.mounts[9].target: /missing/x lies below the bind at /missing (environments.a.mounts[5]) of DIR/conf, a file, not a folder: apply could not reach the target (ENOTDIR); mount at another target",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("overlay %s: want\n  %s\nin\n  %s", overlay, want, got)
			}
		}
		for _, not := range []string{"mounts[2]", "mounts[4]", "mounts[5]", "mounts[6]", "mounts[7]", "mounts[8]"} {
			if strings.Contains(got, not+".target") {
				t.Errorf("overlay %s: %s refused: %s", overlay, not, got)
			}
		}
	}
}

// TestClosureFileOnFolderRefused: a bind of a file whose target is a
// folder of a closure root (one its files are in), or of a host root (a
// folder of rootfs.host), is refused at its target; so is one below a
// file of the closure (before, a file's bind was not looked at). A file
// bound on a closure file, or at a path the root lacks, plans.
func TestClosureFileOnFolderRefused(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"conf", "a/conf2", "b/conf3"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o644)
	}
	for _, c := range []struct{ name, rootfs, target, want, below string }{
		{"closure", "{closure: [/bin/sh, ./a/conf2, ./b/conf3]}", dir + "/b", "t.yaml:7:9: environments.a.mounts[0].target: DIR/b is a folder of the closure root, and the bind of DIR/conf, a file, needs a file there: apply's mount would fail (EINVAL); bind it at a path that is not a folder of the root",
			"t.yaml:8:9: environments.a.mounts[1].target: DIR/a/conf2/x lies below DIR/a/conf2, a file of the closure root, from DIR/a/conf2, not a folder"},
		{"host", "{host: [/usr, " + dir + "/a/conf2, " + dir + "/b/conf3]}", dir + "/b", "t.yaml:7:9: environments.a.mounts[0].target: DIR/b is a folder of the host root, and the bind of DIR/conf, a file, needs a file there",
			"t.yaml:8:9: environments.a.mounts[1].target: DIR/a/conf2/x lies below the bind at DIR/a/conf2 (environments.a.rootfs.host[1]) of DIR/a/conf2, a file, not a folder: apply could not reach the target (ENOTDIR); mount at another target"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := `version: 1
environments:
  a:
    rootfs: ` + c.rootfs + `
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./conf, target: ` + c.target + `}
      - {type: bind, source: ./conf, target: ` + dir + `/a/conf2/x}
      - {type: bind, source: ./conf, target: /nothere}
    processes:
      - {name: main, command: [/bin/sh]}
`
			got := planErrors(t, dir, text)
			for _, want := range []string{c.want, c.below} {
				if !strings.Contains(got, want) {
					t.Errorf("want\n  %s\nin\n  %s", want, got)
				}
			}
			if strings.Contains(got, "mounts[2]") {
				t.Errorf("mounts[2] refused: %s", got)
			}
		})
	}
}

// TestMissingSourceNoTargetKind: a bind whose source is missing gets
// the source's error alone; before helper-136's review it was also told
// that its target, a file, needed a folder (the missing source taken for
// a folder's bind), which pointed at create: true.
func TestMissingSourceNoTargetKind(t *testing.T) {
	_, err := compileText(t, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./missing.txt, target: /bin/sh}
    processes:
      - {name: main, command: [/bin/sh]}
`, Options{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "mounts[0].source:") || strings.Contains(err.Error(), "mounts[0].target:") {
		t.Errorf("got %v, want the source's error alone", err)
	}
}

// planErrors plans text (t.yaml in dir) as root, and returns its errors
// ("" for none) with dir written DIR.
func planErrors(t *testing.T, dir, text string) string {
	t.Helper()
	s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = Compile(s, fixedOptions(Options{Caller: &rootCaller, CacheDir: t.TempDir()})); err != nil {
		return strings.ReplaceAll(err.Error(), dir, "DIR")
	}
	return ""
}
