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
// user 1002, and its root through /proc/PID/root. Gids the same way
// for files (a file's group is checked by gid alone): a grant of
// /etc/subgid newgidmap maps for its user, a login's primary group, a
// group /etc/group lists a user in, are gids that user's processes have,
// and a file the environment makes for its group (0660, 2775 folders)
// is theirs to read and write (othersGIDs).

import (
	"cmp"
	"fmt"
	"os"
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
	mine := ownNames(names, sudo)
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

// ownNames are the owners, as subuid(5) and group(5) name them, whose
// ids are root's own or, under sudo, the caller's: root, 0, the sudo
// user's uid in digits, and every login of uid 0 or of the sudo user's.
func ownNames(names []passwdName, sudo uint32) map[string]bool {
	mine := map[string]bool{"root": true, "0": true}
	if sudo != 0 {
		mine[strconv.FormatUint(uint64(sudo), 10)] = true
	}
	for _, n := range names {
		if n.uid == 0 || sudo != 0 && n.uid == sudo {
			mine[n.name] = true
		}
	}
	return mine
}

// othersGIDs reads the gids users other than root (and, under sudo, the
// caller: othersUIDs) have on the host: their grants in the subgid file,
// their logins' primary groups (the passwd file) and the groups the group
// file lists them in. Gid 0 is left out, as uid 0 is by sharedUIDs.
func othersGIDs(f hostFiles, sudo uint32) []UIDHolder {
	var out []UIDHolder
	names := passwdNames(f.passwd)
	mine := ownNames(names, sudo)
	for _, n := range names {
		if !mine[n.name] && n.gid != 0 && n.gid != ^uint32(0) {
			out = append(out, UIDHolder{f.passwd + ": " + n.name + "'s group", IDRange{uint64(n.gid), 1}})
		}
	}
	if b, err := os.ReadFile(f.group); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			p := strings.Split(l, ":")
			if len(p) < 4 || p[0] == "" {
				continue
			}
			gid, err := strconv.ParseUint(p[2], 10, 32)
			if err != nil || gid == 0 {
				continue
			}
			for _, m := range strings.Split(p[3], ",") {
				if m = strings.TrimSpace(m); m != "" && !mine[m] {
					out = append(out, UIDHolder{f.group + ": " + p[0] + " (" + m + ")", IDRange{gid, 1}})
					break
				}
			}
		}
	}
	for _, l := range subIDLines(f.subgid) {
		if !mine[l.owner] && l.Count > 0 {
			out = append(out, UIDHolder{f.subgid + ": " + l.owner, l.IDRange})
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
	var uids, gids []span
	key := "idmap"
	notes := [2]string{
		"maps host uids another user holds (%s): that user's processes, in its own user namespaces, are those uids too: they may kill or stop the environment's processes and write the files they own; map uids no user is granted in /etc/subuid nor logs in as",
		"maps host gids another user holds (%s): that user's processes, in its own user namespaces or by their groups, are those gids too: they may read and write the files the environment's processes make for their group, and those processes theirs; map gids no user is granted in /etc/subgid nor has as a group",
	}
	switch {
	case ec.isNew(spec.NSUser):
		uids, gids = mapSpans(ec.uidMap), mapSpans(ec.gidMap)
	default:
		key = "user"
		notes = [2]string{
			"runs processes, with no user namespace, as host uids another user holds (%s): that user's processes may kill or stop them, ptrace them (their memory, /proc/PID/environ, /proc/PID/root) and write the files they own; give the environment a user namespace, or uids no user holds",
			"runs processes, with no user namespace, as host gids another user holds (%s): that user's processes, by their groups, may read and write the files the environment's processes make for their group, and those processes theirs; give the environment a user namespace, or gids no user holds",
		}
		for _, s := range ec.steps {
			switch op := s.Op.(type) {
			case Setresuid:
				uids = addSpan(uids, op.UID)
			case Setresgid:
				gids = addSpan(gids, op.GID)
			case Setgroups:
				for _, g := range op.Groups {
					gids = addSpan(gids, g)
				}
			}
		}
	}
	if held := heldBy(uids, "uid", ec.caller.OthersUIDs); held != "" {
		ec.notes = append(ec.notes, ec.field+"."+key+suffix(key, ".uid")+": "+fmt.Sprintf(notes[0], held))
	}
	if held := heldBy(gids, "gid", ec.caller.OthersGIDs); held != "" {
		ec.notes = append(ec.notes, ec.field+"."+key+suffix(key, ".gid")+": "+fmt.Sprintf(notes[1], held))
	}
}

// suffix is s for the key "idmap", "" for another.
func suffix(key, s string) string {
	if key == "idmap" {
		return s
	}
	return ""
}

// span is a range of host ids, first to last.
type span struct{ first, last uint64 }

// mapSpans are the host ranges of an id map.
func mapSpans(m []spec.IDRange) []span {
	var out []span
	for _, r := range m {
		if r.Count > 0 {
			out = append(out, span{uint64(r.Outside), uint64(r.Outside) + uint64(r.Count) - 1})
		}
	}
	return out
}

// addSpan adds the id id (but 0, and one already there), in order.
func addSpan(spans []span, id uint32) []span {
	if id == 0 || slices.Contains(spans, span{uint64(id), uint64(id)}) {
		return spans
	}
	spans = append(spans, span{uint64(id), uint64(id)})
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.first, b.first) })
	return spans
}

// heldBy names the parts of spans (of ids of the kind unit) that
// others' holders hold ("" for none), four at most and how many more.
func heldBy(spans []span, unit string, others func() []UIDHolder) string {
	if len(spans) == 0 || others == nil {
		return ""
	}
	hs := others()
	var held []string
	for _, r := range spans {
		for _, h := range hs {
			hl := h.First + h.Count - 1
			if hl < h.First || h.First > r.last || hl < r.first {
				continue // wrapped (shadow's arithmetic) or apart
			}
			held = append(held, fmt.Sprintf("%s %s", h.Who, idSpan(unit, max(r.first, h.First), min(r.last, hl))))
		}
	}
	if len(held) > 4 {
		held = append(held[:4], fmt.Sprintf("%d more", len(held)-4))
	}
	return strings.Join(held, "; ")
}

// idSpan is "uid N" or "uids N-M" (unit "uid").
func idSpan(unit string, first, last uint64) string {
	if first == last {
		return fmt.Sprintf("%s %d", unit, first)
	}
	return fmt.Sprintf("%ss %d-%d", unit, first, last)
}
