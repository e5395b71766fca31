package executor_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

const volumeSpec = `version: 1
name: proj
volumes:
  data: {mode: "0700", owner: "1000:1001"}
environments:
  vol:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: volume, source: data, target: /data}
      - {type: bind, source: ./made/deep, target: /made, create: true}
    processes:
      - name: main
        command: [/bin/sh, -c, "cat /data/x || echo none; echo kept > /data/x; ls -ld /made | cut -c1-10"]
`

// A volume is made on first use with its mode and owner, keeps what the
// environment wrote across applies, and a bind with create: true makes
// its folder; an apply that fails at any step removes what it made (both
// still empty, and the volume's parents and lock).
func TestRootVolumes(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	applets(t, filepath.Join(dir, "rootfs"), "sh", "cat", "ls", "cut")
	vols := filepath.Join(dir, "volumes")
	t.Setenv("NSUP_VOLUME_DIR", vols)
	p := compile(t, dir, volumeSpec)
	vol := filepath.Join(vols, "proj", "data")
	made := filepath.Join(dir, "made")
	text := planText(p)
	for _, want := range []string{
		fmt.Sprintf(`mkdir(%q, 0700), chown(1000, 1001) if missing: volume "data", after flock(%q, LOCK_SH|LOCK_NB), held while nsup runs it`, vol, vol+".lock"),
		fmt.Sprintf(`mkdir(%q, 0755) if missing, and its parents`, filepath.Join(made, "deep")),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %s:\n%s", want, text)
		}
	}
	env := p.Environments[0]
	for i, st := range env.Steps {
		if st.Stage != planner.Host && st.Stage != planner.Child {
			continue
		}
		opts := executor.FailAt(executor.Options{}, env.Name, i, unix.EPERM)
		if _, _, _, err := run(t, p, opts); err == nil || !errors.Is(err, unix.EPERM) {
			t.Fatalf("step %d: %v, want it to fail", i, err)
		}
		// Nor the folders above the volume, nor its lock (found by a
		// review: the project's folder and nsup's volume folder were left).
		for _, d := range []string{vol, made, vol + ".lock", filepath.Dir(vol), vols} {
			if _, err := os.Lstat(d); err == nil {
				t.Errorf("failed at step %d (%s): %s is left", i, planner.FormatOp(st.Op), d)
				os.RemoveAll(d)
			}
		}
	}
	if st, out, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 || out != "none\ndrwxr-xr-x\n" {
		t.Errorf("first apply: %d %v %q %q", st, err, out, errOut)
	}
	b, err := os.ReadFile(filepath.Join(vol, "x"))
	t.Logf("x: %q %v", b, err)
	var st unix.Stat_t
	if err := unix.Lstat(vol, &st); err != nil || st.Mode&0o7777 != 0o700 || st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("volume: %v mode %o owner %d:%d, want 0700 1000:1001", err, st.Mode&0o7777, st.Uid, st.Gid)
	}
	// The second apply finds what the first wrote; the folders are kept.
	if out := runOK(t, p); out != "kept\ndrwxr-xr-x\n" {
		t.Errorf("second apply: %q", out)
	}
	// A symlink where the volume is: refused, never followed.
	os.RemoveAll(vol)
	os.Symlink(dir, vol)
	if _, _, _, err := run(t, p, executor.Options{}); err == nil || !strings.Contains(err.Error(), "is not a folder (a symlink is refused)") {
		t.Errorf("a symlink as the volume: %v", err)
	}
	os.Remove(vol)
	// A symlink on the way to a create: true source (a folder root inside
	// another environment may write, swapped): the mkdir does not follow
	// it, not even for the length of the apply.
	os.RemoveAll(made)
	outside := filepath.Join(dir, "outside")
	os.Mkdir(outside, 0o755)
	os.Symlink(outside, made)
	// A failed apply removes what it made: inotify sees it made at all.
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, outside, unix.IN_CREATE); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := run(t, p, executor.Options{}); err == nil || !strings.Contains(err.Error(), "a symlink is in this path") {
		t.Errorf("a symlink in the path of a create: true source: %v", err)
	}
	buf := make([]byte, 4096)
	if n, _ := unix.Read(in, buf); n > 0 {
		t.Errorf("a folder was made through the symlink, in %s", outside)
	}
	os.Remove(made)
}

// A Volume step whose folder cannot be made (its filesystem has no inode
// left once the step has made nsup's volume folder, the project's and the
// lock): the apply fails, and leaves none of the three. Found by a
// review: the lock and so the project's folder were left.
func TestRootVolumeNoRoomLeavesNothing(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	applets(t, filepath.Join(dir, "rootfs"), "sh", "cat", "ls", "cut")
	small := filepath.Join(dir, "small")
	os.Mkdir(small, 0o700)
	// Four inodes: the tmpfs's root, volumes, proj and data.lock.
	if err := unix.Mount("none", small, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "nr_inodes=4,size=1m,mode=0700"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(small, unix.MNT_DETACH) })
	vols := filepath.Join(small, "volumes")
	t.Setenv("NSUP_VOLUME_DIR", vols)
	p := compile(t, dir, volumeSpec)
	if _, _, _, err := run(t, p, executor.Options{}); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("apply with no room for the volume: %v, want ENOSPC", err)
	}
	for _, d := range []string{planner.VolumeLockPath(vols, "proj", "data"), filepath.Join(vols, "proj"), vols} {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("the failed apply left %s", d)
		}
	}
}
