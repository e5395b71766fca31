package planner

// Root's environments and the host uids other users hold (helper-131's
// review). An environment whose map takes its host uids from a range
// /etc/subuid grants a user (100000, the first user's range on Debian and
// Ubuntu, is the docs' example), or a user's own uid, runs as uids that
// user's processes have too, in the user's own user namespaces
// (newuidmap maps its grant). The kernel checks a signal
// (kill_ok_by_cred) and a file's owner by uid alone: that user stopped
// and killed a root environment's processes, and may write what they own
// where the user reaches it; the commoncap ptrace check still kept it
// from their memory and /proc/PID/environ (capabilities in another user
// namespace). With no user namespace a process's user is the host's
// uid itself, and a process of that uid, in the same user namespace and
// with a superset of its (empty) capabilities, passes the ptrace check
// too: uid 1002 read the environ of an environment's process run as
// user 1002, and its root through /proc/PID/root.

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/spec"
)

// UIDHolder is a range of host uids another user holds: a grant line
// of /etc/subuid, or a login's own uid (Count 1).
type UIDHolder struct {
	Who string // "/etc/subuid: NAME" or "/etc/passwd: NAME"
	IDRange
}

// othersUIDs reads the uids users other than root hold on the host: the
// lines of the subuid file and the logins of the passwd file (root's,
// uid 0 or named root, left out: root's own ranges are its to map). sudo
// is the user nsup acts for under sudo (spec.CallerUID; 0 without sudo):
// that user's login and grants (by name or uid) are left out too, the
// caller's own, as its spec and .env are (spec.Untrusted; helper-134's
// review: `sudo nsup plan` of a dev box run as the caller's uid named it
// "another user").
func othersUIDs(f hostFiles, sudo uint32) []UIDHolder {
	var out []UIDHolder
	names := passwdNames(f.passwd)
	mine := map[string]bool{"root": true, "0": true}
	if sudo != 0 {
		mine[strconv.FormatUint(uint64(sudo), 10)] = true
		for _, n := range names {
			if n.uid == sudo {
				mine[n.name] = true
			}
		}
	}
	for _, n := range names {
		if n.uid != 0 && n.uid != sudo {
			out = append(out, UIDHolder{f.passwd + ": " + n.name, IDRange{uint64(n.uid), 1}})
		}
	}
	for _, l := range subIDLines(f.subuid) {
		if !mine[l.owner] && l.Count > 0 {
			out = append(out, UIDHolder{f.subuid + ": " + l.owner, l.IDRange})
		}
	}
	return out
}

// sharedUIDs notes, as root, the host uids the environment's processes
// run as that other users hold (OthersUIDs): its own idmap's, or,
// outside a user namespace, the uids its processes switch to (but 0).
// A user namespace joined is the other environment's to note.
func (ec *envCompiler) sharedUIDs() {
	if !ec.caller.Privileged || ec.joined(spec.NSUser) != nil {
		return
	}
	type span struct{ first, last uint64 }
	var spans []span
	key, how := "idmap.uid", "maps host uids another user holds (%s): that user's processes, in its own user namespaces, are those uids too: they may kill or stop the environment's processes and write the files they own; map uids no user is granted in /etc/subuid nor logs in as"
	switch {
	case ec.isNew(spec.NSUser):
		for _, r := range ec.uidMap {
			if r.Count > 0 {
				spans = append(spans, span{uint64(r.Outside), uint64(r.Outside) + uint64(r.Count) - 1})
			}
		}
	default:
		key, how = "user", "runs processes, with no user namespace, as host uids another user holds (%s): that user's processes may kill or stop them, ptrace them (their memory, /proc/PID/environ, /proc/PID/root) and write the files they own; give the environment a user namespace, or uids no user holds"
		seen := map[uint32]bool{}
		for _, s := range ec.steps {
			if op, ok := s.Op.(Setresuid); ok && op.UID != 0 && !seen[op.UID] {
				seen[op.UID] = true
				spans = append(spans, span{uint64(op.UID), uint64(op.UID)})
			}
		}
		slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.first, b.first) })
	}
	if len(spans) == 0 || ec.caller.OthersUIDs == nil {
		return
	}
	others := ec.caller.OthersUIDs()
	var held []string
	for _, r := range spans {
		for _, h := range others {
			hl := h.First + h.Count - 1
			if hl < h.First || h.First > r.last || hl < r.first {
				continue // wrapped (shadow's arithmetic) or apart
			}
			held = append(held, fmt.Sprintf("%s %s", h.Who, idSpan(max(r.first, h.First), min(r.last, hl))))
		}
	}
	if len(held) == 0 {
		return
	}
	if len(held) > 4 {
		held = append(held[:4], fmt.Sprintf("%d more", len(held)-4))
	}
	ec.notes = append(ec.notes, ec.field+"."+key+": "+fmt.Sprintf(how, strings.Join(held, "; ")))
}

// idSpan is "uid N" or "uids N-M".
func idSpan(first, last uint64) string {
	if first == last {
		return fmt.Sprintf("uid %d", first)
	}
	return fmt.Sprintf("uids %d-%d", first, last)
}
