package planner

// The root tree of an environment: a dir, a tar unpacked into the cache, or a closure of host files built into it; and the paths apply opens without following symlinks.

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

type closureResult struct {
	files []File
	err   error
}

func (c *compiler) closure(paths []string) ([]File, error) {
	key := strings.Join(paths, "\x00")
	// Found before c.mu is held: ownClosure asks for them, and finding
	// them takes c.mu (hostDir).
	c.writableFolders()
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.closures[key]
	if !ok {
		r.files, r.err = c.opts.Closure(paths)
		if c.closures == nil {
			c.closures = map[string]closureResult{}
		}
		c.closures[key] = r
	}
	// A copy: each environment adds its own directories to its tree.
	return append([]File(nil), r.files...), r.err
}

// resolved is a host path with every symlink in it resolved, as the plan
// uses it: apply opens it with openat2(2) RESOLVE_NO_SYMLINKS, so a
// symlink put in its way after planning (by an environment that can
// write there, say) is refused instead of followed (to the host's /). A
// path that does not resolve is left as it is: its error is the caller's.
func (ec *envCompiler) resolved(p, field string) string {
	h := ec.hostDir(p)
	if h.resolveErr != nil {
		return p
	}
	if r := h.resolved; r != p {
		ec.notes = append(ec.notes, fmt.Sprintf("%s: %s is %s (symlinks resolved now; apply refuses a symlink in that path)", field, p, r))
	}
	return h.resolved
}

// hostShown is a bind's source p as the notes name it: the folder apply
// binds, where p's symlinks lead, then p as written when they differ.
// Before helper-117's review the note of what an environment may write
// named a repository's ./data, a link to ~/.ssh, as the project's own
// folder.
func (ec *envCompiler) hostShown(p string) string {
	if h := ec.hostDir(p); h.resolveErr == nil && h.resolved != p {
		return h.resolved + " (" + p + ")"
	}
	return p
}

// hostDir is what the plan asks of a host path named as a rootfs or a
// bind source: EvalSymlinks and stat(2).
type hostDir struct {
	resolved   string
	resolveErr error
	isDir      bool
	statErr    error
}

// hostDir asks the host about p once per plan: the environments of one
// file often share a rootfs.
func (c *compiler) hostDir(p string) hostDir {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.dirs[p]; ok {
		return h
	}
	var h hostDir
	h.resolved, h.resolveErr = filepath.EvalSymlinks(p)
	st, err := os.Stat(p)
	h.statErr = err
	if err == nil {
		h.isDir = st.IsDir()
	}
	if c.dirs == nil {
		c.dirs = map[string]hostDir{}
	}
	c.dirs[p] = h
	return h
}

// rootfs plans the root tree. A closure tree is immutable once in the
// cache (its digest names it), so every directory the environment needs
// to exist (mount targets, working directories) is part of the tree:
// nothing is ever created inside a cache entry at apply time.
func (ec *envCompiler) rootfs() {
	r := ec.e.Rootfs
	field := ec.field + ".rootfs"
	if ec.joined(spec.NSMount) != nil {
		ec.joinedRootfs()
		return
	}
	ec.cacheRootRemount(r, "")
	switch {
	case r.Dir != "":
		ec.plantedLink(r.Dir, r.DirPos, field+".dir")
		ec.root = ec.resolved(r.Dir, field+".dir")
		if ec.root == "/" {
			what := ""
			if r.Overlay {
				what = " (under an overlay too)"
			}
			ec.errorf(r.DirPos, field+".dir", "%s is the host's own root /%s, which the environment cannot be given (pivot_root needs a tree of its own, and / holds the host's /proc, /dev, /sys and every mount): for the host's programs write rootfs: {host: [/usr, /etc/ssl, ...]}, the folders bound read-only in a root of their own", r.Dir, what)
		} else if !ec.confiningUserNS() {
			// Bound recursively as the environment's /: what a bind
			// of it may not be (a review ran in rootfs: {dir: /proc}
			// and wrote the host's core_pattern).
			if why := ec.kernelBindRefused(r.Dir, true); why != "" {
				ec.errorf(r.DirPos, field+".dir", "%s", why)
			}
		} else if why := ec.procBindRefused(r.Dir, true); why != "" {
			ec.errorf(r.DirPos, field+".dir", "%s", why)
		}
		if h := ec.hostDir(r.Dir); h.statErr != nil {
			ec.errorf(r.DirPos, field+".dir", "%v", unwrapPath(h.statErr))
			ec.rootFailed = true
		} else if !h.isDir {
			ec.errorf(r.DirPos, field+".dir", "%s is not a directory", r.Dir)
			ec.rootFailed = true
		} else if !r.Overlay {
			// Bound recursively, and writable: a folder above a host
			// mount below it is renamed as through a writable bind
			// (helper-54's review). Read-only, as far as root inside
			// may not lift the flag (mountsMovable).
			ec.mountsMovable(spec.Mount{Pos: r.DirPos, Type: spec.MountBind, Source: r.Dir, Recursive: true, Readonly: r.Readonly}, field+".dir")
		}
		if ec.root != "/" && ec.joined(spec.NSMount) == nil {
			// The child opens the root by path and enters it (chdir
			// before pivot_root; through an overlay, whose root is the
			// folder's mode, execve's walk from /): the folder itself
			// must be searchable too.
			ec.childWalks(r.DirPos, field+".dir", "the dir root", ec.root, ec.root)
		}
		ec.add(Host, r.Pos, Rootfs{Type: "dir", Sources: []string{r.Dir}, Path: ec.root})
		ec.targetLinks()
	case r.Tar != "":
		if !r.Readonly && !r.Overlay {
			ec.errorf(r.Pos, field+".readonly", "readonly: false with a tar root: the unpacked tree is nsup's cache entry, shared by every environment made of the same archive, and is never written; for a writable root say overlay: true (its changes go when the environment ends)")
		}
		// Only the archive's digest, what it has at the files of /etc
		// the plan may generate or read (taretc.go, taridentity.go),
		// and its tree's shape (tarshape.go): its files are listed
		// when it is unpacked (apply) or locked (nsup lock), not at
		// every plan.
		ec.plantedLink(r.Tar, r.TarPos, field+".tar")
		// Hashed where the check found it (its resolution, the check's
		// own look), with no symlink on the way: a link swapped in since
		// would have the plan hash, and apply unpack, a host archive.
		archive, real := r.Tar, false
		if h := ec.hostDir(r.Tar); h.resolveErr == nil {
			archive, real = h.resolved, true
			if archive != r.Tar {
				// Shown as a bind's source and a dir root are: a
				// repository's ./root.tar may lead to any host archive.
				ec.notes = append(ec.notes, fmt.Sprintf("%s.tar: %s is %s (symlinks resolved now; apply unpacks only an archive of the digest planned)", field, r.Tar, archive))
			}
		}
		digest, etc, id, err := ec.opts.Index.hashTar(IndexKey("tar", []string{r.Tar}), archive, real)
		ec.tarEtc, ec.tarID = etc, id
		if err != nil {
			ec.errorf(r.TarPos, field+".tar", "%v", unwrapPath(err))
			digest = "sha256:?"
		}
		ec.root = filepath.Join(ec.opts.CacheDir, "tar", strings.TrimPrefix(digest, "sha256:"))
		ec.add(Host, r.Pos, Rootfs{Type: "tar", Sources: []string{r.Tar}, Path: ec.root, Digest: digest})
		ec.targetLinks() // through the archive's shape (tarshape.go)
		if !ec.rootTree(r, field) {
			ec.childReaches(r.Pos, field, "the tar root's tree (nsup's cache)", ec.root, ec.cacheReachFix())
		}
	default:
		if !r.Readonly && !r.Overlay {
			// A cache entry is shared by every environment made of the
			// same files, and reused without a check of its contents: a
			// write in one would be in every later one.
			kind := "closure"
			if len(r.Host) > 0 {
				kind = "host"
			}
			ec.errorf(r.Pos, field+".readonly", "readonly: false with a %s root: the tree is nsup's cache entry, shared by every environment made of the same files, and is never written; for a writable root say overlay: true (its changes go when the environment ends)", kind)
		}
		var paths, host []string
		if len(r.Host) > 0 {
			host = ec.hostRootTree(r, field)
		} else {
			paths = ec.closureTree(r, field)
		}
		ec.targetLinks()
		ec.mountPoints()
		ec.etcPlaceholders()
		ec.identityInTree()
		files := make([]File, 0, len(ec.tree))
		for _, f := range ec.tree {
			files = append(files, f)
		}
		sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
		digest := TreeDigest(files)
		ec.root = filepath.Join(ec.opts.CacheDir, "closure", strings.TrimPrefix(digest, "sha256:"))
		ec.add(Host, r.Pos, Rootfs{Type: "closure", Sources: paths, Data: ec.pkgFiles, Path: ec.root, Digest: digest, Files: files, Host: host})
		if !ec.rootTree(r, field) {
			ec.childReaches(r.Pos, field, "the root's tree (nsup's cache)", ec.root, ec.cacheReachFix())
		}
	}
}

// joinedRootfs: an environment that joins a mount namespace sees that
// namespace's root, and mounts nothing in it (another environment's, or
// the host's: a mount there would change theirs). Its rootfs only says
// what tree that is, to resolve commands in: for a join by name it must
// be the joined environment's own.
func (ec *envCompiler) joinedRootfs() {
	e, j := ec.e, ec.joined(spec.NSMount)
	r := e.Rootfs
	field := ec.field + ".rootfs"
	why := fmt.Sprintf("the mount namespace is joined (join.mnt: %s) and used as it is", j.ref)
	if r.Overlay {
		ec.errorf(r.Pos, field+".overlay", "%s: nsup mounts nothing in it; remove overlay", why)
	}
	if len(e.Mounts) > 0 {
		ec.errorf(e.Mounts[0].Pos, ec.field+".mounts", "%s: nsup mounts nothing in it; remove mounts (or give the environment its own mnt namespace)", why)
	}
	// Nor masks or makes read-only anything in it: before helper-69's
	// review a list of its own was dropped without a word, and root
	// inside read the file the spec masked (what the joined namespace
	// shows there). Paths that the environment making the namespace
	// lists the same way (the same security block written twice)
	// are confined there, and seen so here: they plan (helper-73's
	// review; refused before).
	var have [2]*spec.Paths
	if o := ec.s.NamespaceOwner(e.Name, spec.NSMount); o != nil && o.Security != nil && !j.isPath() {
		have = [2]*spec.Paths{o.Security.MaskedPaths, o.Security.ReadonlyPaths}
	}
	if s := e.Security; s != nil {
		for k, l := range []struct {
			key   string
			paths *spec.Paths
		}{{"masked_paths", s.MaskedPaths}, {"readonly_paths", s.ReadonlyPaths}} {
			if l.paths == nil {
				continue
			}
			var dropped []string
			for _, p := range pathValues(l.paths) {
				if have[k] == nil || !slices.ContainsFunc(pathValues(have[k]), func(q string) bool { return path.Clean(q) == path.Clean(p) }) {
					dropped = append(dropped, p)
				}
			}
			if len(dropped) > 0 {
				ec.errorf(l.paths.Pos, ec.field+".security."+l.key, "%s: nsup mounts nothing in it, so %s would stay as that namespace shows them; list them where that namespace is made (%s), or give this one its own mnt namespace", why, strings.Join(dropped, ", "), j.ref)
			}
		}
	}
	if ec.confiningUserNS() {
		// In a user namespace that maps root elsewhere, as a bind of the
		// host's /proc is (procBindRefused).
		if path := ec.hostOwnedMountNS(*j); path != "" {
			what := j.ref
			if path != j.ref {
				what = fmt.Sprintf("%s's mount namespace (%s joins %s)", j.ref, j.ref, path)
			}
			ec.errorf(j.pos, ec.field+".join.mnt", "%s belongs to the host's user namespace: a mount namespace of the host's (its own, or a copy of it, as a service's private one) has the host's /proc, and %s; give the environment a mount namespace of its own (add mnt to namespaces), or join it outside a user namespace, where the plan says what it is", what, procWhy)
		}
	}
	if o := ec.s.NamespaceOwner(e.Name, spec.NSMount); o != nil && !j.isPath() {
		ec.cacheRootRemount(o.Rootfs, o.Name)
	}
	if !j.isPath() {
		o := ec.doneEnv(j.ref)
		if o == nil {
			return
		}
		if !sameRootfs(o.e.Rootfs, r) {
			ec.errorf(r.Pos, field, "%s: the environment sees %s's root, so its rootfs must be %s's (the same dir, tar or closure)", why, j.ref, j.ref)
		}
		if o.confiningUserNS() && ec.ownUserKey() != ec.userKey(j.ref) {
			// Its mounts were allowed because root in its user namespace
			// is not the host's (userns.go); root out of it is (found
			// by a review: b, joining a's mount namespace only, wrote
			// the host's core_pattern through a's bind of /proc).
			// Its own user namespace is another one too (its maps not
			// those the mounts were checked for); the message said "the
			// host's" for it before helper-116's stop.
			other := "the host's"
			switch {
			case ec.isNew(spec.NSUser):
				other = "its own"
			case ec.ownUserKey() != "host":
				other = "the one it joins"
			}
			ec.errorf(j.pos, ec.field+".join.mnt", "%s's mounts are checked for its user namespace, where root is not the host's: entering them from another user namespace (%s, here) would be root among them; join its user namespace too (join: {user: %s})", j.ref, other, j.ref)
		}
		// Commands are found in that namespace's tree: its root and
		// its mounts, as the joined environment made them (a host
		// root's folders are binds).
		ec.root, ec.tree, ec.views = o.root, o.tree, o.views
		return
	}
	if !ec.confiningUserNS() {
		// The host's own (nsenter's way): said, since nothing of its
		// tree is the environment's; root inside writes the host's
		// files and, through its /proc, kernel settings, as the spec
		// asks (a review compared it with a recursive bind of /, which
		// is refused because a read-only one would not be).
		if same, _ := ec.nsupsOwnNS(j.ref, spec.NSMount); same {
			ec.notes = append(ec.notes, fmt.Sprintf("%s.join.mnt: %s is the host's own mount namespace: the environment runs in the host's tree, every file of it, /proc and /sys included, there for root inside as for the host's root", ec.field, j.ref))
		}
	}
	switch {
	case r.Dir != "":
		ec.root = r.Dir
	case len(r.Closure) > 0:
		ec.closureTree(r, field)
	}
}

// hostOwnedMountNS is the path of the mount namespace j joins if the
// host's user namespace owns it (a join by name followed to the path its
// environment joins), else "": the environment's own, another user
// namespace's, or one not known.
func (ec *envCompiler) hostOwnedMountNS(j joinRef) string {
	for range 64 { // a chain of names, each joining the next's
		if j.isPath() {
			if ec.pathNSOwner(j.ref) == ownerHost {
				return j.ref
			}
			return ""
		}
		o := ec.doneEnv(j.ref)
		if o == nil || o.joined(spec.NSMount) == nil {
			return ""
		}
		j = *o.joined(spec.NSMount)
	}
	return ""
}

// closureTree resolves the rootfs's closure into ec.tree (by path) and
// returns the host paths it was asked for.
func (ec *envCompiler) closureTree(r spec.Rootfs, field string) []string {
	var paths []string
	for i, p := range r.Closure {
		ec.plantedLink(p.Value, p.Pos, fmt.Sprintf("%s.closure[%d]", field, i))
		paths = append(paths, p.Value)
	}
	if len(r.Packages) > 0 {
		var names []string
		for _, p := range r.Packages {
			names = append(names, p.Value)
		}
		ec.pkgFiles = ec.packageFiles(names, field+".closure.packages")
		files, _, err := ClosureData(paths, ec.pkgFiles, ec.opts.Index)
		if err != nil {
			ec.errorf(closureAt(r, err), field+".closure", "%v", err)
			ec.rootFailed = true
		}
		ec.tree = map[string]File{}
		for _, f := range files {
			ec.tree[f.Path] = f
		}
		return paths
	}
	files, err := ec.closure(paths)
	if err != nil {
		ec.errorf(closureAt(r, err), field+".closure", "%v", err)
		ec.rootFailed = true
	}
	ec.tree = map[string]File{}
	for _, f := range files {
		ec.tree[f.Path] = f
	}
	return paths
}

// sameRootfs says whether a and b name the same tree: the same dir,
// tar, closure (files and packages) or host folders (compared before
// helper-116's stop by dir, tar and closure files only: two host roots
// were the same).
func sameRootfs(a, b spec.Rootfs) bool {
	if a.Dir != b.Dir || a.Tar != b.Tar {
		return false
	}
	same := func(x, y []spec.String) bool {
		return slices.EqualFunc(x, y, func(p, q spec.String) bool { return p.Value == q.Value })
	}
	return same(a.Closure, b.Closure) && same(a.Packages, b.Packages) && same(a.Host, b.Host)
}

// within reports whether p is t or below it.
func within(p, t string) bool {
	return p == t || t == "/" || strings.HasPrefix(p, t+"/")
}

// mkdirTree adds d and its missing parents to the closure tree. A path
// that passes through a symlink already in the tree is left alone: the
// link's target directory is in the tree or will be created at apply time.
func (ec *envCompiler) mkdirTree(d string) {
	var parts []string
	for p := d; p != "/"; p = path.Dir(p) {
		parts = append([]string{p}, parts...)
	}
	for _, p := range parts {
		if f, ok := ec.tree[p]; ok {
			if f.Type != "dir" {
				return
			}
			continue
		}
		ec.tree[p] = File{Path: p, Type: "dir", Mode: 0o755}
	}
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// readonlyBelowRoot makes read-only, with a read-only dir root, the
// host's mounts below the folder that the root's recursive bind brought
// along. The root itself is made read-only last, once its mount points
// are made in it, by a mount_setattr(2) without AT_RECURSIVE, which left
// them as the host has them: a review wrote a host tmpfs mounted below a
// read-only root, and with MKNOD added left a 0666 /dev/kmsg node there,
// through which a host user wrote the kernel log. They are made
// read-only with the root now, before any mount of the spec's, and the
// root's own mount writable again for its mount points, unless the
// host's mount of the folder is read-only when planned (it then stays
// so, as before: in a user namespace the kernel would refuse to clear
// it).
func (ec *envCompiler) readonlyBelowRoot(pos spec.Pos) {
	r := ec.e.Rootfs
	if r.Dir == "" || !r.Readonly || r.Overlay {
		return
	}
	ec.add(Child, pos, MountSetattr{Path: "/", Root: ec.root, InRoot: true, Recursive: true, Set: unix.MOUNT_ATTR_RDONLY})
	var st unix.Statfs_t
	if unix.Statfs(ec.root, &st) == nil && st.Flags&unix.ST_RDONLY != 0 {
		return
	}
	ec.add(Child, pos, MountSetattr{Path: "/", Root: ec.root, InRoot: true, Clear: unix.MOUNT_ATTR_RDONLY})
}

// pathValues are the paths of a list.
func pathValues(ps *spec.Paths) []string {
	out := make([]string, len(ps.Paths))
	for i, p := range ps.Paths {
		out[i] = p.Value
	}
	return out
}
