package executor

import (
	"os"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The Go runtime's monitor thread (sysmon) sleeps 20 µs at a time for as
// long as the program is busy, backing off only after a millisecond or so
// idle: in an apply of about 4.5 ms it wakes 40 to 60 times (the kernel's
// default timer slack stretches each sleep to about 70 µs). On a small
// machine each wake lands on the CPU nsup is using and preempts it (a
// virtual machine's idle CPUs count as preempted, and the scheduler does
// not wake a thread there): about 6 % of nsup's CPU time, golang/go#18236.
// The runtime has no setting for it, but the kernel does: a thread's timer
// slack, which lets it wake that much later. CalmSysmon gives the monitor
// a slack of 10 ms: it wakes about as often as it would once idle, and it
// still takes back processors from threads blocked in system calls and
// preempts long-running goroutines, 10 ms later at most.
//
// A thread inherits its creator's timer slack, and a process its creating
// thread's, across execve too (prctl(2) PR_SET_TIMERSLACK). Every thread
// of nsup that creates a process first takes back the slack nsup was
// started with (ownSlack): an environment's processes, pasta and a pod's
// holder get exactly what they would have without this, whichever thread
// of the runtime's (one the monitor made among them) creates them.
//
// Setting another thread's slack (/proc/TID/timerslack_ns) needs
// CAP_SYS_NICE: without it (rootless) nothing changes.
var startSlack atomic.Int64 // nsup's own slack, > 0 once the monitor's is raised

const monitorSlack = 10_000_000 // ns

// CalmSysmon raises the timer slack of the runtime's monitor thread. It
// is the process's first thread after the main one (the runtime starts it
// before any package is initialised; /proc/self/task lists threads in
// the order they were made): were it another of the runtime's, only that
// thread's sleeps would be longer. Call it from the main goroutine, once.
func CalmSysmon() {
	slack, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil || slack <= 0 {
		return
	}
	tid := monitorThread()
	if tid == "" {
		return
	}
	// Recorded first: a thread the monitor makes from now on may create
	// a process.
	startSlack.Store(int64(slack))
	if err := writeSlack(tid, monitorSlack); err != nil {
		startSlack.Store(0)
	}
}

// monitorThread returns the id of the process's second thread, or "".
func monitorThread() string {
	fd, err := unix.Open("/proc/self/task", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	var buf [512]byte
	n, err := unix.ReadDirent(fd, buf[:])
	if err != nil || n <= 0 {
		return ""
	}
	// ., .., the main thread, then the monitor.
	_, _, names := unix.ParseDirent(buf[:n], 2, nil)
	if len(names) < 2 || names[0] != strconv.Itoa(unix.Getpid()) {
		return ""
	}
	return names[1]
}

func writeSlack(tid string, ns int) error {
	f, err := os.OpenFile("/proc/"+tid+"/timerslack_ns", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(ns))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ownSlack gives the calling thread the timer slack nsup was started
// with, once the monitor's is raised: call it, locked to the thread, before
// the thread creates a process.
func ownSlack() {
	if s := startSlack.Load(); s > 0 {
		unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(s), 0, 0, 0)
	}
}
