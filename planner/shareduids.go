package planner

// Root's idmap and the host uids other users hold (helper-131's review):
// an environment whose map takes its host uids from a range /etc/subuid
// grants a user (100000, the first user's range on Debian and Ubuntu, is
// the docs' example), or a user's own uid, runs as uids that user's
// processes have too, in the user's own user namespaces (newuidmap maps
// its grant). The kernel checks a signal (kill_ok_by_cred) and a file's
// owner by uid alone: that user stopped and killed a root environment's
// processes, whatever its capabilities, and may write what they own
// where the user reaches it. The commoncap ptrace check still keeps the
// user from their memory and /proc/PID/environ (another user
// namespace's capabilities).

import (
	"fmt"
	"strings"
)

// UIDHolder is a range of host uids another user holds: a grant line
// of /etc/subuid, or a login's own uid (Count 1).
type UIDHolder struct {
	Who string // "/etc/subuid: NAME" or "/etc/passwd: NAME"
	IDRange
}

// othersUIDs reads the uids users other than root hold on the host: the
// lines of the subuid file and the logins of the passwd file (root's,
// uid 0 or named root, left out: root's own ranges are its to map).
func othersUIDs(f hostFiles) []UIDHolder {
	var out []UIDHolder
	for _, n := range passwdNames(f.passwd) {
		if n.uid != 0 {
			out = append(out, UIDHolder{f.passwd + ": " + n.name, IDRange{uint64(n.uid), 1}})
		}
	}
	for _, l := range subIDLines(f.subuid) {
		if l.owner != "root" && l.owner != "0" && l.Count > 0 {
			out = append(out, UIDHolder{f.subuid + ": " + l.owner, l.IDRange})
		}
	}
	return out
}

// sharedUIDs notes, as root, the host uids of the environment's own
// idmap that other users hold (OthersUIDs).
func (ec *envCompiler) sharedUIDs() {
	var held []string
	for _, r := range ec.uidMap {
		if r.Count == 0 {
			continue
		}
		first, last := uint64(r.Outside), uint64(r.Outside)+uint64(r.Count)-1
		for _, h := range ec.caller.OthersUIDs {
			hl := h.First + h.Count - 1
			if hl < h.First || h.First > last || hl < first {
				continue // wrapped (shadow's arithmetic) or apart
			}
			held = append(held, fmt.Sprintf("%s %s", h.Who, idSpan(max(first, h.First), min(last, hl))))
		}
	}
	if len(held) == 0 {
		return
	}
	if len(held) > 4 {
		held = append(held[:4], fmt.Sprintf("%d more", len(held)-4))
	}
	ec.notes = append(ec.notes, fmt.Sprintf("%s.idmap.uid: maps host uids another user holds (%s): that user's processes, in its own user namespaces, are those uids too, and may kill or stop the environment's processes and write the files they own; map a range no user is granted in /etc/subuid nor logs in as", ec.field, strings.Join(held, "; ")))
}

// idSpan is "uid N" or "uids N-M".
func idSpan(first, last uint64) string {
	if first == last {
		return fmt.Sprintf("uid %d", first)
	}
	return fmt.Sprintf("uids %d-%d", first, last)
}
