package executor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// pastaReady bounds the wait for pasta to set the namespace up.
const pastaReady = 10 * time.Second

// startPasta starts the environment's user-mode network stack
// (planner.Pasta) against the child's network namespace, given as fds,
// and waits until it has set the namespace up: it writes its pid to its
// --pid file, a pipe, once it has. pasta is started by its keeper
// (RunKeeper: nsup's own binary), which holds a pidfd of the child and
// ends pasta once the child has ended, however it ends: foreground or
// detached, by down, on its own, or with nsup killed (the child's
// parent-death signal). Foreground, the keeper dies with this thread too
// (its parent-death signal, and pasta's with it). Both are born in the
// environment's unified group.
func (r *envRun) startPasta(op planner.Pasta) error {
	if r.child == 0 {
		return fmt.Errorf("pasta before the clone: %w", unix.EINVAL)
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	pidfd, err := unix.PidfdOpen(r.child, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open(%d): %w", r.child, err)
	}
	files = append(files, os.NewFile(uintptr(pidfd), "child"))
	kinds := []string{"net"}
	if op.UserNS {
		kinds = append(kinds, "user")
	}
	for _, k := range kinds {
		f, err := r.childNS(k)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	files = append(files, pw)
	// Its messages, kept for an error: a file of its own in memory, not a
	// pipe (it outlives nsup when detached, and a pipe nobody reads would
	// end it).
	efd, err := unix.MemfdCreate("nsup-pasta-stderr", unix.MFD_CLOEXEC)
	if err != nil {
		return err
	}
	stderr := os.NewFile(uintptr(efd), "pasta-stderr")
	defer stderr.Close()
	argv := op.Keeper()
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: argv, Env: []string{}, Dir: "/", Stderr: stderr, ExtraFiles: files}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if r.release == nil {
		cmd.SysProcAttr.Pdeathsig = unix.SIGKILL
	}
	if g := r.unifiedGroup(); g != "" {
		fd, err := unix.Open(g, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	start := cmd.Start
	if r.release != nil {
		// Detached: no parent-death signal ties the keeper to this
		// thread, which may be in a pod's network namespace (its
		// holder's, joined for the clone): started from another thread,
		// in the host's, where pasta finds the host's interfaces.
		start = func() error {
			errc := make(chan error, 1)
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				ownSlack() // pasta gets nsup's own (sysmon.go)
				errc <- cmd.Start()
			}()
			return <-errc
		}
	}
	if err := start(); err != nil {
		return err
	}
	pw.Close()
	files = files[:len(files)-1]
	pr.SetReadDeadline(time.Now().Add(pastaReady))
	// Its pid and a newline; pasta may keep the file open (no EOF).
	var b []byte
	buf := make([]byte, 32)
	for !bytes.Contains(b, []byte("\n")) && len(b) < 32 {
		n, rerr := pr.Read(buf)
		b = append(b, buf[:n]...)
		if rerr != nil {
			err = rerr
			break
		}
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if ppid, err := lifecycle.Parent(pid); perr == nil && pid > 0 && (err != nil || ppid != cmd.Process.Pid) {
		// Not the keeper's child (pasta died, its pid reused): not
		// recorded, never signalled.
		perr = fmt.Errorf("pid %d is not the keeper's child", pid)
	}
	if perr != nil || pid <= 0 {
		r.pasta = cmd
		r.stopPasta()
		msg, _ := io.ReadAll(io.NewSectionReader(stderr, 0, 4096))
		why := strings.TrimSpace(string(bytes.ReplaceAll(msg, []byte("\n"), []byte("; "))))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			why = fmt.Sprintf("not up after %v; %s", pastaReady, why)
		}
		return fmt.Errorf("pasta did not set the network up (%s): %w", why, unix.EIO)
	}
	r.pasta, r.pastaPid = cmd, pid
	if !op.UserNS {
		// Its published UDP ports its own alone (pastaudp.go).
		binds, err := op.UDPBinds()
		if err == nil {
			err = exclusiveUDP(pid, binds)
		}
		if err != nil {
			r.stopPasta()
			return fmt.Errorf("pasta's published UDP ports: %w", err)
		}
	}
	// Its published TCP ports its own (pastatcp.go).
	binds, err := op.TCPBinds()
	if err == nil {
		err = pastaListens(pid, binds, op.UserNS)
	}
	if err != nil {
		r.stopPasta()
		return fmt.Errorf("pasta's published TCP ports: %w", err)
	}
	return nil
}

// childNS opens the child's namespace of type t: its pod's, opened from
// the holder by the Hold step, when it joined that (rootless, the child
// is not dumpable: its /proc/PID/ns files are root's), else the child's.
func (r *envRun) childNS(t string) (*os.File, error) {
	for _, st := range r.env.Steps {
		if op, ok := st.Op.(planner.Setns); ok && op.Pod != "" && nsNames[op.NSType] == t {
			fd, ok := r.a.pods[op.Pod][op.NSType]
			if !ok {
				break
			}
			dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				return nil, err
			}
			return os.NewFile(uintptr(dup), "pod:"+op.Pod+"/ns/"+t), nil
		}
	}
	return os.Open(fmt.Sprintf("/proc/%d/ns/%s", r.child, t))
}

// unifiedGroup is the environment's group in the unified hierarchy (its
// Clone step's), "" if it has none.
func (r *envRun) unifiedGroup() string {
	for _, st := range r.env.Steps {
		if c, ok := st.Op.(planner.Clone); ok && c.Cgroup != "" {
			return nsupPath(c.Cgroup)
		}
	}
	return ""
}

// stopPasta ends the environment's pasta (foreground: once the
// environment has ended, or its setup failed): its keeper, told to stop,
// ends it and waits until it is gone, then exits. A keeper that does not
// (stopped: SIGSTOP by a process of the user's) is killed after
// keeperGrace, and pasta with it (its parent-death signal), which is
// waited for through a pidfd.
func (r *envRun) stopPasta() {
	if r.pasta == nil {
		return
	}
	var pfd int = -1
	if r.pastaPid > 0 {
		if fd, err := unix.PidfdOpen(r.pastaPid, 0); err == nil {
			pfd = fd
			defer unix.Close(fd)
		}
	}
	r.pasta.Process.Signal(unix.SIGTERM)
	done := make(chan struct{})
	go func() { r.pasta.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(keeperGrace):
		r.pasta.Process.Kill()
		<-done
		if pfd >= 0 {
			unix.Poll([]unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}, int(keeperGrace/time.Millisecond))
		}
	}
	r.pasta = nil
}

// keeperGrace bounds the wait for pasta's keeper to end pasta.
const keeperGrace = 2 * time.Second
