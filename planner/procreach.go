package planner

// A process's own permissions over its working directory and its
// command. After its setresgid and setresuid a process of another user
// than root has no capability left (nsup gives no ambient one, nor
// SECBIT_KEEP_CAPS): its chdir needs the search bit of every folder on
// the cwd's way, the cwd's own included, and its execve the search bit
// of every folder on the command's way and the command's execute bit,
// as the mode's class for its uid, its gid, or a supplementary group it
// keeps (none: the child stage's setgroups(0), unless setgroups(2) is
// denied, rootless, where the caller's stay). Before helper-151's trial
// a process user: "1000" with cwd: /root (0700, root's), a tmpfs of
// mode: "0700" as its cwd, or a command of mode 0700 planned, and apply
// failed at the chdir or the execve (permission denied).
//
// Root (uid 0) keeps the environment's capabilities: it is checked so
// only where it keeps neither CAP_DAC_OVERRIDE nor CAP_DAC_READ_SEARCH
// (capabilities: {drop: [ALL]}).
//
// Checked in the trees the plan knows, as the process sees them through
// the mounts: a dir root's folders and a bound host folder's (stat(2) of
// the host path: its owner is what the kernel compares, through the id
// maps in a user namespace), nsup's tree of a closure or host root (the
// caller's, with the list's modes), a tmpfs's mode (root inside's). Not
// checked: root with either capability, a tar root's
// own tree, a kernel filesystem, a folder apply makes (0755), a tree
// idmapped into a user namespace, a joined mount namespace. ACLs are not
// read: a file with one is taken by its mode bits alone.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// procCred is what the kernel compares a file's owner and mode with for
// a process: its host uid and gid, and the host groups it keeps.
type procCred struct {
	uid, gid uint32 // inside, as the spec gives them
	hu, hg   int64  // on the host
	groups   []uint32
}

// credOf is pp's procCred, ok false where the plan does not check (see
// above).
func (ec *envCompiler) credOf(pp procPlan) (procCred, bool) {
	c := procCred{uid: pp.uid, gid: pp.gid, hu: int64(pp.uid), hg: int64(pp.gid)}
	if ec.joined(spec.NSMount) != nil || len(ec.idmapped) > 0 {
		return c, false
	}
	if pp.uid == 0 {
		// Root keeps the environment's capabilities: checked only
		// without either that passes over a folder's search bit.
		caps := ec.capabilities()
		if slices.Contains(caps, "CAP_DAC_OVERRIDE") || slices.Contains(caps, "CAP_DAC_READ_SEARCH") {
			return c, false
		}
	}
	if ec.inUserNS() {
		um, gm, ok := ec.knownMaps()
		if !ok {
			return c, false
		}
		c.hu, c.hg = outside(um, pp.uid), outside(gm, pp.gid)
		if c.hu < 0 || c.hg < 0 {
			return c, false // resolve's error
		}
	}
	if ec.denySetgroups {
		c.groups = ec.caller.Groups
	}
	return c, true
}

// may says whether c may do bit (0o1 search or execute) to a file of
// owner u:g and mode: the class of the mode that is c's decides, as the
// kernel's without a capability.
func (c procCred) may(u, g, mode, bit uint32) bool {
	switch {
	case int64(u) == c.hu:
		return mode&(bit<<6) != 0
	case int64(g) == c.hg || slices.Contains(c.groups, g):
		return mode&(bit<<3) != 0
	}
	return mode&bit != 0
}

func (c procCred) String() string {
	s := fmt.Sprintf("uid %d, gid %d", c.uid, c.gid)
	if c.hu != int64(c.uid) || c.hg != int64(c.gid) {
		s += fmt.Sprintf(" (host %d:%d through the id maps)", c.hu, c.hg)
	}
	caps := ", no capability"
	if c.uid == 0 {
		caps = ", neither CAP_DAC_OVERRIDE nor CAP_DAC_READ_SEARCH kept"
	}
	if len(c.groups) == 0 {
		return s + ", no supplementary group" + caps
	}
	return s + fmt.Sprintf(", groups %v kept", c.groups) + caps
}

// fileOwner is what the plan knows of the file at p, a path of the
// process's tree with no link in it: its owner (host ids), its mode,
// and its host path ("" for nsup's own tree, a tmpfs); ok false where
// it is not known (see above).
type fileOwner struct {
	u, g, mode uint32
	host       string
	tmpfs      int // the tmpfs's index among the mounts, -1 else
}

// ownerOf is p's fileOwner in the tree as the mounts land (land).
func (ec *envCompiler) ownerOf(p string, land []string) (fileOwner, bool) {
	e := ec.e
	o := fileOwner{tmpfs: -1}
	for i := len(e.Mounts) - 1; i >= 0; i-- {
		m := e.Mounts[i]
		if !within(p, land[i]) {
			continue
		}
		rel := strings.TrimPrefix(p, land[i])
		if land[i] == "/" {
			rel = p
		}
		switch m.Type {
		case spec.MountBind:
			h := ec.hostDir(m.Source)
			if h.resolveErr != nil || h.statErr != nil || rel != "" && !h.isDir {
				return o, false
			}
			o.host = filepath.Join(h.resolved, rel)
			var err error
			o.u, o.g, o.mode, err = ec.opts.FolderStat(o.host)
			return o, err == nil
		case spec.MountTmpfs:
			if rel != "" || m.Mode == "" {
				// What apply makes in it is 0755; a tmpfs is 1777
				// unless its mode says.
				return o, false
			}
			ru, rg := int64(0), int64(0)
			if ec.inUserNS() {
				um, gm, ok := ec.knownMaps()
				if !ok {
					return o, false
				}
				ru, rg = outside(um, 0), outside(gm, 0)
			}
			o.u, o.g, o.mode, o.tmpfs = uint32(ru), uint32(rg), parseMode(m.Mode), i
			return o, ru >= 0 && rg >= 0
		}
		return o, false
	}
	switch {
	case ec.tree != nil:
		// nsup's tree, built by the caller.
		o.u, o.g, o.mode = ec.caller.UID, ec.caller.GID, 0o755
		if f, ok := ec.tree[p]; ok {
			o.mode = f.Mode
		} else if p != "/" {
			return o, false
		}
		return o, true
	case e.Rootfs.Dir != "" && ec.root != "":
		o.host = filepath.Join(ec.root, p)
		var err error
		o.u, o.g, o.mode, err = ec.opts.FolderStat(o.host)
		return o, err == nil
	}
	return o, false
}

// denial is where a process may not go on a path's way.
type denial struct {
	at    string // the folder or file, in the process's tree
	o     fileOwner
	final bool // at is the path's end (the cwd, the command)
}

// deniedOn walks p in view, its links followed, and returns the first
// folder on its way that c may not search, or p's end itself (a folder
// to enter, or with exec a file to execute) that c may not search or
// execute; nil if none, or where the plan does not know.
func (ec *envCompiler) deniedOn(view treeView, land []string, c procCred, p string) *denial {
	var way []string
	w := walkPath(view, p, walkHow{stop: func(cur string) bool {
		if len(way) == 0 || way[len(way)-1] != cur {
			way = append(way, cur)
		}
		return false
	}})
	for i, at := range way {
		final := i == len(way)-1 && w.end == walkDone
		o, ok := ec.ownerOf(at, land)
		if ok && !c.may(o.u, o.g, o.mode, 0o1) && !hasACL(o.host) {
			return &denial{at: at, o: o, final: final}
		}
	}
	return nil
}

// wayOut says how a denial d of what c (searching a folder, executing
// a file) may be lifted.
func (ec *envCompiler) wayOut(d *denial, c procCred, bit string) string {
	switch {
	case d.o.tmpfs >= 0:
		return fmt.Sprintf("give the tmpfs at %s (%s) a mode that lets every user %s it (mode: \"0755\", or \"1777\")", ec.e.Mounts[d.o.tmpfs].Target, ec.mountField(d.o.tmpfs), bit)
	case d.o.host != "":
		return fmt.Sprintf("let the user %s it (chmod o+x %s, or give it the process's gid as its group and g+x)", bit, d.o.host)
	}
	return "run the process as that file's owner"
}

// cwdReach refuses the process's working directory where its user may
// not search a folder on its way, or the folder itself (its chdir fails
// with EACCES).
func (ec *envCompiler) cwdReach(p *spec.Process, pp procPlan, field string) {
	c, ok := ec.credOf(pp)
	if !ok {
		return
	}
	pos, key := p.Pos, field
	switch {
	case p.Cwd != nil:
		pos, key = p.Cwd.Pos, field+".cwd"
	case ec.e.Cwd != nil:
		pos, key = ec.e.Cwd.Pos, ec.field+".cwd"
	}
	base := ec.baseView()
	if base == nil {
		base = func(string) (File, bool) { return File{}, false }
	}
	view, _ := mountedView(base, ec.viewMounts(), &ec.stats)
	d := ec.deniedOn(view, ec.landings(), c, pp.cwd)
	if d == nil {
		return
	}
	what := "a folder on its way"
	if d.final {
		what = "the folder itself"
	}
	ec.errorf(pos, key, "%s: the process's user (%s) may not search %s, %s (mode %04o, owner %d:%d): its chdir would fail (permission denied); give a cwd that user may enter, %s, or give the process the folder's owner as its user", pp.cwd, c, d.at, what, d.o.mode&0o7777, d.o.u, d.o.g, ec.wayOut(d, c, "search"))
}

// execDenied says why c may not execute the command at cand (a path of
// view, the command's lookup found there), "" if it may, or where the
// plan does not know.
func (ec *envCompiler) execDenied(view treeView, land []string, c procCred, cand string) string {
	d := ec.deniedOn(view, land, c, cand)
	if d == nil {
		return ""
	}
	if d.final {
		return fmt.Sprintf("%s is mode %04o, owner %d:%d, which the process's user (%s) may not execute: its execve would fail (permission denied); %s, or give the process the file's owner as its user", d.at, d.o.mode&0o7777, d.o.u, d.o.g, c, ec.wayOut(d, c, "execute"))
	}
	return fmt.Sprintf("%s, a folder on its way, is mode %04o, owner %d:%d, which the process's user (%s) may not search: its execve would fail (permission denied); %s, or give the process the folder's owner as its user", d.at, d.o.mode&0o7777, d.o.u, d.o.g, c, ec.wayOut(d, c, "search"))
}

// hasACL says whether the host file at p has a POSIX access ACL, which
// may grant what its mode's bits do not (setfacl -m u:1000:x): its
// mode alone is then no reason to refuse, and apply's call is left to
// say (a refusal of a cwd an ACL lets the user enter would be false).
func hasACL(p string) bool {
	if p == "" {
		return false
	}
	n, err := unix.Lgetxattr(p, "system.posix_acl_access", nil)
	return err == nil && n > 0
}
