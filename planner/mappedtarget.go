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
	"os"
	"path"
	"path/filepath"
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
// root inside's (0755, the mapped uid's). A path through a symlink of
// the tree is left to linkedBelowBind; one below a kernel filesystem or
// a tmpfs mounted earlier, or a volume's folder, is root inside's own.
func (ec *envCompiler) targetMakeable(i int, parent []int) {
	uid, gid, ok := ec.reachRoot()
	if !ok || ec.opts.Export || ec.joined(spec.NSMount) != nil {
		return
	}
	e := ec.e
	m := e.Mounts[i]
	base, rel, where, fix := "", m.Target, "", ""
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
		base, rel = h.resolved, strings.TrimPrefix(m.Target, b.Target)
		where = fmt.Sprintf("below the bind at %s (%s), in its host folder %s", b.Target, ec.mountField(k), base)
		fix = fmt.Sprintf("make %s beforehand, or give an idmap that maps that folder's owner and group too", filepath.Join(base, rel))
	case e.Rootfs.Dir != "" && !e.Rootfs.Overlay && ec.root != "" && ec.root != "/":
		base = ec.root
		where = fmt.Sprintf("in the dir root %s", base)
		fix = fmt.Sprintf("make %s in the root beforehand, say overlay: true (its upper layer is root inside's), or give an idmap that maps the root's owner and group too", filepath.Join(base, rel))
	default:
		return
	}
	if ec.madeBy == nil {
		ec.madeBy = map[string]bool{}
	}
	parts := closurePathParts(rel)
	at := base
	for n, name := range parts {
		if name == ".." || name == "." {
			return
		}
		// Apply's walk searches at (the root itself is childWalks's).
		if at != ec.root || k >= 0 {
			if u, g, mode, ok := ec.grants(at, uid, gid, 0o1); !ok {
				ec.errorf(m.Pos, ec.mountField(i)+".target", "%s lies %s, and apply's child stage resolves it inside the environment's user namespace, as root inside, host uid %d (gid %d) through the id maps, which may not search %s on its way (mode %04o, owner %d:%d): apply would fail with EACCES; let that uid search it (chmod o+x%s), or give an idmap that maps its owner and group too", m.Target, where, uid, gid, at, mode&0o7777, u, g, ec.chgrpWay(gid, "its"))
				return
			}
		}
		next := filepath.Join(at, name)
		fi, err := os.Lstat(next)
		switch {
		case err == nil && fi.Mode()&os.ModeSymlink != 0, err == nil && !fi.IsDir() && n < len(parts)-1:
			return
		case err == nil:
			at = next
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return
		case ec.madeBy[next]:
			at = next
			continue
		}
		// next is the first folder missing: apply makes it in at, and
		// what follows in it.
		for _, p := range parts[n:] {
			at2 := filepath.Join(at, p)
			ec.madeBy[at2], at = true, at2
		}
		at = path.Dir(next)
		if u, g, mode, ok := ec.grants(at, uid, gid, 0o3); !ok {
			ec.errorf(m.Pos, ec.mountField(i)+".target", "%s is missing %s: apply makes it (\"target if missing\") inside the environment's user namespace, as root inside, host uid %d (gid %d) through the id maps, which may not make its first missing folder %s there (%s is mode %04o, owner %d:%d): apply would fail with EACCES; %s", m.Target, where, uid, gid, next, at, mode&0o7777, u, g, fix)
		}
		return
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
