package lifecycle

// Listing: a state directory's environments, their status and trees (nsup ps).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nsup/nsup/internal/textsafe"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// EnvStatus is a detached environment as nsup ps shows it.
type EnvStatus struct {
	State State
	// Dir is its state directory; Project the project it belongs to (the
	// folder of the state directory Dir is in).
	Dir     string
	Project string
	// Running is true while its init runs (the lock is held, and the
	// process with State.Pid has State.StartTime and State.Namespaces).
	Running bool
	// Exit is the environment's exit status once it has ended, -1 if init
	// ended without recording one (killed).
	Exit int
}

// Status is "running", "exited (status N)", "exited (killed)" or "not
// started: WHY".
func (s EnvStatus) Status() string {
	switch {
	case s.Running:
		return "running"
	case s.State.NotStarted != "":
		return "not started: " + Printable(s.State.NotStarted)
	case s.Exit < 0:
		return "exited (killed)"
	}
	return fmt.Sprintf("exited (status %d)", s.Exit)
}

// Log is the environment's log file.
func (s EnvStatus) Log() string { return filepath.Join(s.Dir, planner.LogFile) }

// Projects are the projects with a folder in the state directory
// stateDir (STATEDIR/PROJECT/ENV/), sorted.
func Projects(stateDir string) ([]string, error) {
	if err := CheckStateDir(stateDir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(stateDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		// A folder with a lock of its own is an environment of an nsup
		// from before projects, not a project.
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			if _, err := os.Lstat(filepath.Join(stateDir, e.Name(), planner.LockFile)); err != nil {
				out = append(out, e.Name())
			}
		}
	}
	return out, nil
}

// ListAll returns the detached environments of every project of the
// state directory stateDir, by project, then name.
func ListAll(stateDir string) ([]EnvStatus, error) {
	projects, err := Projects(stateDir)
	if err != nil {
		return nil, err
	}
	var out []EnvStatus
	for _, p := range projects {
		envs, err := List(filepath.Join(stateDir, p))
		if err != nil {
			return nil, err
		}
		out = append(out, envs...)
	}
	return out, nil
}

// List returns the detached environments recorded in dir (a project's
// folder of the state directory), by name.
func List(dir string) ([]EnvStatus, error) {
	if err := CheckProjectDir(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []EnvStatus
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		s, err := Inspect(dir, e.Name())
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].State.Name < out[j].State.Name })
	return out, nil
}

// Inspect returns one detached environment, or ErrNotFound.
func Inspect(dir, name string) (EnvStatus, error) {
	if err := CheckProjectDir(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return EnvStatus{}, err
	}
	d := filepath.Join(dir, name)
	st, err := readState(d)
	if err != nil {
		return EnvStatus{}, err
	}
	s := EnvStatus{State: *st, Dir: d, Project: filepath.Base(dir), Exit: -1}
	s.Running = st.NotStarted == "" && lockHeld(filepath.Join(d, planner.LockFile)) && st.verify() == nil
	if !s.Running {
		s.Exit = exitRecorded(d)
	}
	return s, nil
}

// Proc is one process of a running environment's tree (nsup ps --tree).
type Proc struct {
	// Pid is the pid on the host, PidInside inside the environment.
	Pid, PidInside int
	// Name is the declared process's name, or "" for another process
	// (one the tree forked, or nsup exec's).
	Name string
	// Comm is the kernel's name of the program (proc(5) comm).
	Comm     string
	Children []*Proc
}

// Tree returns the process tree of a running environment, rooted at its
// init, read from /proc.
func Tree(st State) (*Proc, error) {
	if err := st.verify(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	byPid := map[int]*Proc{}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, comm, err := procStat(pid)
		if err != nil || len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		byPid[pid] = &Proc{Pid: pid, Comm: comm}
		parent[pid] = ppid
	}
	root, ok := byPid[st.Pid]
	if !ok {
		return nil, fmt.Errorf("init (pid %d) is gone: %w", st.Pid, unix.ESRCH)
	}
	pids := make([]int, 0, len(byPid))
	for pid := range byPid {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	for _, pid := range pids {
		if p, ok := byPid[parent[pid]]; ok && pid != st.Pid {
			p.Children = append(p.Children, byPid[pid])
		}
	}
	names := map[int]string{}
	for _, p := range st.Processes {
		names[p.Pid] = p.Name
	}
	var fill func(p *Proc)
	fill = func(p *Proc) {
		p.PidInside = pidInside(p.Pid)
		if p != root {
			p.Name = names[p.PidInside]
		}
		for _, c := range p.Children {
			fill(c)
		}
	}
	fill(root)
	return root, nil
}

// pidInside is the innermost pid of a process (NSpid, proc(5)).
func pidInside(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[len(f)-1])
				return n
			}
		}
	}
	return pid
}

// Printable is s for a terminal: each control character (C0, DEL, C1),
// each bidirectional override or isolate (which would show the text after
// it reordered) and each byte that is not UTF-8 as "?", as procps shows a
// command's name. What an environment chose (a process's name, a
// healthcheck's output) is shown so by nsup ps and apply -d, and what a
// manifest's strings hold by nsup import --kube (PrintableText): raw,
// they could send the caller's terminal escape sequences (set its title,
// erase its lines, or worse on some terminals).
func Printable(s string) string { return printableText(s, false) }

// PrintableText is Printable for text of several lines: its newlines and
// tabs are kept.
func PrintableText(s string) string { return printableText(s, true) }

func printableText(s string, lines bool) string {
	return strings.Map(func(r rune) rune {
		if printable(r) || lines && (r == '\n' || r == '\t') {
			return r
		}
		return '?'
	}, s)
}

// JSONSafe is JSON that encoding/json wrote, with each rune Printable
// would replace escaped as \uXXXX: encoding/json escapes C0 alone, and
// leaves DEL, C1 (U+009B is CSI to a terminal that reads C1 in UTF-8)
// and bidirectional controls as they are, which nsup ps --json then wrote
// to the caller's terminal from a healthcheck's output. Outside strings
// JSON is ASCII, so every such rune is in one; the JSON means the same.
func JSONSafe(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == 0x7f || r >= 0x80 && !printable(r) {
			out = fmt.Appendf(out, "\\u%04x", r)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

// printable is !textsafe.Unsafe(r).
func printable(r rune) bool { return !textsafe.Unsafe(r) }
