package executor_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestRootIdmapOverlayRoot: a closure root under an overlay, in a cache
// of 0700 folders, with root inside mapped to host uid 100000. Planned,
// it was refused until helper-111's stop (the child opened the overlay's
// lower folder by path, which that uid may not search). Now the host
// clones the tree, idmaps the clone through the child's user namespace,
// and the child lays the overlay on it: root inside writes anywhere in
// the tree, new files and copied-up ones alike, and sees the tree as its
// own (the host's uid 0 is root inside); the host sees the written files
// as uid 100000's, and the cache entry as it was. Without the idmap (the
// IdmapTree step skipped) the tree is nobody's inside, and root inside
// may not write /etc/passwd nor make a folder in /etc (EACCES).
func TestRootIdmapOverlayRoot(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	os.Mkdir(cache, 0o700)
	yaml := `version: 1
environments:
  c:
    rootfs: {closure: [/bin/busybox], overlay: true}
    namespaces: [user, mnt, pid]` + mappedIDs + `
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "id -u; echo new > /new && echo more >> /etc/passwd && mkdir /etc/d && busybox stat -c '%n %u:%g' / /new /etc /etc/passwd /etc/d /bin/busybox && echo ready && read go"]}
`
	p, err := compileErr(t, dir, yaml)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	root := ""
	for _, st := range p.Environments[0].Steps {
		if r, ok := st.Op.(planner.Rootfs); ok {
			root = r.Path
		}
	}
	text := planText(p)
	for _, want := range []string{
		strconv.Quote(root) + ", OPEN_TREE_CLONE|AT_RECURSIVE), no symlink in the path, made private: its fd for the child, the overlay root's lower layer",
		"mount_setattr(the host's clone of " + strconv.Quote(root) + ", AT_EMPTY_PATH|AT_RECURSIVE, MOUNT_ATTR_IDMAP, userns_fd of /proc/$CHILD/ns/user)",
		`overlay(fsopen, lowerdir=the host's clone of ` + strconv.Quote(root) + `, upperdir and workdir on a new tmpfs, userxattr, MS_NODEV), the tmpfs and the clone on "/" while it is made (then umount2 of the tmpfs, MNT_DETACH), move_mount(its fd, "/"), its fd the root's`,
	} {
		if root == "" || !strings.Contains(text, want) {
			t.Fatalf("plan lacks %s:\n%s", want, text)
		}
	}
	var out syncBuffer
	up := make(chan int, 1)
	// The process waits for its stdin's line, sent once the host has
	// looked (or its end, if the test fails first).
	stdin, resume := io.Pipe()
	defer resume.Close()
	opts := executor.OnStart(executor.Options{Stdin: stdin, Stdout: &out, Stderr: &out}, func(_ string, pid int) { up <- pid })
	done := make(chan struct{})
	var st int
	go func() {
		defer close(done)
		st, err = executor.Apply(context.Background(), p, opts)
	}()
	var pid int
	select {
	case pid = <-up:
	case <-done:
		t.Fatalf("apply: %d %v\n%s", st, err, out.String())
	}
	waitFor(t, &out, "ready")
	// From the host, through the environment's root: what root inside
	// wrote is host uid 100000's, in the overlay's upper tmpfs.
	inside := filepath.Join("/proc", strconv.Itoa(pid), "root")
	for _, f := range []string{"new", "etc/passwd", "etc/d"} {
		var s unix.Stat_t
		if err := unix.Lstat(filepath.Join(inside, f), &s); err != nil || s.Uid != 100000 || s.Gid != 100000 {
			t.Errorf("/%s from the host: %v owner %d:%d, want 100000:100000", f, err, s.Uid, s.Gid)
		}
	}
	// The environment's mount table is its root's overlay alone: the
	// scratch tmpfs and the clone left "/" before the overlay went there,
	// so the umount2 after pivot_root took the old root, with the host's
	// mounts. (helper-111's first version left the tmpfs and the clone on
	// the old root's "/", under the overlay: that umount2 took the tmpfs,
	// and the host's whole mount tree stayed on the environment's root.)
	if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "mountinfo")); err != nil || strings.Count(string(b), "\n") != 1 ||
		!strings.Contains(string(b), " / / rw,nodev,relatime - overlay overlay ") || !strings.Contains(string(b), ",userxattr\n") {
		t.Errorf("mountinfo: %v\n%s, want the overlay alone", err, b)
	}
	// Nor may the host's root write there: its uid 0 is not in the
	// upper tmpfs's user namespace.
	if err := os.WriteFile(filepath.Join(inside, "host"), nil, 0o644); !errors.Is(err, unix.EOVERFLOW) {
		t.Errorf("the host's write in the overlay: %v, want EOVERFLOW", err)
	}
	resume.Write([]byte("go\n"))
	resume.Close()
	<-done
	want := "0\n/ 0:0\n/new 0:0\n/etc 0:0\n/etc/passwd 0:0\n/etc/d 0:0\n/bin/busybox 0:0\nready\n"
	if err != nil || st != 0 || out.String() != want {
		t.Errorf("apply: %d %v, output %q, want %q", st, err, out.String(), want)
	}
	// The cache entry as it was, the host root's; its folders 0700.
	if b, err := os.ReadFile(filepath.Join(root, "etc/passwd")); err != nil || bytes.Contains(b, []byte("more")) {
		t.Errorf("the cache's /etc/passwd: %v %q, want it unwritten", err, b)
	}
	for _, f := range []string{"new", "etc/d", "host"} {
		if _, err := os.Lstat(filepath.Join(root, f)); !os.IsNotExist(err) {
			t.Errorf("the cache's /%s: %v, want none", f, err)
		}
	}
	for _, f := range []string{root, filepath.Join(root, "etc/passwd"), filepath.Join(root, "bin/busybox")} {
		var s unix.Stat_t
		if err := unix.Lstat(f, &s); err != nil || s.Uid != 0 || s.Gid != 0 {
			t.Errorf("%s: %v owner %d:%d, want the host root's", f, err, s.Uid, s.Gid)
		}
	}
	for _, d := range []string{cache, filepath.Join(cache, "closure")} {
		var s unix.Stat_t
		if err := unix.Lstat(d, &s); err != nil || s.Mode&0o777 != 0o700 || s.Uid != 0 {
			t.Errorf("%s: %v mode %o owner %d, want 0700 root's", d, err, s.Mode&0o777, s.Uid)
		}
	}
}
