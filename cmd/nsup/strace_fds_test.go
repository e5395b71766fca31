package main

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/planner"
)

// The strace test follows fds through the trace: what each fd of a traced
// process refers to (a host path opened, a path resolved from a root's
// handle or a held mount's fd, a detached mount), so that a step is
// checked for the fd it used, not only for the shape of its call. A step
// beneath the held mount at T must resolve its paths from the fd that
// mount was moved with (or a copy of it, or a path resolved from it), a
// step inside the root from the root's handle; the wrong slot of the
// executor's table, or the root's handle for a held mount's, reads as
// another fd here.

// fdCalls are the calls traced only to follow fds: none is a step of
// its own.
const fdCalls = "openat2,openat,open_tree,fsopen,fsconfig,fsmount,fcntl,dup,dup2,dup3,close,close_range,landlock_create_ruleset"

func isFdCall(name string) bool {
	return slices.Contains(strings.Split(fdCalls, ","), name)
}

type fdKind int

const (
	fdHost    fdKind = iota // openat2/openat of an absolute path from AT_FDCWD
	fdPath                  // a path resolved from another fd (its anchor)
	fdTree                  // open_tree's detached clone
	fdFs                    // fsopen's filesystem context
	fdMnt                   // fsmount's detached mount
	fdMade                  // a mount made by mount(2) (no fd holds it)
	fdRuleset               // landlock_create_ruleset's (how: its arguments)
)

// fdObj is what an fd refers to. Copies of an fd (fcntl F_DUPFD, dup)
// share it, so a mount moved through one fd is moved for its copies too.
type fdObj struct {
	kind fdKind
	// where is the path it is at (at): a host path; a detached mount's
	// target once it is moved ("" before). A path resolved from another
	// fd is at its anchor's path joined with rel.
	where string
	// anchor (fdPath) is the fd the path rel was resolved from, followed
	// back through the paths resolved from paths.
	anchor *fdObj
	rel    string
	// scoped (fdPath): every resolution from the anchor stayed beneath
	// it (RESOLVE_IN_ROOT or RESOLVE_BENEATH, or one name, not followed).
	scoped bool
	// nofollow (fdHost): opened with RESOLVE_NO_SYMLINKS.
	nofollow bool
	// how is how it was opened: openat2's open_how, openat's flags, as
	// strace prints them (a working folder's: O_DIRECTORY and
	// RESOLVE_NO_MAGICLINKS).
	how string
	// src (fdTree) is the fd cloned; recursive: AT_RECURSIVE.
	src       *fdObj
	recursive bool
	// fstype, source and mode (fdFs, fdMnt: of its context), attrs
	// (fdMnt): fsmount's attributes; data: every option of the context
	// but its source, in the order set ("mode=755,size=65536k", a flag
	// by its key alone), as Mount.Data shows them.
	fstype, source, mode, attrs, data string
	fs                                *fdObj
	// layers (fdFs, fdMnt): the options whose value is a
	// /proc/self/fd path (an overlay's layers), by key: that fd's object.
	layers map[string]*fdObj
	// seq is the event that made it, or that last moved it.
	seq int
}

// at is the path o is at: a path resolved from a detached mount is
// where that mount is now.
func (o *fdObj) at() string {
	if o.kind == fdPath {
		return path.Join(o.anchor.at(), o.rel)
	}
	return o.where
}

// anchorOf is the fd a path was resolved from, or o itself.
func anchorOf(o *fdObj) *fdObj {
	if o != nil && o.kind == fdPath {
		return o.anchor
	}
	return o
}

// fdState is the fd tables of the traced processes, as the trace shows
// them, and the mounts made at each path.
type fdState struct {
	tables map[int]map[int]*fdObj // by pid; threads (CLONE_FILES) share one
	// top is, by pid and path, the mount made there last: a moved fd's
	// object, or a mount(2)'s.
	top map[int]map[string]*fdObj
	// moved is, by pid, the object the last move_mount moved (the next
	// step's, a setattr of "its fd" or an overlay on the tmpfs).
	moved map[int]*fdObj
	// born is the host pid of each environment's child stage ("env:"
	// NAME, its Clone step's) and each pod's holder ("pod:" NAME, its
	// Hold step's fork), once matched: whose /proc/PID/ns files a join
	// by name opens.
	born map[string]int
	// prologue is, by environment, how many of its child's calls before
	// the child stage (its clone step's) are still to come: its child
	// steps wait for them; maps is how many of its id maps (and
	// setgroups) the host has still to write: its child becomes root of
	// its user namespace only once they are.
	prologue, maps map[string]int
	// nsup is nsup's pid (its first thread's), which a plan's cgroup
	// paths name $NSUP.
	nsup int
	seq  int
	// setBy is, by fd table and fd, the thread whose call last made the
	// fd and that call's event (close's reordering, below).
	setBy map[fdSlot]fdSetter
}

// fdSlot is one fd of one fd table (threads of a process share theirs).
type fdSlot struct {
	table string // the table's identity (%p)
	fd    int
}

type fdSetter struct{ tid, seq int }

func newFdState() *fdState {
	return &fdState{tables: map[int]map[int]*fdObj{}, top: map[int]map[string]*fdObj{}, moved: map[int]*fdObj{}, born: map[string]int{},
		prologue: map[string]int{}, maps: map[string]int{}, setBy: map[fdSlot]fdSetter{}}
}

func (s *fdState) table(pid int) map[int]*fdObj {
	t := s.tables[pid]
	if t == nil {
		t = map[int]*fdObj{}
		s.tables[pid] = t
	}
	return t
}

// fd is the object of the fd argument a of a call of pid's, or nil (an
// fd the trace does not show made, AT_FDCWD, not a number).
func (s *fdState) fd(pid int, a string) *fdObj {
	n, err := strconv.Atoi(a)
	if err != nil {
		return nil
	}
	return s.table(pid)[n]
}

// procFd is the object of a "/proc/self/fd/N" argument, or nil.
func (s *fdState) procFd(pid int, a string) *fdObj {
	n, ok := strings.CutPrefix(a, `"/proc/self/fd/`)
	if !ok || !strings.HasSuffix(n, `"`) {
		return nil
	}
	return s.fd(pid, strings.TrimSuffix(n, `"`))
}

func unquote(a string) string {
	s, err := strconv.Unquote(a)
	if err != nil {
		return "\x00" + a // matches no path
	}
	return s
}

// retFd is the fd a call returned, or -1.
func retFd(ret string) int {
	n, err := strconv.Atoi(strings.Fields(ret + " x")[0])
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// resolved is the object of path p resolved from the fd argument dir of
// pid's, scoped saying the call kept it beneath dir.
func (s *fdState) resolved(pid int, dir, p string, scoped bool) *fdObj {
	if dir == "AT_FDCWD" {
		if !path.IsAbs(p) {
			return nil // the working folder's: not followed
		}
		return &fdObj{kind: fdHost, where: path.Clean(p), seq: s.seq}
	}
	d := s.fd(pid, dir)
	if d == nil || d.kind == fdFs {
		return nil
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			scoped = false // lexically joined below: no claim where it leads
		}
	}
	o := &fdObj{kind: fdPath, anchor: anchorOf(d), rel: path.Clean(p), scoped: scoped, seq: s.seq}
	if d.kind == fdPath {
		o.rel, o.scoped = path.Join(d.rel, p), o.scoped && d.scoped
	}
	return o
}

// apply updates the tables with event e (after it is matched: a step's
// check sees the fds as they were before its call).
func (s *fdState) apply(e event) {
	s.seq++
	a := splitArgs(e.args)
	t := s.table(e.pid)
	ok := strings.HasPrefix(e.ret, "0")
	n := retFd(e.ret)
	set := func(o *fdObj) {
		if n < 0 {
			return
		}
		if o == nil {
			delete(t, n)
			return
		}
		t[n] = o
		s.setBy[fdSlot{fmt.Sprintf("%p", t), n}] = fdSetter{e.pid, s.seq}
	}
	switch e.name {
	case "clone", "clone3", "fork", "vfork":
		c := childPid(e.ret)
		if c <= 0 {
			return
		}
		if strings.Contains(e.args, "CLONE_FILES") {
			s.tables[c] = t
		} else {
			s.tables[c] = maps.Clone(t)
		}
	case "execve", "execveat":
		if ok {
			// What stays open is nsup's to close before (close_range):
			// no step uses an fd from before a program starts.
			s.tables[e.pid] = map[int]*fdObj{}
		}
	case "openat2":
		if len(a) == 4 {
			how := a[2]
			o := s.resolved(e.pid, a[0], unquote(a[1]), strings.Contains(how, "RESOLVE_IN_ROOT") || strings.Contains(how, "RESOLVE_BENEATH"))
			if o != nil && o.kind == fdHost {
				o.nofollow = strings.Contains(how, "RESOLVE_NO_SYMLINKS")
			}
			if o != nil {
				o.how = how
			}
			set(o)
		}
	case "openat":
		if len(a) < 3 {
			break
		}
		if o := s.procFd(e.pid, a[1]); o != nil {
			// An O_PATH fd opened again for reading (regfile: a
			// namespace file, once fstatfs said it is one).
			again := *o
			again.how = a[2]
			set(&again)
			break
		}
		p := unquote(a[1])
		o := s.resolved(e.pid, a[0], p, !strings.Contains(p, "/") && strings.Contains(a[2], "O_NOFOLLOW"))
		if o != nil {
			o.how = a[2]
		}
		set(o)
	case "open_tree":
		if len(a) == 3 {
			src := s.fd(e.pid, a[0])
			if a[1] != `""` || !strings.Contains(a[2], "AT_EMPTY_PATH") {
				// One name (the file nsup made in a tmpfs of its own).
				src = s.resolved(e.pid, a[0], unquote(a[1]), !strings.Contains(unquote(a[1]), "/"))
			}
			if src == nil || !strings.Contains(a[2], "OPEN_TREE_CLONE") {
				set(nil)
				break
			}
			set(&fdObj{kind: fdTree, src: src, recursive: strings.Contains(a[2], "AT_RECURSIVE"), seq: s.seq})
		}
	case "fsopen":
		if len(a) == 2 {
			set(&fdObj{kind: fdFs, fstype: unquote(a[0]), seq: s.seq})
		}
	case "fsconfig":
		if fs := s.fd(e.pid, a[0]); ok && fs != nil && fs.kind == fdFs && len(a) == 5 {
			opt := ""
			switch {
			case a[1] == "FSCONFIG_SET_STRING" && a[2] == `"source"`:
				fs.source = unquote(a[3])
			case a[1] == "FSCONFIG_SET_STRING":
				if a[2] == `"mode"` {
					fs.mode = unquote(a[3])
				}
				if o := s.procFd(e.pid, a[3]); o != nil {
					if fs.layers == nil {
						fs.layers = map[string]*fdObj{}
					}
					fs.layers[unquote(a[2])] = o
				}
				opt = unquote(a[2]) + "=" + unquote(a[3])
			case a[1] == "FSCONFIG_SET_FLAG":
				opt = unquote(a[2])
			}
			if opt != "" && fs.data != "" {
				fs.data += ","
			}
			fs.data += opt
		}
	case "fsmount":
		if fs := s.fd(e.pid, a[0]); fs != nil && fs.kind == fdFs && len(a) == 3 {
			set(&fdObj{kind: fdMnt, fs: fs, fstype: fs.fstype, source: fs.source, mode: fs.mode, data: fs.data, attrs: a[2], layers: fs.layers, seq: s.seq})
		} else {
			set(nil)
		}
	case "landlock_create_ruleset":
		// Not the probe of the ABI version, which returns a number.
		if !strings.Contains(e.args, "LANDLOCK_CREATE_RULESET_VERSION") {
			set(&fdObj{kind: fdRuleset, how: e.args, seq: s.seq})
		}
	case "fcntl":
		if len(a) >= 2 && (a[1] == "F_DUPFD_CLOEXEC" || a[1] == "F_DUPFD") {
			set(s.fd(e.pid, a[0]))
		}
	case "dup":
		set(s.fd(e.pid, a[0]))
	case "dup2", "dup3":
		if ok || n >= 0 {
			set(s.fd(e.pid, a[0]))
		}
	case "close":
		if fd, err := strconv.Atoi(a[0]); err == nil {
			// strace reports the calls of two threads that end at the
			// same moment in the order it sees them stop, not always in
			// the order they ran: a thread's close of the number another
			// thread's call has just made (the event before) came before
			// that call, which would have failed otherwise. Seen under
			// two CPU hogs: [A] openat(tasks) = 14, [B] close(14), [A]
			// write(14, "0") = 1.
			if by, ok := s.setBy[fdSlot{fmt.Sprintf("%p", t), fd}]; ok && by.tid != e.pid && by.seq == s.seq-1 {
				break
			}
			delete(t, fd)
		}
	case "close_range":
		if len(a) == 3 && !strings.Contains(a[2], "CLOSE_RANGE_CLOEXEC") {
			lo, _ := strconv.ParseUint(a[0], 10, 64)
			hi, err := strconv.ParseUint(a[1], 10, 64)
			if err != nil {
				hi = 1 << 32 // ~0U
			}
			for fd := range t {
				if uint64(fd) >= lo && uint64(fd) <= hi {
					delete(t, fd)
				}
			}
		}
	case "move_mount":
		from, onto := s.fd(e.pid, a[0]), s.fd(e.pid, a[2])
		if ok && len(a) == 5 && from != nil && from.kind == fdTree && from.src != nil && a[2] == "AT_FDCWD" && a[3] == `"/"` {
			// The host's clone of the root's tree, moved onto "/" of the
			// child's mount namespace: the root's handle, as a clone
			// moved onto the root's own path would be (hostTree).
			onto = &fdObj{kind: fdHost, where: from.src.where}
		}
		if ok && len(a) == 5 && from != nil && from.kind == fdMnt && a[2] == "AT_FDCWD" && a[3] == `"/"` {
			// A mount made detached, moved onto "/" of the child's mount
			// namespace: an overlay on the host's clone of the root's
			// tree is the root's handle (as the clone would be); the
			// scratch tmpfs under it is at "/" until it leaves.
			onto = &fdObj{kind: fdHost, where: "/"}
			if l := from.layers["lowerdir"]; l != nil && l.kind == fdTree && l.src != nil {
				onto.where = l.src.where
			}
		}
		if ok && len(a) == 5 && from != nil && onto != nil {
			from.where, from.seq = onto.at(), s.seq
			s.setTop(e.pid, from)
			s.moved[e.pid] = from
		}
	case "umount2":
		// A mount of the child's own, by its fd's path, that leaves.
		if o := s.procFd(e.pid, a[0]); ok && o != nil && (o.kind == fdMnt || o.kind == fdTree) {
			if s.top[e.pid][o.where] == o {
				delete(s.top[e.pid], o.where)
			}
			o.where, o.seq = "", s.seq
		}
	case "mount":
		if len(a) == 5 && ok && !strings.Contains(a[3], "MS_REMOUNT") && !strings.Contains(a[3], "MS_PRIVATE") &&
			!strings.Contains(a[3], "MS_SHARED") && !strings.Contains(a[3], "MS_SLAVE") && !strings.Contains(a[3], "MS_UNBINDABLE") {
			where := unquote(a[1])
			if o := s.procFd(e.pid, a[1]); o != nil {
				where = o.at()
			}
			s.setTop(e.pid, &fdObj{kind: fdMade, where: where, seq: s.seq})
		}
	}
}

func (s *fdState) setTop(pid int, o *fdObj) {
	if s.top[pid] == nil {
		s.top[pid] = map[string]*fdObj{}
	}
	s.top[pid][o.where] = o
}

// host says whether o is the host path p opened without following a
// symlink (a bind's source, an overlay's lower folder).
func (o *fdObj) host(p string) bool {
	return o != nil && o.kind == fdHost && o.nofollow && o.where == path.Clean(p)
}

// rootHandle says whether a is the handle of the root at root in pid's
// mount namespace: the root's clone moved onto itself (the mount made
// there last), or the root opened without following a symlink after the
// last mount made there (an overlay's), so the top of its mount stack.
func (s *fdState) rootHandle(pid int, a *fdObj, root string) bool {
	if a == nil || a.where != path.Clean(root) {
		return false
	}
	top := s.top[pid][a.where]
	if a == top && (a.kind == fdTree || a.kind == fdMnt) {
		return true
	}
	return a.host(root) && (top == nil || a.seq > top.seq)
}

// inRoot says whether o is target, a path inside the root at root,
// resolved beneath the root's handle, or, beneath != "", beneath the fd of
// the mount held at the root's path beneath (the mount made there last);
// it may be that fd itself (a step at the held mount).
func (s *fdState) inRoot(pid int, o *fdObj, root, target, beneath string) bool {
	if o == nil || o.at() != path.Join(root, target) || (o.kind == fdPath && !o.scoped) {
		return false
	}
	a := anchorOf(o)
	if beneath == "" {
		return s.rootHandle(pid, a, root)
	}
	top := s.top[pid][path.Join(root, beneath)]
	return a != nil && a == top && (a.kind == fdTree || a.kind == fdMnt)
}

// shareHost gives nsup's threads one table (the trace's thread clones are
// not among the events matched).
func (s *fdState) shareHost(host map[int]bool) {
	t := map[int]*fdObj{}
	for pid := range host {
		s.tables[pid] = t
	}
}

// fromOtherAnchor is evs with the first path resolved from a mount's fd
// (a held mount's) resolved instead from another mount fd the process
// holds then, one of a folder above it (the root's handle, a mount's or
// the root opened, or a held mount it lies below), by the same path: the same folder, reached from the
// wrong fd. It is nil when the trace has no such path.
func fromOtherAnchor(evs []event) []event {
	fds := newFdState()
	for i, e := range evs {
		a := splitArgs(e.args)
		if e.name == "openat2" && len(a) == 4 && retFd(e.ret) >= 0 {
			if d := fds.fd(e.pid, a[0]); d != nil && (d.kind == fdTree || d.kind == fdMnt) && d.where != "" {
				t := fds.table(e.pid)
				nums := slices.Sorted(maps.Keys(t))
				for _, n := range nums {
					r := t[n]
					if r == d || r.kind == fdPath || r.kind == fdFs || !strings.HasPrefix(d.where, r.where+"/") {
						continue
					}
					a[0] = strconv.Itoa(n)
					a[1] = strconv.Quote(path.Join(strings.TrimPrefix(d.where, r.where+"/"), unquote(a[1])))
					out := slices.Clone(evs)
					out[i].args = strings.Join(a, ", ")
					return out
				}
			}
		}
		fds.apply(e)
	}
	return nil
}

// nsupPath is a plan's path with $NSUP, nsup's pid, replaced.
func (s *fdState) nsupPath(p string) string {
	return strings.ReplaceAll(p, planner.NsupPid, strconv.Itoa(s.nsup))
}

// childFile accepts /proc/PID/NAME of env's child stage ($CHILD).
func (s *fdState) childFile(env, name string) func(int, string) bool {
	return func(_ int, f string) bool {
		c := s.born["env:"+env]
		return c > 0 && f == "/proc/"+strconv.Itoa(c)+"/"+name
	}
}
