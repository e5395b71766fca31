package lifecycle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The control protocol of a detached environment: nsup exec (Exec, the
// client) asks the environment's init (executor/control.go, the server)
// to start a command. Init is already in every namespace of the
// environment (user and mnt included), under its root, with its
// capabilities and no_new_privs, so nothing needs setns(2), which the Go
// runtime cannot do for a mount or user namespace (design.md). The
// command's process is a child of init, which reaps it like any other.
//
// Init listens on STATEDIR/ENV/control.sock (planner.ControlFile; the
// directory is root-only, and init is not dumpable, so no process of the
// environment can reach the socket through /proc/1/fd). One connection,
// SOCK_SEQPACKET, one JSON value per message:
//
//	client → init  ExecRequest, with SCM_RIGHTS: the caller's fds 0, 1, 2
//	               (with a terminal: none, and "askTerminal": true)
//	init → client  with a terminal and no devpts inside to open it in:
//	               {"sendTerminal": true}; then
//	client → init  {}, with SCM_RIGHTS the one pty slave for all three:
//	               a pty of the host's reopened through a read-only clone
//	               of it alone (none if that failed)
//	init → client  {"pid": N}: started (N is its pid inside); or {"error"}
//	               With a terminal, {"pid": N, "terminal": true} and,
//	               SCM_RIGHTS, the master of the pty init opened in the
//	               environment's own devpts, the command's terminal. Init
//	               uses the slave sent only when it has no devpts to open
//	               one in, and refuses one not on a read-only mount.
//	               Every answer to "askTerminal" has "askKnown": true.
//	client → init  {"signal": N}: forward signal N to its process group
//	init → client  {"status": N}: it exited, as a shell reports it
//
// The only fds the environment ever gets are those: the caller's stdio
// (a terminal among them replaced by a pipe nsup exec copies: the
// environment could keep it after the command), or a terminal of its
// own. The command gets a session of its own (setsid): with a pty, it is
// its controlling terminal (job control, its window size); without one,
// the caller's terminal cannot be its controlling terminal, so TIOCSTI
// cannot type into the caller's shell. If the caller goes away, the
// command is killed.

// A first message {"status": true} asks instead for the state of the
// tree (nsup ps): init answers one StatusReply and closes the connection.
//
//	client → init  {"status": true}, no fds
//	init → client  StatusReply
//
// An init of an older nsup reads no "askTerminal": it wants the slave
// with the request (before the environment's own pty, it wanted exactly
// one fd with a terminal), and refuses the request without it (EINVAL or
// ENOTTY, with no "askKnown"); nsup exec then asks again, on a new
// connection, with the slave sent with the request (Exec).
//
// ExecRequest is the first message of a connection.
type ExecRequest struct {
	// Status asks for the tree's state (StatusReply) instead of running
	// a command.
	Status bool     `json:"status,omitempty"`
	Argv   []string `json:"argv"`
	// Process is the declared process whose environment variables, cwd
	// and user the command gets; "" is the main process.
	Process string `json:"process,omitempty"`
	TTY     bool   `json:"tty,omitempty"`
	// Term is the caller's TERM, for a command with a terminal.
	Term string `json:"term,omitempty"`
	// Rows and Cols are the window size of the caller's terminal, for
	// the pty init opens.
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// AskTerminal says the request comes without a terminal: init asks
	// for one (SendTerminal) if it has no devpts to open the pty in.
	AskTerminal bool `json:"askTerminal,omitempty"`
}

// ExecMessage is every later message, either way.
type ExecMessage struct {
	Pid    int    `json:"pid,omitempty"`
	Status *int   `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	Signal int    `json:"signal,omitempty"`
	// Terminal says that the message carries (SCM_RIGHTS) the master of
	// the command's pty, opened by init in the environment's devpts.
	Terminal bool `json:"terminal,omitempty"`
	// SendTerminal asks nsup exec for the command's terminal: the
	// environment has no devpts (ExecRequest.AskTerminal).
	SendTerminal bool `json:"sendTerminal,omitempty"`
	// AskKnown says that init read the request's AskTerminal: an answer
	// without it, to a request with it, is an older nsup's init's.
	AskKnown bool `json:"askKnown,omitempty"`
}

// MaxExecMsg bounds one message (a request's argv).
const MaxExecMsg = 256 << 10

// Health states of a process with a healthcheck (docker's).
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// StatusReply is init's answer to {"status": true}: the declared
// processes, in declaration order.
type StatusReply struct {
	Processes []ProcStatus `json:"processes"`
}

// ProcStatus is one declared process as init sees it now.
type ProcStatus struct {
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"`
	// Pid is its pid inside while it runs, 0 between a restart's exit and
	// its start.
	Pid     int  `json:"pid"`
	Running bool `json:"running"`
	// Restarts counts its restarts (restart policy); LastExit is the
	// status of its last end, if it has ended.
	Restarts int  `json:"restarts"`
	LastExit *int `json:"lastExit,omitempty"`
	// Health is "" without a healthcheck, else HealthStarting,
	// HealthHealthy or HealthUnhealthy; Failing counts the failed checks
	// in a row, and HealthLog says what the last check said (its status
	// and the first KiB of its output, or that it timed out).
	Health    string `json:"health,omitempty"`
	Failing   int    `json:"failingStreak,omitempty"`
	HealthLog string `json:"healthLog,omitempty"`
}

// Status asks the init of the running environment s for its tree's state.
func Status(s EnvStatus) (*StatusReply, error) {
	if !s.Running {
		return nil, fmt.Errorf("environment %q is not running: %s", s.State.Name, s.Status())
	}
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(c)
	// Init answers at once; a wedged one must not hang nsup ps.
	tv := unix.Timeval{Sec: 2}
	unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	unix.SetsockoptTimeval(c, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := connectControl(c, s.Dir); err != nil {
		return nil, fmt.Errorf("environment %q: connect to its init: %w", s.State.Name, err)
	}
	req, err := json.Marshal(ExecRequest{Status: true})
	if err != nil {
		return nil, err
	}
	if err := unix.Sendmsg(c, req, nil, nil, 0); err != nil {
		return nil, err
	}
	buf := make([]byte, MaxExecMsg)
	for {
		n, _, _, _, err := unix.Recvmsg(c, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("environment %q: status from its init: %w", s.State.Name, err)
		}
		var r StatusReply
		if n == 0 {
			return nil, fmt.Errorf("environment %q: its init closed the connection without a status", s.State.Name)
		}
		if err := json.Unmarshal(buf[:n], &r); err != nil {
			return nil, fmt.Errorf("environment %q: status from its init: %w", s.State.Name, err)
		}
		return &r, nil
	}
}

// connectControl connects the socket c to the control socket of the
// environment whose state directory is dir, and refuses it unless it was
// made (listen(2)) by the caller's uid, as nsup's own apply made it
// (SO_PEERCRED, as containerd's ttrpc requires of its shims): one of
// another user's, reached whatever way, would be handed the caller's
// stdio by nsup exec. A state directory through another user's symlink,
// which that user flipped to their own between the check and the
// connect, was one (found by a real run: TestRootCheckOthersLink,
// TestRootControlPeer).
func connectControl(c int, dir string) error {
	if err := unix.Connect(c, &unix.SockaddrUnix{Name: filepath.Join(dir, planner.ControlFile)}); err != nil {
		return err
	}
	cred, err := unix.GetsockoptUcred(c, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return err
	}
	if int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is served by uid %d, not by you (uid %d), whose nsup made it: refused: %w", filepath.Join(dir, planner.ControlFile), cred.Uid, os.Geteuid(), unix.EPERM)
	}
	return nil
}

// Rights returns the fds an SCM_RIGHTS message brought (those before a
// part that does not parse, with its error).
func Rights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range msgs {
		f, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return fds, err
		}
		fds = append(fds, f...)
	}
	return fds, nil
}
