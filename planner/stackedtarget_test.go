package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStackedTargetKind: a mount at the point of an earlier one is made
// on that mount, not on the root's path, and is refused at its target,
// naming the earlier one's line, where the kinds do not fit: a file bound
// where a tmpfs, a folder's bind or a volume was mounted (the dir root
// lacks the path: apply's mkdir made a folder, and the bind's move_mount
// failed with EINVAL), a folder bound over a file's bind (EINVAL), a
// tmpfs over it (ENOTDIR). Each planned before helper-139's survey, and
// apply failed at the later mount. The stacks that apply plan: the same
// kind twice (a tmpfs, proc, a folder's bind, a file's bind), a bind of
// a folder on a tmpfs, proc on a tmpfs, and mounts below an earlier
// tmpfs or bind at deeper targets (a folder, a file, a file bound on a
// file of the bound folder).
func TestStackedTargetKind(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"host/sub"}, nil)
	for _, f := range []string{"file", "file2", "host/afile"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const (
		tmpfs  = "      - {type: tmpfs, target: /m}\n"
		folder = "      - {type: bind, source: ./host, target: /m}\n"
		file   = "      - {type: bind, source: ./file, target: /m}\n"
		file2  = "      - {type: bind, source: ./file2, target: /m}\n"
		proc   = "      - {type: proc, target: /m}\n"
		volume = "      - {type: volume, source: v, target: /m, readonly: true}\n"
	)
	opts := fixedOptions(Options{Caller: &rootCaller, CacheDir: t.TempDir(), VolumeDir: filepath.Join(dir, "vols"), Project: "p"})
	checkRefusals(t, dir, "mnt, pid", "volumes:\n  v: {}\n", opts, []refusal{
		{tmpfs + file, "", "t.yaml:8:9: environments.a.mounts[1].target: /m is where environments.a.mounts[0] (line 7), a tmpfs, is mounted before it and leaves a folder, and the bind of " + dir + "/file, a file, needs a file there: apply's mount would fail (EINVAL); bind it at another target, or drop one of the two (at one point, the later mount covers the earlier whole)"},
		{folder + file, "", "t.yaml:8:9: environments.a.mounts[1].target: /m is where environments.a.mounts[0] (line 7), a bind of the folder " + dir + "/host, is mounted before it and leaves a folder"},
		{volume + file, "", "t.yaml:8:9: environments.a.mounts[1].target: /m is where environments.a.mounts[0] (line 7), a volume, is mounted before it and leaves a folder"},
		{file + folder, "", "t.yaml:8:9: environments.a.mounts[1].target: /m is where environments.a.mounts[0] (line 7), the bind of " + dir + "/file, is mounted before it and leaves a file, and the bind of " + dir + "/host, a folder, needs a folder there: apply's mount would fail (EINVAL); mount at another target, or drop one of the two"},
		{file + tmpfs, "", "t.yaml:8:9: environments.a.mounts[1].target: /m is where environments.a.mounts[0] (line 7), the bind of " + dir + "/file, is mounted before it and leaves a file, and a tmpfs mount needs a folder there: apply's mount would fail (ENOTDIR)"},
		{file + proc, "", "t.yaml:8:9: environments.a.mounts[1].target: /m is where environments.a.mounts[0] (line 7), the bind of " + dir + "/file, is mounted before it and leaves a file, and a proc mount needs a folder there"},
		{tmpfs + "      - {type: tmpfs, target: /m/x}\n      - {type: bind, source: ./file, target: /m/x}\n", "", "t.yaml:9:9: environments.a.mounts[2].target: /m/x is where environments.a.mounts[1] (line 8), a tmpfs, is mounted before it and leaves a folder"},
		{tmpfs + tmpfs, "", ""},
		{proc + proc, "", ""},
		{folder + folder, "", ""},
		{file + file2, "", ""},
		{folder + tmpfs, "", ""},
		{tmpfs + folder, "", ""},
		{tmpfs + proc, "", ""},
		{volume + tmpfs, "", ""},
		{tmpfs + "      - {type: bind, source: ./host, target: /m/x}\n", "", ""},
		{tmpfs + "      - {type: bind, source: ./file, target: /m/x}\n", "", ""},
		{folder + "      - {type: bind, source: ./file, target: /m/afile}\n", "", ""},
	})
}

// TestStackedTargetKindLanding: a mount whose target leads, through a
// link of the root, to where an earlier mount is, or below an earlier
// bind of a file, is checked against that mount. In a root of host
// folders with DIR/lnk a link to real, a file bound at DIR/lnk/t over
// a tmpfs at DIR/real/t planned, and apply's move_mount failed with
// EINVAL; so did a tmpfs at DIR/lnk/conf/x below a file bound at
// DIR/real/conf, and apply failed with ENOTDIR (by hand, helper-139,
// in roots of both kinds). A folder bound over the tmpfs, and a tmpfs
// below it, plan.
func TestStackedTargetKindLanding(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "real/t"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"file", "real/conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("real", filepath.Join(dir, "lnk")); err != nil {
		t.Fatal(err)
	}
	host := "{host: [/usr, " + dir + "/real, " + dir + "/lnk]}"
	for _, c := range []struct{ mounts, want string }{
		{"      - {type: tmpfs, target: " + dir + "/real/t}\n      - {type: bind, source: ./file, target: " + dir + "/lnk/t}\n",
			"t.yaml:8:9: environments.a.mounts[1].target: DIR/lnk/t (it lands at DIR/real/t, through the links on its way) is where environments.a.mounts[0] (line 7), a tmpfs, is mounted before it and leaves a folder, and the bind of DIR/file, a file, needs a file there: apply's mount would fail (EINVAL)"},
		{"      - {type: bind, source: ./file, target: " + dir + "/real/conf}\n      - {type: tmpfs, target: " + dir + "/lnk/conf/x}\n",
			"t.yaml:8:9: environments.a.mounts[1].target: DIR/lnk/conf/x (it lands at DIR/real/conf/x, through the links on its way) lies below DIR/real/conf, where environments.a.mounts[0] (line 7), the bind of DIR/file, leaves a file, not a folder: apply could not reach the target (ENOTDIR); mount at another target, or bind a folder at DIR/real/conf"},
		{"      - {type: tmpfs, target: " + dir + "/real/t}\n      - {type: bind, source: ./real, target: " + dir + "/lnk/t}\n", ""},
		{"      - {type: tmpfs, target: " + dir + "/real/t}\n      - {type: tmpfs, target: " + dir + "/lnk/t/x}\n", ""},
	} {
		got := planErrors(t, dir, `version: 1
environments:
  a:
    rootfs: `+host+`
    namespaces: [mnt, pid]
    mounts:
`+c.mounts+`    processes:
      - {name: main, command: [/usr/bin/env]}
`)
		switch {
		case c.want == "" && got != "":
			t.Errorf("%s: %s, want planned", c.mounts, got)
		case c.want != "" && (!strings.Contains(got, c.want) || strings.Count(got, ": environments.") != 1):
			t.Errorf("%s: got\n  %s\nwant only\n  %s", c.mounts, got, c.want)
		}
	}
}

// TestStackedOnHostFile: a tmpfs at a file that rootfs.host binds is
// told that bind leaves a file there, naming its line (the host root's
// tree has the file as its mount point).
func TestStackedOnHostFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "conf"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := planErrors(t, dir, `version: 1
environments:
  a:
    rootfs: {host: [/usr, `+dir+`/conf]}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: `+dir+`/conf}
    processes:
      - {name: main, command: [/usr/bin/env]}
`)
	want := "t.yaml:7:9: environments.a.mounts[0].target: DIR/conf is where environments.a.rootfs.host[1] (line 4), the bind of DIR/conf, is mounted before it and leaves a file, and a tmpfs mount needs a folder there: apply's mount would fail (ENOTDIR)"
	if !strings.Contains(got, want) || strings.Count(got, "mounts[0].target") != 1 {
		t.Errorf("got\n  %s\nwant only\n  %s", got, want)
	}
}
