package planner

// The folders the child stage walks by path in a user namespace that maps
// root inside to another host uid: nsup's own (the cache's root trees,
// the named volumes), which nsup makes 0700 for the caller. The child
// opens them after it is born in its user namespace, as the host uid root
// inside maps to: before helper-105's review an environment with idmap
// and a closure root or a volume, as root, planned fine and apply failed
// with EACCES at the child's open_tree. The host now clones those trees
// for the child (hosttree.go), an overlay root's lower tree too
// (overlaytree.go); what the child would still open by path is checked
// here.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/nsup/nsup/spec"
)

// mappedRoot is the host uid and gid that root inside the environment's
// user namespace is, when the plan knows its maps and they map root
// elsewhere than the host's root; ok is false otherwise (the child then
// walks the host's folders as the host's root, or as the caller).
func (ec *envCompiler) mappedRoot() (uid, gid int64, ok bool) {
	// Rootless, nsup's folders are the caller's own, and the host
	// clones none of them (open_tree needs privilege): a rootless idmap
	// that maps root to a subordinate uid is reachRoot's.
	if !ec.mapsKnown() || !ec.caller.Privileged {
		return 0, 0, false
	}
	uid, gid = outside(ec.uidMap, 0), outside(ec.gidMap, 0)
	if uid <= 0 || gid < 0 {
		return 0, 0, false
	}
	return uid, gid, true
}

// reachRoot is the host uid and gid root inside is, for the plan's reach
// checks (childReaches, childWalks, targetMakeable): mappedRoot's, and,
// rootless, the ids an idmap maps root inside to when they are not the
// caller's own (a subordinate uid, which may not search the caller's
// 0700 folders: helper-121 found a dir root, a bind source and a
// missing target in them, and nsup's own cache, planned and failing at
// apply with EACCES). ok is false when root inside is the caller.
//
// In a user namespace joined by name (join: {user: a}), with a mount
// namespace of its own, the child is root of a's namespace, a's maps:
// before helper-126's review they were taken as unknown, and a cache
// root (the child opening nsup's 0700 tree by path, as a's root's host
// uid) planned and failed at apply with EACCES.
func (ec *envCompiler) reachRoot() (uid, gid int64, ok bool) {
	um, gm, known := ec.knownMaps()
	if !known {
		return 0, 0, false
	}
	uid, gid = outside(um, 0), outside(gm, 0)
	if ec.caller.Privileged {
		if uid <= 0 || gid < 0 {
			return 0, 0, false
		}
		return uid, gid, true
	}
	if uid < 0 || gid < 0 || uid == int64(ec.caller.UID) && gid == int64(ec.caller.GID) {
		return 0, 0, false
	}
	return uid, gid, true
}

// knownMaps are the maps of the environment's user namespace, when the
// plan knows them: its own or its pod's (mapsKnown), or those of the
// environment of the spec whose user namespace it joins by name.
func (ec *envCompiler) knownMaps() (uid, gid []spec.IDRange, ok bool) {
	if ec.mapsKnown() {
		return ec.uidMap, ec.gidMap, true
	}
	if j := ec.joined(spec.NSUser); j != nil && !j.isPath() && !ec.inPod(*j) {
		if o := ec.doneEnv(j.ref); o != nil {
			return o.knownMaps()
		}
	}
	return nil, nil, false
}

// rootWayOut is the idmap a message offers as its last way out: root
// inside mapped to the host's root, or, rootless, to the caller's own
// ids (or those mapped too: root inside's capabilities then hold over
// the caller's folders).
func (ec *envCompiler) rootWayOut() string {
	if ec.caller.Privileged {
		return "map root inside to the host's root"
	}
	return fmt.Sprintf("map root inside to your own uid %d and gid %d (or map those too)", ec.caller.UID, ec.caller.GID)
}

// childReaches refuses path, a folder of nsup's (what, for the message)
// that the child stage opens by path, when root inside the environment's
// user namespace, as the host uid it maps to, could not search a folder on
// its way there (path's own parent and above: apply makes path itself if
// missing, searchable; a folder above missing now is made 0700 by apply,
// the caller's): apply's child would fail with EACCES. fix says how to
// plan it otherwise.
func (ec *envCompiler) childReaches(pos spec.Pos, field, what, path, fix string) {
	uid, gid, ok := ec.reachRoot()
	if !ok || ec.opts.Export {
		return
	}
	at, why := ec.unsearchable(filepath.Dir(path), uid, gid, false)
	if at == "" {
		return
	}
	ec.errorf(pos, field, "%s %s is opened by the environment's child stage inside its user namespace, as root inside, host uid %d (gid %d) through the id maps, which may not search %s (%s): apply would fail with EACCES; %s", what, path, uid, gid, at, why, fix)
}

// childWalks refuses a host path of the spec's that the child stage
// opens by path (what, for the message: a dir root, a bind's source) when
// root inside, as the host uid it maps to, could not search a folder of
// dir's way (dir itself included: the folder above path, or path itself
// when the child also enters it): apply's child would fail with EACCES
// (helper-115 found it planned and failing so, as root). A folder missing
// now ends the walk: apply makes it 0755 (create: true).
func (ec *envCompiler) childWalks(pos spec.Pos, field, what, path, dir string) {
	uid, gid, ok := ec.reachRoot()
	if !ok || ec.opts.Export {
		return
	}
	at, why := ec.unsearchable(dir, uid, gid, true)
	if at == "" {
		return
	}
	ec.errorf(pos, field, "%s %s is opened by the environment's child stage inside its user namespace, as root inside, host uid %d (gid %d) through the id maps, which may not search %s (%s): apply would fail with EACCES; %s", what, path, uid, gid, at, why, ec.hostReachFix(gid))
}

// unsearchable is the first folder of dir's way (dir itself included)
// that host uid and gid, in the environment's user namespace, may not
// search, and why; "" if none. A folder missing now is one unless
// madeSearchable, or the maps hold the caller's uid and gid (apply makes
// nsup's 0700, the caller's: a rootless finding of helper-121's). Root
// inside has its capabilities only over a file whose owner and group its
// maps both hold (capabilities(7)):
// elsewhere the mode's bits decide, with no supplementary group (the
// child's setgroups(0)) but those it keeps (keptGroup). ACLs are not read: a folder with one is taken by
// its mode bits alone.
func (ec *envCompiler) unsearchable(dir string, uid, gid int64, madeSearchable bool) (at, why string) {
	ec.folders(dir, func(f string, u, g, mode uint32, err error) bool {
		missing := errors.Is(err, fs.ErrNotExist)
		switch {
		case missing && madeSearchable:
			return false
		case missing:
			// Apply makes it 0700, the caller's (and what follows in
			// it): searchable to root inside through the maps, or as
			// the caller.
			u, g, mode = uint32(ec.caller.UID), uint32(ec.caller.GID), 0o700
		case err != nil:
			at, why = f, err.Error()
			return false
		}
		if hostMapped(ec.uidMap, u) && hostMapped(ec.gidMap, g) {
			return !missing
		}
		bit := uint32(0o001)
		switch {
		case int64(u) == uid:
			bit = 0o100
		case int64(g) == gid, ec.keptGroup(g):
			bit = 0o010
		}
		switch {
		case mode&bit == 0 && missing:
			at, why = f, fmt.Sprintf("missing now: apply makes it 0700, uid %d's", ec.caller.UID)
		case mode&bit == 0:
			at, why = f, fmt.Sprintf("mode %04o, owner %d:%d", mode&0o7777, u, g)
		}
		return mode&bit != 0 && !missing
	})
	return at, why
}

// keptGroup says whether host gid g is one of the caller's supplementary
// groups that root inside keeps: rootless, where setgroups(2) is denied
// (the gid map written without newgidmap), the child's setgroups(0)
// fails and the groups stay, and the kernel grants a folder's group bits
// through them (before helper-122's review a folder of such a group was
// refused, which apply reaches).
func (ec *envCompiler) keptGroup(g uint32) bool {
	return !ec.caller.Privileged && ec.denySetgroups && slices.Contains(ec.caller.Groups, g)
}

// folders calls visit with each folder on dir's way, from / to dir
// itself, and what FolderStat says of it, until visit returns false.
func (ec *envCompiler) folders(dir string, visit func(at string, uid, gid, mode uint32, err error) bool) {
	at := "/"
	parts := strings.Split(strings.Trim(filepath.Clean(dir), "/"), "/")
	if parts[0] == "" {
		parts = nil
	}
	for i := 0; i <= len(parts); i++ {
		if i > 0 {
			at = filepath.Join(at, parts[i-1])
		}
		u, g, mode, err := ec.opts.FolderStat(at)
		if !visit(at, u, g, mode, err) {
			return
		}
	}
}

// hostMapped says whether host id is in a map's outside ranges.
func hostMapped(rs []spec.IDRange, id uint32) bool {
	for _, r := range rs {
		if id >= r.Outside && uint64(id) < uint64(r.Outside)+uint64(r.Count) {
			return true
		}
	}
	return false
}

// cacheReachFix is the way out childReaches gives for a root in nsup's
// cache.
func (ec *envCompiler) cacheReachFix() string {
	way := "an idmap that maps root inside to the host's root"
	if !ec.caller.Privileged {
		way = ec.rootWayOut()
	}
	if j := ec.joined(spec.NSUser); j != nil && !j.isPath() && !ec.inPod(*j) && ec.joined(spec.NSMount) == nil {
		// Its root is laid by the host's clone only in a user namespace
		// of its own (hostTree): in a's, the mount namespace a laid.
		way = fmt.Sprintf("join %s's mount namespace too (join: {user: %s, mnt: %s}), whose root %s laid", j.ref, j.ref, j.ref, j.ref)
	}
	return "give nsup a cache whose folders that uid may search (NSUP_CACHE_DIR, its closure and tar folders made so beforehand, as nsup makes them 0700; other host users may then reach its trees by digest too), a dir root, or " + way
}

// volumeReachFix is the way out childReaches gives for a named volume.
func (ec *envCompiler) volumeReachFix() string {
	if !ec.caller.Privileged {
		// Rootless, a folder of the caller's may not be given a
		// subordinate gid as its group, and one every user may
		// search is refused (volumeExposes).
		return "give a bind of a folder of yours that uid may search instead, or " + ec.rootWayOut()
	}
	return "give nsup volumes in folders that uid may search (NSUP_VOLUME_DIR, and its project's folder made so beforehand: 0710 with that gid as its group, so that other host users are kept out), a bind of a folder of yours, or an idmap that maps root inside to the host's root"
}

// hostReachFix is the way out childWalks gives for a host path of the
// spec's, gid root inside's.
func (ec *envCompiler) hostReachFix(gid int64) string {
	return "let that uid search them (chmod o+x" + ec.chgrpWay(gid, "their") + "), map their owner and group too, or " + ec.rootWayOut()
}

// chgrpWay offers gid as a folder's group (whose, for the wording) where
// the caller may give it: as root, or a gid of the caller's own. A
// rootless caller may not chown(2) a folder to a subordinate gid
// (helper-122's review: the way out was offered, and failed with EPERM).
func (ec *envCompiler) chgrpWay(gid int64, whose string) string {
	if ec.caller.Privileged || gid == int64(ec.caller.GID) || gid >= 0 && slices.Contains(ec.caller.Groups, uint32(gid)) {
		return ", or that gid as " + whose + " group"
	}
	return ""
}

// folderStat is stat(2)'s owner and mode of path, its links followed (as
// the child's walk follows them).
func folderStat(path string) (uid, gid, mode uint32, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0, fmt.Errorf("%s: no owner known", path)
	}
	return st.Uid, st.Gid, st.Mode, nil
}
