package planner

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
)

// confinedInSubfolder refuses a masked or read-only path held by mount i
// (len(e.Mounts): the root's own tree) that lies in a subfolder of what a
// writable bind (a volume's too) or a writable dir root shows: the kernel
// refuses to rename the mount point the path becomes, not the folders
// above it, so root inside renames one of those and leaves a folder of
// its own in its place (renamableAbove). Before helper-66's review such a
// path held for one run: root inside moved /data/sub (holding the masked
// /data/sub/secret) to /data/sub2 and made an empty /data/sub, the next
// plan skipped the missing path (a note), and root inside read the host's
// file at sub2/secret; so for readonly_paths: [/data/ro/conf], whose
// moved folder it wrote (in the same run: the host's folder is changed).
// protectSpecFiles refuses a spec file so placed for the same reason.
// Helper-69's review found the same through a bind of the writable
// bind's own subfolder onto its place (hostdata/a/b at /data/a/b, the
// masked path /data/a/b/secret: root inside moved /data/a, and the next
// run bound its empty /data/a/b there), and in a writable dir root's own
// tree (masked_paths: [/etc/secret], root inside moving /etc).
//
// A path below a read-only path of the same mount that is itself held
// (an existing folder that renamableAbove finds nothing to rename above)
// plans: that folder becomes a read-only mount point, which root inside
// can neither rename nor rename anything in (masked_paths:
// [/work/conf/key] with readonly_paths: [/work/conf], /work writable).
// Not when either is named through a link of the tree: root inside
// would repoint the link between runs.
func (ec *envCompiler) confinedInSubfolder(i int, paths []confinedPath, parent []int) {
	placed := func(c confinedPath) string {
		if i == len(ec.e.Mounts) {
			// The root's own: placed by its path, through the tree's links.
			if t := ec.baseView(); t != nil {
				return resolvedPath(t, c.path)
			}
		}
		return c.path
	}
	var held []string
	for _, c := range paths {
		if c.field == "" || !c.readonly {
			continue
		}
		if isDir, ok := ec.pathKind(c); !ok || !isDir {
			continue
		}
		// Named through a link of the tree, it is not held: root inside
		// repoints the link, and the next run places it on a decoy.
		if q := placed(c); q == c.path && !ec.renamable(i, q, parent) {
			held = append(held, q)
		}
	}
	for _, c := range paths {
		if c.field == "" {
			continue // a default, below a proc or a sysfs: new at every run
		}
		p := placed(c)
		if p == c.path && slices.ContainsFunc(held, func(q string) bool { return p != q && within(p, q) }) {
			continue
		}
		r, ok := ec.renamableAbove(i, p, parent)
		if !ok {
			continue
		}
		what := "masked"
		if c.readonly {
			what = "read-only"
		}
		subject := c.path
		if c.written != "" {
			subject = c.written
		}
		if p != subject {
			subject = fmt.Sprintf("%s (%s, as the tree's links lead it)", subject, p)
		}
		then := fmt.Sprintf("%s would no longer be %s (at once, or from the next nsup run on)", c.path, what)
		if r.via != "" {
			then = fmt.Sprintf("the next nsup run would bind that folder at %s, and %s would no longer be %s", r.via, c.path, what)
		}
		ec.errorf(c.pos, c.field, "%s", r.refusal(subject, then))
	}
}

// renamable says whether renamableAbove finds a folder to rename above p.
func (ec *envCompiler) renamable(i int, p string, parent []int) bool {
	_, ok := ec.renamableAbove(i, p, parent)
	return ok
}

// renameAt is where renamableAbove found a folder root inside may
// rename above a confined point.
type renameAt struct {
	writable string // "the writable bind at /data", "the writable root ./rootfs"
	at       string // that mount's target ("/" for the root)
	dir      string // the folder of it the point (or via) lies in, a subfolder
	top      string // the folder of it root inside renames
	via      string // the target of the bind of the same folder the point lies in, or ""
	fix      string // what makes the writable mount hold
	root     string // the root's folder on the host, for a writable root's own tree
	peer     string // the environment that renames through /proc/PID/root, or ""
	place    string // what the fix does directly in at: "mount it"; "" names a path
}

// refusal is the error for subject so placed, then saying what follows.
func (r renameAt) refusal(subject, then string) string {
	place := r.place
	if place == "" {
		place = "name a path"
	}
	in, direct := r.dir, fmt.Sprintf(", %s directly in %s,", place, r.at)
	if r.via != "" {
		in, direct = fmt.Sprintf("the bind at %s (of the very folder %s shows there), in %s", r.via, r.writable, r.dir), ""
	}
	if r.peer != "" {
		return fmt.Sprintf("%s lies in %s, a folder of %s, and %s shares this environment's pid namespace from a mount namespace of its own: root there reaches this environment's mounts through /proc/PID/root, where only the mount points of its own namespace cannot be renamed, so it could rename %s and leave one of its own in its place, and %s; %s, or give the environment a pid namespace of its own",
			subject, in, r.writable, r.peer, r.top, then, r.fix)
	}
	return fmt.Sprintf("%s lies in %s, a subfolder of %s: the kernel refuses to rename a mount point, not the folders above it, so root inside could rename %s and leave a folder of its own in its place, and %s; %s (a mount of its own, read-only or not)%s or %s",
		subject, in, r.writable, r.top, then, r.bindDir(), direct, r.fix)
}

// bindDir says how to make the subfolder a mount of its own.
func (r renameAt) bindDir() string {
	if r.root != "" {
		return fmt.Sprintf("bind %s onto %s", filepath.Join(r.root, r.dir), r.dir)
	}
	return "bind " + r.dir + " itself"
}

// renamableAbove says whether the point p (a masked or read-only path,
// or the target of a read-only bind), which lies in mount i's tree
// (len(e.Mounts): the root's own), lies in a subfolder of a writable
// bind, a volume or a writable dir root: either of mount i itself, or of
// one that mount i, a bind of that very folder onto its own place,
// lies in (ownPlace), and so on outwards. The kernel refuses to rename a
// mount point, not the folders above it: root inside renames the folder
// of the writable mount that p (or the first bind of the same folder on
// the way) lies in, leaves an empty one of its own there, and the next
// nsup run, which finds the paths again by their host paths, binds and
// confines that one, while the host's folder is at the new name.
//
// An environment that shares this one's pid namespace from a mount
// namespace of its own (pidPeer) renames more: reaching this one's
// mounts through /proc/PID/root, it is refused only the mount points of
// its own namespace, so a folder or file directly in the writable mount
// moves as well (helper-69's review: b, joining a's pid namespace,
// moved a's masked /data/secret and read-only /data/conf, and a's next
// run skipped them).
func (ec *envCompiler) renamableAbove(i int, p string, parent []int) (renameAt, bool) {
	e := ec.e
	via, peer := "", ec.pidPeer()
	below := subfolderOf
	if peer != "" {
		below = folderOf
	}
	for inner := p; ; {
		if i == len(e.Mounts) {
			r := e.Rootfs
			if r.Dir == "" || r.Readonly || r.Overlay {
				return renameAt{}, false
			}
			// A mount of the host's below the root comes along (MS_REC),
			// its point a mount point root inside cannot rename.
			at, writable := ec.hostMountHolding(inner), "the writable root "+r.Dir
			if at != "/" {
				writable = fmt.Sprintf("the mount of the host's at %s in the writable root %s", at, r.Dir)
			}
			top, sub := below(inner, at)
			if !sub {
				return renameAt{}, false
			}
			return renameAt{writable: writable, at: at, dir: path.Dir(inner), top: top, via: via, root: ec.root, peer: peer,
				fix: "make the root read-only (rootfs.readonly: true, or overlay: true, whose changes go when the environment ends)"}, true
		}
		m := e.Mounts[i]
		if m.Type == spec.MountBind && !m.Readonly {
			if top, sub := below(inner, m.Target); sub {
				return renameAt{writable: "the writable bind at " + m.Target, at: m.Target, dir: path.Dir(inner), top: top, via: via, peer: peer,
					fix: "make the bind at " + m.Target + " read-only"}, true
			}
		}
		k, own := ec.ownPlace(i, parent)
		if !own {
			return renameAt{}, false
		}
		inner, i, via = ec.ledTarget(i), k, ec.ledTarget(i)
	}
}

// hostMountHolding is the deepest mount of the host's below the root's
// folder whose point (inside the root) holds p, else "/".
func (ec *envCompiler) hostMountHolding(p string) string {
	at := "/"
	mounts, _ := ec.compiler.hostMounts()
	for _, hm := range mounts {
		if hm.Point == ec.root || !within(hm.Point, ec.root) {
			continue
		}
		if in := strings.TrimPrefix(hm.Point, strings.TrimSuffix(ec.root, "/")); within(p, in) && len(in) > len(at) {
			at = in
		}
	}
	return at
}

// ownPlace says whether mount i is a bind of the very folder that the
// mount it lies in (k, from nestedMounts; len(e.Mounts) for a writable
// dir root's own tree) shows at its target: hostdata/a/b at /data/a/b
// with hostdata bound at /data, or rootfs/srv/conf at /srv/conf in a
// root of rootfs. Such a bind is found again by its host path at the
// next run, wherever root inside moved the folder it shows.
func (ec *envCompiler) ownPlace(i int, parent []int) (k int, ok bool) {
	e := ec.e
	m := e.Mounts[i]
	if m.Type != spec.MountBind {
		return 0, false
	}
	if k = parent[i]; k < 0 {
		r := e.Rootfs
		if r.Dir == "" || ec.root == "" || r.Readonly || r.Overlay {
			return 0, false
		}
		return len(e.Mounts), sameFolder(m.Source, filepath.Join(ec.root, ec.ledTarget(i)))
	}
	w := e.Mounts[k]
	if w.Type != spec.MountBind {
		return 0, false
	}
	return k, sameFolder(m.Source, filepath.Join(w.Source, strings.TrimPrefix(m.Target, w.Target)))
}

// ledTarget is mount i's target as the tree's links lead it (treeTargets,
// of a dir root), else as written.
func (ec *envCompiler) ledTarget(i int) string {
	if i < len(ec.treeTargets) && ec.treeTargets[i].at != "" {
		return ec.treeTargets[i].at
	}
	return ec.e.Mounts[i].Target
}

// folderOf says whether the path p lies below the folder dir (by one
// name or more), and gives the name of dir it lies in (top, a path).
func folderOf(p, dir string) (top string, ok bool) {
	rel, below := strings.CutPrefix(p, strings.TrimSuffix(dir, "/")+"/")
	if !below {
		return "", false
	}
	first, _, _ := strings.Cut(rel, "/")
	return path.Join(dir, first), true
}

// pidPeer names an environment that shares this one's pid namespace from
// a mount namespace of its own (its processes pass the ptrace check on
// this one's, the same uid with the same capabilities, and reach its
// mounts through /proc/PID/root), or the processes of a pid namespace
// joined by path; "" if there is none. (Environments in the host's pid
// namespace are each in a Landlock domain of their own, which keeps
// their processes from another domain's.)
//
// Asked for every masked or read-only path: known once per environment,
// and only the environments that join a pid namespace (or own this
// one's) looked at closer; before helper-73's review every path asked
// every environment's namespace owners, each found by a scan of them
// all (1,000 environments with three such paths each planned in 4.3 s).
func (ec *envCompiler) pidPeer() string {
	if !ec.peerKnown {
		ec.peer, ec.peerKnown = ec.findPidPeer(), true
	}
	return ec.peer
}

func (ec *envCompiler) findPidPeer() string {
	e := ec.e
	if j := ec.joined(spec.NSPID); j != nil && j.isPath() {
		return "any process of the pid namespace joined by path (" + j.ref + ")"
	}
	owner := ec.s.NamespaceOwner(e.Name, spec.NSPID)
	if owner == nil || !owner.HasNamespace(spec.NSPID) {
		return ""
	}
	mnt := ec.s.NamespaceOwner(e.Name, spec.NSMount)
	for _, o := range ec.s.Environments {
		if o.Name == e.Name || o != owner && o.Joined(spec.NSPID) == nil {
			continue // its own pid namespace, or the host's: not owner's
		}
		if ec.s.NamespaceOwner(o.Name, spec.NSPID) == owner {
			if m := ec.s.NamespaceOwner(o.Name, spec.NSMount); m == nil || m != mnt {
				return "environment " + o.Name
			}
		}
	}
	return ""
}

// subfolderOf says whether the path p lies in a subfolder of the folder
// dir (below dir by two names or more), and gives the folder of dir it
// lies in (top, a path). The kernel refuses to rename a mount point, not
// the folders above it: a mount or a confined path so placed below a
// writable bind of dir moves when root inside renames top.
func subfolderOf(p, dir string) (top string, ok bool) {
	rel, below := strings.CutPrefix(p, strings.TrimSuffix(dir, "/")+"/")
	if !below {
		return "", false
	}
	first, _, ok := strings.Cut(rel, "/")
	return path.Join(dir, first), ok
}
