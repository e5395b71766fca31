package planner

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestPathJoinIdentity: a namespace joined by path is named in the plan
// by what it was when planned (its inode and its owner's), which apply
// checks on the file it opens (TestRootJoinPathSwapped); a path that is
// not such a namespace then is said so, and left without one.
func TestPathJoinIdentity(t *testing.T) {
	var uts, user syscall.Stat_t
	if syscall.Stat("/proc/self/ns/uts", &uts) != nil || syscall.Stat("/proc/self/ns/user", &user) != nil {
		skipOrFail(t, "needs /proc/self/ns")
	}
	p, err := compileLimits(t, `version: 1
environments:
  a:
    rootfs: {dir: `+shRoot(t)+`}
    namespaces: [user, mnt, pid]
    join: {uts: /proc/self/ns/uts, ipc: /proc/self/ns/uts, net: /nonexistent/nsup-ns}
    processes: [{name: main, command: [/bin/sh]}]
`, userCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	got := map[CloneFlags]NSIdentity{}
	for _, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(Setns); ok {
			got[op.NSType] = op.NSIdentity
		}
	}
	if want := (NSIdentity{NS: uts.Ino, Owner: user.Ino}); got[syscall.CLONE_NEWUTS] != want {
		t.Errorf("uts: %+v, want %+v (nsup's own, owned by its user namespace)", got[syscall.CLONE_NEWUTS], want)
	}
	if got[syscall.CLONE_NEWIPC] != (NSIdentity{}) || got[syscall.CLONE_NEWNET] != (NSIdentity{}) {
		t.Errorf("a uts namespace as ipc, and a missing file: %+v, %+v, want none", got[syscall.CLONE_NEWIPC], got[syscall.CLONE_NEWNET])
	}
	var b bytes.Buffer
	Render(&b, p)
	for _, want := range []string{
		`setns("/proc/self/ns/uts" = uts:[` + strconv.FormatUint(uts.Ino, 10) + `], CLONE_NEWUTS)`,
		`setns("/proc/self/ns/uts" (no ipc namespace nsup could open there when planned: apply refuses it), CLONE_NEWIPC)`,
		`setns("/nonexistent/nsup-ns" (no net namespace nsup could open there when planned: apply refuses it), CLONE_NEWNET)`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the plan does not say %s:\n%s", want, b.String())
		}
	}
}

// A join's path is the spec's: a FIFO or a device named there is never
// opened, by the plan nor by apply (OpenNS, which both use). Opened for
// reading, a FIFO blocked nsup plan for good (here the test's writer
// meets that open, which is then seen), and a device's open, root's
// under sudo, is an act of its own (a watchdog arms). A namespace file
// still opens.
func TestJoinPathOpensNamespaceFilesOnly(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	met := make(chan error, 1)
	go func() {
		// Blocks until the FIFO is opened for reading: by the plan (on
		// the code before), or by the test below.
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			f.Close()
		}
		met <- err
	}()
	dev := filepath.Join(dir, "dev")
	os.Symlink("/dev/null", dev)
	for _, p := range []string{fifo, dev} {
		if f := openNSFile(p); f.opened || !errors.Is(f.err, ErrNotNS) {
			t.Errorf("%s: opened %v, %v; want it refused unopened (%v)", p, f.opened, f.err, ErrNotNS)
		}
	}
	// The writer let go (its open met by this one, not blocking).
	if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
		<-met
		r.Close()
	}
	if f := openNSFile("/proc/self/ns/uts"); !f.known() || f.nstype != syscall.CLONE_NEWUTS {
		t.Errorf("/proc/self/ns/uts: %+v, want the uts namespace", f)
	}
}
