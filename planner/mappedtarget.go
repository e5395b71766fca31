package planner

// A mount's target that is missing is made by apply's child stage
// ("mkdir target if missing"), inside its user namespace: as root, with
// an idmap that maps root inside elsewhere, as that host uid. In a dir
// root of the host's root (0755, root's) it may not: before helper-118's
// change the plan showed the step and apply failed with "resolve /src
// inside the root: permission denied". An overlaid root's upper layer is
// root inside's, a tmpfs root inside mounted too; a host folder bound
// earlier is the host's, and checked as the root is.

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
)

// targetMakeable refuses the ith mount when its target is missing and
// root inside, as the host uid it maps to, could not make its first
// missing folder: its parent, in the dir root or in the host folder of
// the earlier bind the target lies in (parent is nestedMounts's), is a
// folder that uid may not write or search (its owner and group unmapped,
// the mode's bits not granting it); or when a folder on its way there
// (the root itself is childWalks's), the target missing or not, is one
// that uid may not search. A folder an earlier mount made is
// root inside's (0755, the mapped uid's). In the dir root the target is
// judged where it lands through the root's links (dirRootView, the one
// walk apply's RESOLVE_IN_ROOT makes: before helper-160's change a
// tmpfs at /l/made, l -> real, was refused at /real/made and planned at
// /l/made, and apply failed with "resolve /l/made inside the root:
// permission denied"); in a bind's host folder no link is followed
// (walkFollowsNoLink's). One that leads below a kernel filesystem or a
// tmpfs mounted earlier, or a volume's folder, is root inside's own.
func (ec *envCompiler) targetMakeable(i int, parent []int) {
	uid, gid, ok := ec.reachRoot()
	if !ok || ec.opts.Export || ec.joined(spec.NSMount) != nil {
		return
	}
	e := ec.e
	m := e.Mounts[i]
	base, rel, where := "", m.Target, ""
	var fix func(land string) string
	k := parent[i]
	switch {
	case k >= 0:
		b := e.Mounts[k]
		h := ec.hostDir(b.Source)
		if b.Type == spec.MountBind && ec.made[b.Source] == "create" && errors.Is(h.statErr, fs.ErrNotExist) {
			ec.createdTargetMakeable(i, k, uid, gid)
			return
		}
		if b.Type != spec.MountBind || ec.made[b.Source] == "volume" || h.resolveErr != nil || h.statErr != nil || !h.isDir {
			return
		}
		base, rel = h.resolved, path.Join("/", strings.TrimPrefix(m.Target, b.Target))
		where = fmt.Sprintf("below the bind at %s (%s), in its host folder %s", b.Target, ec.mountField(k), base)
		fix = func(land string) string {
			return fmt.Sprintf("make %s beforehand, or give an idmap that maps that folder's owner and group too", land)
		}
	case ec.isDirRoot():
		base = ec.root
		where = fmt.Sprintf("in the dir root %s", base)
		fix = func(land string) string {
			return fmt.Sprintf("make %s in the root beforehand, say overlay: true (its upper layer is root inside's), or give an idmap that maps the root's owner and group too", land)
		}
	default:
		return
	}
	if ec.madeBy == nil {
		ec.madeBy = map[string]bool{}
	}
	host := func(p string) string { return filepath.Join(base, p) }
	var view treeView
	origin := func(string) string { return "" }
	how := walkHow{}
	if k >= 0 {
		view, how.link = dirTree(base, &ec.stats), never
	} else if view, origin = ec.dirRootView(i); view == nil {
		return
	}
	// A folder an earlier target made is there, root inside's.
	tree := view
	view = func(p string) (File, bool) {
		if f, ok := tree(p); ok || !ec.madeBy[host(p)] {
			return f, ok
		}
		return File{Path: p, Type: "dir", Mode: 0o755}, true
	}
	// The folders apply's walk searches, in order (the last one asked,
	// when the path is there whole, is the target itself: not searched).
	var ways []string
	how.stop = func(cur string) bool {
		// Below an earlier mount (a link led there: linkedBelowBind's)
		// the walk is that mount's.
		if origin(cur) != "" {
			return true
		}
		ways = append(ways, cur)
		return false
	}
	w := walkPath(view, rel, how)
	if w.end == walkDone {
		ways = ways[:len(ways)-1]
	}
	for _, cur := range ways {
		// The root itself is childWalks's; a folder apply made is root
		// inside's.
		if cur == "/" && k < 0 || ec.madeBy[host(cur)] {
			continue
		}
		if u, g, mode, ok := ec.grants(host(cur), uid, gid, 0o1); !ok {
			ec.errorf(m.Pos, ec.mountField(i)+".target", "%s lies %s, and apply's child stage resolves it inside the environment's user namespace, as root inside, host uid %d (gid %d) through the id maps, which may not search %s on its way (mode %04o, owner %d:%d): apply would fail with EACCES; let that uid search it (chmod o+x%s), or give an idmap that maps its owner and group too", m.Target, where, uid, gid, host(cur), mode&0o7777, u, g, ec.chgrpWay(gid, "its"))
			return
		}
	}
	// Only a folder of the path's own is made: not a dangling link's
	// target (apply's mkdir -p fails there), nor what ".." names.
	if w.end != walkMissing || path.Join(w.lead, w.tail) != path.Join(w.at, w.rest) || slices.Contains(strings.Split(w.rest, "/"), "..") {
		return
	}
	// w.at is the first folder missing: apply makes it in w.cur, and
	// what follows in it.
	at := w.at
	ec.madeBy[host(at)] = true
	for _, p := range closurePathParts(w.rest) {
		at = path.Join(at, p)
		ec.madeBy[host(at)] = true
	}
	if u, g, mode, ok := ec.grants(host(w.cur), uid, gid, 0o3); !ok {
		ec.errorf(m.Pos, ec.mountField(i)+".target", "%s is missing %s: apply makes it (\"target if missing\") inside the environment's user namespace, as root inside, host uid %d (gid %d) through the id maps, which may not make its first missing folder %s there (%s is mode %04o, owner %d:%d): apply would fail with EACCES; %s", m.Target, where, uid, gid, host(w.at), host(w.cur), mode&0o7777, u, g, fix(host(at)))
	}
}

// grants says whether host uid and gid, in the environment's user
// namespace, may do what bits (0o1 search, 0o3 write and search) asks of
// the folder at: root inside's capabilities over a folder whose owner and
// group the maps hold, else the mode's bits (unsearchable's reading). ok
// is true when the folder cannot be looked at now (a folder apply makes:
// root inside's).
func (ec *envCompiler) grants(at string, uid, gid int64, bits uint32) (u, g, mode uint32, ok bool) {
	u, g, mode, err := ec.opts.FolderStat(at)
	return u, g, mode, err != nil || ec.modeGrants(u, g, mode, uid, gid, bits)
}

// modeGrants is grants's answer for a folder of owner u:g and mode.
func (ec *envCompiler) modeGrants(u, g, mode uint32, uid, gid int64, bits uint32) bool {
	if hostMapped(ec.uidMap, u) && hostMapped(ec.gidMap, g) {
		return true
	}
	need := bits
	switch {
	case int64(u) == uid:
		need = bits << 6
	case int64(g) == gid, ec.keptGroup(g):
		need = bits << 3
	}
	return mode&need == need
}

// createdTargetMakeable refuses the ith mount, whose target lies below
// the kth, a bind with create: true of a folder missing now: apply's host
// stage makes it 0755, the caller's (mkdirAll), and the child, as root
// inside, then makes the target in it. Before helper-122's review the
// plan took such a folder for root inside's and apply failed with
// "resolve ... inside the root: permission denied" (a real rootless run,
// root inside on a subordinate uid).
func (ec *envCompiler) createdTargetMakeable(i, k int, uid, gid int64) {
	m, b := ec.e.Mounts[i], ec.e.Mounts[k]
	u, g := uint32(ec.caller.UID), uint32(ec.caller.GID)
	if ec.modeGrants(u, g, 0o755, uid, gid, 0o3) {
		return
	}
	ec.errorf(m.Pos, ec.mountField(i)+".target", "%s lies below the bind at %s (%s), whose host folder %s apply makes (create: true) 0755, uid %d's, and apply's child stage makes %s in it (\"target if missing\") inside the environment's user namespace, as root inside, host uid %d (gid %d) through the id maps, which may not write there: apply would fail with EACCES; make %s beforehand, or %s", m.Target, b.Target, ec.mountField(k), b.Source, u, m.Target, uid, gid, filepath.Join(b.Source, strings.TrimPrefix(m.Target, b.Target)), ec.rootWayOut())
}
