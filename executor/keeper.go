package executor

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// keeperFD is where pasta's keeper finds the pidfd of the environment's
// child; pasta's fds follow it.
const keeperFD = 3

// IsKeeper reports whether this process is nsup started by the host as
// pasta's keeper (planner.Pasta): its arguments begin with
// planner.KeeperArgv and fd 3 is a pidfd. Typing the arguments by hand
// does not make a keeper: the pidfd is missing.
func IsKeeper() bool {
	if len(os.Args) < len(planner.KeeperArgv)+2 || os.Args[1] != planner.KeeperArgv[1] {
		return false
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", keeperFD))
	return err == nil && link == "anon_inode:[pidfd]"
}

// RunKeeper runs pasta's keeper: it starts pasta (os.Args after the fd
// count) with the fds from 4 on as its fds from 3 on, and ends it once
// the environment's child has ended (its pidfd, fd 3, becomes readable)
// or it is told to (SIGTERM: the host's stop), waiting until it is gone.
// pasta's parent-death signal (SIGKILL) ends it too if this process is
// killed. It returns the exit status: pasta's if pasta ended first
// (the host then reports pasta's messages), 0 if it was ended. Its own
// messages and pasta's go to stderr (the host's file for them).
func RunKeeper(stderr *os.File) int {
	// pasta's parent-death signal fires when the thread that started it
	// exits: this one, locked for good, which exits with the process.
	runtime.LockOSThread()
	linuxKernel{}.SetName("nsup-keeper")
	// Taken, not ignored: an ignored signal stays ignored across execve,
	// and pasta (Debian 12's) dies when SIGPIPE was ignored before it set
	// it so ("Couldn't install signal handlers"). SIGINT and SIGHUP end
	// neither: the keeper is in a session of its own, with no terminal.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, unix.SIGTERM)
	args := os.Args[len(planner.KeeperArgv):]
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 || n > 8 {
		fmt.Fprintf(stderr, "nsup keeper: %q is no number of fds\n", args[0])
		return 127
	}
	// Only pasta's fds reach pasta, once each: every fd from 3 on is
	// close-on-exec (the pidfd, pasta's originals, which exec dups down
	// to 3.., anything nsup's caller left open), and what nsup's caller
	// left open above pasta's is closed.
	closeInherited(keeperFD + 1 + n)
	unix.CloseRange(keeperFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	files := make([]*os.File, n)
	for i := range files {
		files[i] = os.NewFile(uintptr(keeperFD+1+i), "pasta")
	}
	cmd := &exec.Cmd{Path: args[1], Args: args[1:], Env: []string{}, Dir: "/", Stderr: stderr, ExtraFiles: files}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL}
	err = cmd.Start()
	// pasta has its copies: the pid pipe's writer is pasta's alone, so
	// that the host reads its end if pasta dies before it is up.
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "nsup keeper: %v\n", err)
		return 127
	}
	exited := make(chan int, 1)
	go func() {
		cmd.Wait()
		exited <- cmd.ProcessState.ExitCode()
	}()
	ended := make(chan struct{})
	go func() {
		fds := []unix.PollFd{{Fd: keeperFD, Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				break
			}
		}
		close(ended)
	}()
	select {
	case code := <-exited:
		if code < 0 {
			code = 128 + int(cmd.ProcessState.Sys().(syscall.WaitStatus).Signal())
		}
		return code
	case <-ended:
	case <-stop:
	}
	cmd.Process.Kill()
	<-exited
	return 0
}

// closeInherited closes the fds from first on that came through this
// process's execve (not close-on-exec): those nsup's caller left open.
// The runtime's own are close-on-exec, and kept: its epoll and event fds
// (its poller may be up already, a timer of the runtime's) and its
// GOMAXPROCS updater's cgroup files. Closed with the rest, the keeper
// died "runtime: netpoll failed", and pasta with it (found by a review:
// 8 of 150 applies of the test binary with a pasta network failed).
// Without /proc, every fd from first on is closed, as before.
func closeInherited(first int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		unix.CloseRange(uint(first), ^uint(0), 0)
		return
	}
	for _, ent := range ents {
		// ReadDir's own fd is closed by now (EBADF below).
		fd, err := strconv.Atoi(ent.Name())
		if err != nil || fd < first {
			continue
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}
