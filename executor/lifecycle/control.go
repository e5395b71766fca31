package lifecycle

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
//	               (or, with a terminal, the one pty slave for all three)
//	init → client  {"pid": N}: started (N is its pid inside); or {"error"}
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

// ExecRequest is the first message of a connection.
type ExecRequest struct {
	Argv []string `json:"argv"`
	// Process is the declared process whose environment variables, cwd
	// and user the command gets; "" is the main process.
	Process string `json:"process,omitempty"`
	TTY     bool   `json:"tty,omitempty"`
	// Term is the caller's TERM, for a command with a terminal.
	Term string `json:"term,omitempty"`
}

// ExecMessage is every later message, either way.
type ExecMessage struct {
	Pid    int    `json:"pid,omitempty"`
	Status *int   `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	Signal int    `json:"signal,omitempty"`
}

// MaxExecMsg bounds one message (a request's argv).
const MaxExecMsg = 256 << 10
