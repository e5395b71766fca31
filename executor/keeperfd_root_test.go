package executor_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestRootKeeperKeepsRuntimeFDs: pasta's keeper closes the fds nsup's
// caller left open (not close-on-exec: they came through the execve),
// and only those. It closed every fd above pasta's, the Go runtime's own
// with them (its epoll and event fds once its poller is up, which a
// timer of the runtime's may do before the keeper's first line): the
// keeper then died, "runtime: netpoll failed", and pasta with it (found
// by a review: 8 of 150 applies with a pasta network failed with
// "pasta did not set the network up"). The test binary's keeper here
// brings its poller up first (NSUP_TEST_KEEPER_POLL, TestMain).
func TestRootKeeperKeepsRuntimeFDs(t *testing.T) {
	requireRoot(t)
	bb := requireBusybox(t)
	checkHost(t)
	self, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		skipOrFail(t, fmt.Sprintf("pidfd_open: %v", err))
	}
	pidfd := os.NewFile(uintptr(self), "pidfd")
	defer pidfd.Close()
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	leak, leakW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	var st unix.Stat_t
	unix.Fstat(int(leak.Fd()), &st)
	leakLink := fmt.Sprintf("pipe:[%d]", st.Ino)
	// The "pasta" lists its keeper's fds on its fd 3 (the keeper's 4),
	// and ends a moment later: the keeper waits meanwhile.
	args := append(append([]string{}, planner.KeeperArgv...), "1", bb, "sh", "-c", "ls -l /proc/$PPID/fd >&3; exec 3>&-; sleep 0.3")
	var stderr bytes.Buffer
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: args, Env: []string{"NSUP_TEST_KEEPER_POLL=1"}, Stderr: &stderr,
		// fd 3 the pidfd, 4 pasta's; the caller's pipe at 9.
		ExtraFiles: []*os.File{pidfd, outW, nil, nil, nil, nil, leakW}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	leakW.Close()
	listing, _ := io.ReadAll(out)
	err = cmd.Wait()
	if err != nil || strings.Contains(stderr.String(), "netpoll") {
		t.Errorf("keeper: %v: %s", err, stderr.String())
	}
	if !bytes.Contains(listing, []byte(" 3 -> anon_inode:[pidfd]")) {
		t.Errorf("the keeper's fds, as pasta saw them:\n%s", listing)
	}
	if bytes.Contains(listing, []byte(leakLink)) {
		t.Errorf("the keeper holds the caller's pipe:\n%s", listing)
	}
}
