package planner

// A tar root without overlay is nsup's cache tree of the archive, bound
// read-only: a mount's target the archive lacks is made in it by apply's
// child stage, as root inside. As root, with an idmap that maps root
// inside elsewhere, that uid may not make a folder in one of the
// archive's (root's, 0755): the plan showed "mkdir target if missing"
// and apply failed with "resolve /src inside the root: permission
// denied" (helper-119). The plan reads the archive's tree (WalkTar, as
// the unpacker takes it) and checks the target's way there.

import (
	"fmt"
	"io"
	"strings"
)

// tarFolder is a name of a tar root's tree as the unpacker leaves it: its
// type, a symlink's target, and a folder's mode and owner (nsup runs as
// root here: the archive's, an implicit folder root's, 0755).
type tarFolder struct {
	typ, link string
	mode      uint32
	uid, gid  uint32
}

// tarFolders is the tree of the tar root's archive, by TarMember.Name
// ("" the root), read once; nil when it cannot be read now, or is not
// the archive of the digest planned (apply refuses that one).
func (ec *envCompiler) tarFolders() map[string]tarFolder {
	if ec.tarRead {
		return ec.tarTree
	}
	ec.tarRead = true
	if ec.tarArchive == "" || ec.tarDigest == "" {
		return nil
	}
	f, _, err := openHashed(ec.tarArchive, ec.tarReal)
	if err != nil {
		return nil
	}
	defer f.Close()
	tree := map[string]tarFolder{"": {typ: TarDir, mode: 0o755}}
	d, walkErr, err := hashWalk(f, func(m TarMember, content io.Reader) error {
		n := tarFolder{typ: m.Type, link: m.Link, mode: m.Mode, uid: uint32(m.Uid), gid: uint32(m.Gid)}
		switch {
		case m.Type == TarHardlink:
			n = tarFolder{typ: TarFile}
		case m.Type == TarSymlink:
			n = tarFolder{typ: TarSymlink, link: m.Link}
		case m.Implicit:
			n = tarFolder{typ: TarDir, mode: 0o755}
		}
		tree[m.Name] = n
		return nil
	})
	if err != nil || walkErr != nil || d != ec.tarDigest {
		return nil
	}
	if !ec.caller.Privileged {
		// Rootless, the unpacker chowns nothing: the cache's tree is
		// the caller's, whatever the archive says (a false refusal
		// with an idmap that maps the caller too: helper-121).
		for name, n := range tree {
			n.uid, n.gid = uint32(ec.caller.UID), uint32(ec.caller.GID)
			tree[name] = n
		}
	}
	ec.tarTree = tree
	return tree
}

// tarTargetMakeable refuses the ith mount, of a tar root without
// overlay, when its target, resolved in the archive's tree (its symlinks
// followed, as apply resolves it inside the root: walkSteps), is missing
// and root inside, host uid and gid, may not make its first missing
// folder in the cache tree's folder that would hold it; or when a folder
// on the way is one that uid may not search. A path that reaches an
// earlier mount's target is that mount's (nestedMounts and the bind
// case); a folder an earlier mount made is root inside's.
func (ec *envCompiler) tarTargetMakeable(i int, uid, gid int64) {
	tree := ec.tarFolders()
	if tree == nil {
		return
	}
	e := ec.e
	m := e.Mounts[i]
	field := ec.mountField(i) + ".target"
	archive := fmt.Sprintf("the tar root's archive %s", e.Rootfs.Tar)
	who := fmt.Sprintf("inside the environment's user namespace, as root inside, host uid %d (gid %d) through the id maps", uid, gid)
	made := func(p string) bool { return p != "/" && ec.madeBy[ec.root+p] }
	view := func(p string) (File, bool) {
		if made(p) {
			return File{Path: p, Type: "dir", Mode: 0o755}, true
		}
		n, ok := tree[strings.TrimPrefix(p, "/")]
		return File{Path: p, Type: n.typ, Link: n.link, Mode: n.mode}, ok
	}
	walkSteps(view, m.Target, func(dir, next, rest string, f File, ok bool) bool {
		for j := 0; j < i; j++ {
			if within(next, e.Mounts[j].Target) {
				return false
			}
		}
		if made(next) {
			return true
		}
		d := tree[strings.TrimPrefix(dir, "/")]
		if !made(dir) && !ec.modeGrants(d.uid, d.gid, d.mode, uid, gid, 0o1) {
			ec.errorf(m.Pos, field, "%s lies in %s, and apply's child stage resolves it %s, which may not search %s on its way (mode %04o, owner %d:%d in the archive and in nsup's cache tree of it): apply would fail with EACCES; let that uid search it in the archive (o+x, or that gid as its group), or give no idmap", m.Target, archive, who, dir, d.mode&0o7777, d.uid, d.gid)
			return false
		}
		switch {
		case !ok:
			// next is the first folder missing: apply makes it in dir,
			// and what follows in it (root inside's, refused or not: a
			// later mount there is not refused again).
			ec.tarMade(strings.TrimPrefix(next, "/"), rest)
			if !made(dir) && !ec.modeGrants(d.uid, d.gid, d.mode, uid, gid, 0o3) {
				ec.errorf(m.Pos, field, "%s is missing in %s: apply makes it (\"target if missing\") %s, which may not make its first missing folder %s in nsup's cache tree of the archive (%s is mode %04o, owner %d:%d there): apply would fail with EACCES; add the folder %s to the archive, say overlay: true (its upper layer is root inside's), or give no idmap", m.Target, archive, who, next, dir, d.mode&0o7777, d.uid, d.gid, next)
			}
			return false
		case f.Type == TarSymlink:
			return moreIn(rest) // the target itself a link: apply's to say
		}
		return f.Type == TarDir // a file: a file bind's target, or ENOTDIR
	})
}

// tarMade records, in madeBy, the folders apply makes in a tar root's
// cache tree: next, and rest below it (up to a "..").
func (ec *envCompiler) tarMade(next, rest string) {
	if ec.madeBy == nil {
		ec.madeBy = map[string]bool{}
	}
	for _, name := range strings.Split(rest, "/") {
		ec.madeBy[ec.root+"/"+next] = true
		switch name {
		case "..":
			return
		case "", ".":
			continue
		}
		next += "/" + name
	}
	ec.madeBy[ec.root+"/"+next] = true
}
