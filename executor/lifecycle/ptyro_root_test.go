package lifecycle

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary is nsup's pty reopener when ReadOnlyPtyRootless starts
// it again (/proc/self/exe) as one.
func TestMain(m *testing.M) {
	if IsPtyReopener() {
		os.Exit(RunPtyReopener(os.Stderr))
	}
	os.Exit(m.Run())
}

// TestRootExecTTYReopen: the reopen of nsup exec -t's pty, made in
// this mount namespace (ReadOnlyPty, root's) and by the helper in a user
// and mount namespace of its own (ReadOnlyPtyRootless, a rootless nsup's;
// run here as root, mapped to 0 in it), is the same terminal, on a
// read-only mount that outlives the helper: fchmod, fchown, and chmod
// or chown through /proc/self/fd fail with EROFS, the host's node keeps
// its mode, and what is written to it reaches the master. Before
// helper-106's change, the rootless nsup had no reopen (exec -t was
// refused without a dev), and ReadOnlyPty cloned the fd itself, which
// fails (EINVAL) outside the mount namespace it was opened in.
func TestRootExecTTYReopen(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (a user namespace mapping 0, a mount clone)")
	}
	for name, reopen := range map[string]func(int) (int, error){"root": ReadOnlyPty, "helper": ReadOnlyPtyRootless} {
		t.Run(name, func(t *testing.T) {
			master, mfd, slave, err := OpenPty()
			if err != nil {
				t.Fatal(err)
			}
			defer master.Close()
			defer unix.Close(slave)
			var before unix.Stat_t
			if err := unix.Fstat(slave, &before); err != nil {
				t.Fatal(err)
			}
			ro, err := reopen(slave)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer unix.Close(ro)
			var fs unix.Statfs_t
			if err := unix.Fstatfs(ro, &fs); err != nil || fs.Flags&unix.ST_RDONLY == 0 {
				t.Errorf("the reopened terminal's mount: flags %#x, %v, want read-only", fs.Flags, err)
			}
			if !sameNode(slave, ro) {
				t.Errorf("the reopened fd is not the terminal")
			}
			proc := fmt.Sprintf("/proc/self/fd/%d", ro)
			for what, err := range map[string]error{
				"fchmod":       unix.Fchmod(ro, 0o666),
				"fchown":       unix.Fchown(ro, 0, 0),
				"chmod (proc)": unix.Chmod(proc, 0o666),
				"chown (proc)": unix.Chown(proc, 0, 0),
			} {
				if err != unix.EROFS {
					t.Errorf("%s of the reopened terminal: %v, want EROFS", what, err)
				}
			}
			var after unix.Stat_t
			if err := unix.Fstat(slave, &after); err != nil || after.Mode != before.Mode || after.Uid != before.Uid || after.Gid != before.Gid {
				t.Errorf("the host's node: mode %o %d:%d, was %o %d:%d (%v)", after.Mode, after.Uid, after.Gid, before.Mode, before.Uid, before.Gid, err)
			}
			if _, err := unix.Write(ro, []byte("hi\n")); err != nil {
				t.Fatalf("write the reopened terminal: %v", err)
			}
			unix.SetNonblock(mfd, false)
			var got []byte
			for len(got) < 4 {
				buf := make([]byte, 16)
				n, err := unix.Read(mfd, buf)
				if err != nil {
					t.Fatalf("read the master: %v (read %q)", err, got)
				}
				got = append(got, buf[:n]...)
			}
			if string(got) != "hi\r\n" {
				t.Errorf("the master read %q, want \"hi\\r\\n\"", got)
			}
		})
	}
}
