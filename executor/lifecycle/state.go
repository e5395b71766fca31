package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nsup/nsup/internal/owndir"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// A detached environment (nsup apply -d) is recorded in a directory of
// its own, STATEDIR/ENV/ (planner.DefaultStateDir: /run/nsup for root),
// mode 0700:
//
//	lock         flock(2)ed by init for its whole life: held means running;
//	             once init has ended, its exit status ("3\n"), or empty if
//	             init was killed
//	state.json   State, written atomically once the tree is started
//	output.log   fds 1 and 2 of the environment's processes
//	control.sock init's control socket, for nsup exec and nsup ps (the
//	             tree's restarts and health)
//
// A directory with no state.json and a free lock is what a nsup killed
// during apply -d left: not an environment, and taken over or removed by
// the next apply -d or down of that name.

// State is a detached environment's record (state.json).
type State struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	// Spec is the spec file the environment was planned from (absolute).
	Spec string `json:"spec"`
	// Pid is init's pid on the host; StartTime its start time (clock ticks
	// after boot, proc(5) /proc/PID/stat field 22) and Namespaces the
	// inodes of its namespaces by type: a process with that pid but
	// another start time or namespaces is not the environment's init.
	Pid        int               `json:"pid"`
	StartTime  uint64            `json:"startTime"`
	Namespaces map[string]uint64 `json:"namespaces"`
	Started    time.Time         `json:"started"`
	// New are the namespace types created for the environment; Joined the
	// others it entered, by type: an environment's name or a path.
	New    []string          `json:"new"`
	Joined map[string]string `json:"joined,omitempty"`
	// Processes are the declared processes, with their pids inside.
	Processes []StateProc `json:"processes"`
	// Rootfs are the cache entries the environment runs on: nsup cache
	// prune keeps them while it runs.
	Rootfs []string `json:"rootfs,omitempty"`
	// StopTimeoutMs bounds a stop of the tree: the sum over its levels of
	// their longest stop_timeout. nsup down waits that long (and a little)
	// before killing init.
	StopTimeoutMs int64 `json:"stopTimeoutMs"`
	// Cgroups are the environment's groups (down removes them, ps reads
	// its use there): under nsup's own groups, or under the parent group
	// NSUP_CGROUP_PARENT named when it was applied.
	Cgroups []string `json:"cgroups,omitempty"`
	// Helpers are host processes that serve the environment (pasta, its
	// user-mode network), by pid and start time: down ends them.
	Helpers []StateHelper `json:"helpers,omitempty"`
	// Pods are the records of the pods' holders whose namespaces it is in
	// (Joined says "pod:POD" for those): down ends a holder with the last
	// environment in it.
	Pods []string `json:"pods,omitempty"`
	// Volumes are the folders of the named volumes it binds: nsup volume
	// rm leaves them while it runs.
	Volumes []string `json:"volumes,omitempty"`
	// Ports are its published ports, as compose writes them with the
	// host address (127.0.0.1:8080:80/tcp); an environment that joins
	// another's network lists none of its own.
	Ports []string `json:"ports,omitempty"`
	// NotStarted, when set, says why nsup apply -d did not start the
	// environment (an environment it depends on was not healthy): the
	// record has no init (Pid 0) and is kept for nsup ps until nsup down,
	// or the next nsup apply -d of it, removes it.
	NotStarted string `json:"notStarted,omitempty"`
	// DependsOn names the environments of its project it depends on
	// (depends_on): nsup down stops it before them.
	DependsOn []string `json:"dependsOn,omitempty"`
}

// ReadState reads the state of the environment whose directory is d
// (STATEDIR/PROJECT/ENV); ErrNotFound if it has none.
func ReadState(d string) (*State, error) { return readState(d) }

// StateHelper is one host process of an environment's.
type StateHelper struct {
	Name      string `json:"name"`
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// StateProc is one declared process: its pid inside the environment.
type StateProc struct {
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"`
	Pid    int    `json:"pid"`
}

// StateVersion is State.Version: the format this nsup writes and reads.
const StateVersion = 1

// ErrNotFound is returned for an environment that has no state.
var ErrNotFound = errors.New("no such environment")

func readState(d string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(d, planner.StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", filepath.Base(d), ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(d, planner.StateFile), err)
	}
	if st.Version != StateVersion {
		return nil, fmt.Errorf("%s: state version %d, this nsup reads %d", filepath.Join(d, planner.StateFile), st.Version, StateVersion)
	}
	return &st, nil
}

// WriteState writes st to path (STATEDIR/ENV/state.json) atomically:
// beside it, then renamed. It is the writer of what Inspect reads: the
// version is this nsup's (StateVersion).
func WriteState(path string, st *State) error {
	st.Version = StateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// exitRecorded reads the exit status init wrote into the lock file, or -1.
func exitRecorded(d string) int {
	f, err := os.Open(filepath.Join(d, planner.LockFile))
	if err != nil {
		return -1
	}
	defer f.Close()
	// A status is a few bytes; init holds the file open, and root inside
	// that may reach init's fds (SYS_PTRACE) may have made it of any size
	// (a review wrote 1 MiB there).
	var buf [32]byte
	k, _ := io.ReadFull(f, buf[:])
	n, err := strconv.Atoi(strings.TrimSpace(string(buf[:k])))
	if err != nil {
		return -1
	}
	return n
}

// CheckStateDir checks that the state directory d (all environments') is
// this user's alone (owndir.Check: of this uid, that no group or other may
// write to or replace). Another user who made it first (an unprivileged
// user's default, /tmp/nsup-run-UID, is in a shared directory) could
// otherwise rename an environment's directory away and plant a control
// socket that nsup exec hands the caller's stdio to, or a state that nsup
// down signals a pid of. nsup apply -d checks it too before it makes an
// environment's directory in it.
func CheckStateDir(d string) error { return ownFolder("state directory", d) }

// ownFolder is owndir.Check, its refusal saying how to choose another
// folder: the default ones are in /tmp without XDG_RUNTIME_DIR or a home,
// where another user who made nsup-run-UID first keeps it refused until
// it is removed (helper-131's review: the refusal named no way out).
func ownFolder(what, d string) error {
	err := owndir.Check(what, d)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return err
	}
	env := "NSUP_STATE_DIR (or XDG_RUNTIME_DIR)"
	if what == "volume folder" {
		env = "NSUP_VOLUME_DIR (or XDG_DATA_HOME)"
	}
	return fmt.Errorf("%w; name a %s of your own with %s", err, what, env)
}

// CheckProjectDir checks a project's folder of the state directory and
// the state directory above it (CheckStateDir, each): whoever may rename
// either could put another folder in the project's place.
func CheckProjectDir(d string) error { return checkProjectDir("state directory", d) }

// CheckVolumeProjectDir checks a project's folder of the volume folder
// and the volume folder above it, as CheckProjectDir does the state
// directory's, and names them so (helper-131's review: a volume folder
// reached through another user's link was refused as a "state
// directory").
func CheckVolumeProjectDir(d string) error { return checkProjectDir("volume folder", d) }

func checkProjectDir(what, d string) error {
	if err := ownFolder(what, filepath.Dir(d)); err != nil {
		return err
	}
	return ownFolder(what, d)
}
