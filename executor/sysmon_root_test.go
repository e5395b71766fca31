package executor_test

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// CalmSysmon (called by this test binary's init, as by nsup apply) raises
// the runtime's monitor thread's timer slack, and that thread's only;
// every process an environment starts still gets the slack nsup was
// started with, even from a thread whose own slack is not that: here the
// thread Apply runs on (a lone environment is applied on the caller's
// thread), given 10 ms first. Without ownSlack the child would inherit
// those 10 ms (prctl(2): a child gets its creating thread's slack, and
// keeps it across execve).
func TestRootTimerSlack(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	own := readSlack(t, "/proc/self/timerslack_ns") // the main thread's
	// The threads in the order they were made, as the directory lists
	// them (not sorted: thread ids are not made in order once pids wrap).
	d, err := os.Open("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := d.Readdirnames(-1)
	d.Close()
	if err != nil || len(tasks) < 2 || tasks[0] != strconv.Itoa(os.Getpid()) {
		t.Fatalf("threads: %v %v", tasks, err)
	}
	if got := readSlack(t, "/proc/"+tasks[1]+"/timerslack_ns"); got != 10_000_000 {
		t.Errorf("the runtime's monitor thread (%s, of %v) has a slack of %d ns, want 10 ms", tasks[1], tasks, got)
	}
	if own == 10_000_000 {
		t.Fatalf("the main thread's slack is the monitor's")
	}

	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  slack:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts: [{type: proc, target: /proc}]
    processes:
      - name: main
        command: [/bin/cat, /proc/self/timerslack_ns]
`)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mine, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Prctl(unix.PR_SET_TIMERSLACK, 10_000_000, 0, 0, 0)
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(mine), 0, 0, 0)
	if got := strings.TrimSpace(runOK(t, p)); got != strconv.Itoa(own) {
		t.Errorf("the environment's process has a timer slack of %s ns, want nsup's own %d", got, own)
	}
}

func readSlack(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
