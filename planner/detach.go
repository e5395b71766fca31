package planner

// A detached environment's state directory, lock and state file (nsup apply -d).

import (
	"fmt"
	"os"
	"path/filepath"
)

// Files of a detached environment's state directory, StateDir/ENV/.
const (
	StateFile   = "state.json"   // the state (SaveState)
	LockFile    = "lock"         // held by init while it runs; then its exit status (Flock)
	LogFile     = "output.log"   // fds 1 and 2 of the environment (Stdio)
	ControlFile = "control.sock" // init's control socket, for nsup exec (Listen)
)

// LogMax is the most a detached environment's log holds (Stdio.Max):
// root inside could otherwise fill the state directory's tmpfs, and a
// chatty service would, given the time. Past it, the oldest half is cut.
const LogMax = 10 << 20

// DefaultStateDir is where detached environments are recorded:
// $NSUP_STATE_DIR if set, /run/nsup for root, else $XDG_RUNTIME_DIR/nsup.
func DefaultStateDir() string {
	if d := os.Getenv("NSUP_STATE_DIR"); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
		return d
	}
	if os.Geteuid() == 0 {
		return "/run/nsup"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "nsup")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("nsup-run-%d", os.Geteuid()))
}

// lock plans the first steps of a detached environment: its state
// directory and its lock, before anything else, so that a second nsup
// apply -d of the same name stops at once, having built nothing.
func (ec *envCompiler) lock() {
	ec.add(Host, ec.e.Pos, Mkdir{Path: ec.stateDir, Mode: 0o700})
	ec.add(Host, ec.e.Pos, Flock{Path: filepath.Join(ec.stateDir, LockFile), State: filepath.Join(ec.stateDir, StateFile)})
}

// detach plans the last steps of a detached environment, once its tree
// is started: the state file, then the end of the parent-death signal.
// In that order: killed in between, nsup takes the environment along (a
// state without a running init is shown as exited); the other way round,
// an environment could outlive nsup with no state to find it by.
func (ec *envCompiler) detach() {
	if ec.stateDir == "" {
		return
	}
	if !ec.e.InitEnabled() {
		ec.errorf(ec.e.Init.Pos, ec.field+".init", "init: false cannot be detached (apply -d): nsup's init holds the environment's lock, serves nsup exec and records its exit status")
		return
	}
	ec.add(Host, ec.e.Pos, SaveState{Path: filepath.Join(ec.stateDir, StateFile)})
	ec.add(Init, ec.e.Pos, Prctl{Option: prSetPdeathsig, Arg: 0})
}
