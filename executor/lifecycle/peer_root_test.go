package lifecycle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// serveControl listens on dir/control.sock as uid (listen(2) records the
// credentials nsup exec's SO_PEERCRED sees: those of a thread whose
// effective uid is uid, on a thread of its own that is never given back)
// and answers every connection with a status reply naming a process
// "planted", until the test ends.
func serveControl(t *testing.T, dir string, uid int) {
	t.Helper()
	ready := make(chan error, 1)
	var lfd int
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(dir, planner.ControlFile)})
		}
		if err == nil && uid != 0 {
			// This thread only (the raw system call, not Go's, which
			// changes every thread).
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
				err = e
			}
		}
		if err == nil {
			err = unix.Listen(fd, 4)
		}
		lfd = fd
		ready <- err
		if err != nil {
			return
		}
		reply, _ := json.Marshal(StatusReply{Processes: []ProcStatus{{Name: "planted", Running: true}}})
		for {
			c, _, err := unix.Accept(fd)
			if err != nil {
				return
			}
			buf := make([]byte, MaxExecMsg)
			unix.Read(c, buf)
			unix.Write(c, reply)
			unix.Close(c)
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Shutdown(lfd, unix.SHUT_RDWR); unix.Close(lfd) })
}

// TestRootControlPeer: nsup exec and ps talk to an environment's init
// only if its control socket was made by the caller's uid (SO_PEERCRED,
// as containerd's ttrpc requires of its shims): a control.sock of another
// user's, reached whatever way (a state directory through another user's
// symlink, TestRootCheckOthersLink, found by a real run in which nsup
// exec handed the caller's stdio to another user's environment), gets
// nothing. Status, which asks without checking the state directory
// (its caller has), took the other user's answer before.
func TestRootControlPeer(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (a socket of another uid)")
	}
	for _, c := range []struct {
		uid  int
		want string // "" for the reply
	}{{0, ""}, {1234, "uid 1234"}} {
		dir := t.TempDir()
		serveControl(t, dir, c.uid)
		r, err := Status(EnvStatus{Running: true, Dir: dir, State: State{Name: "web"}})
		switch {
		case c.want == "" && (err != nil || len(r.Processes) != 1 || r.Processes[0].Name != "planted"):
			t.Errorf("socket of uid %d: Status = %+v, %v; want the reply", c.uid, r, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("socket of uid %d: Status = %+v, %v; want an error naming %s", c.uid, r, err, c.want)
		}
	}
}
