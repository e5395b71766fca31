package planner

// Symlinks an environment may have planted: a bind's source or a dir
// root reached through a symlink that lies in a host folder an
// environment of the spec may write (a writable bind's source, a volume,
// a writable dir root). Root inside, or a process whose uid owns the
// folder, could have put it there on an earlier run, to lead this bind to
// any folder of the host: apply refuses a symlink swapped in after the
// plan (RESOLVE_NO_SYMLINKS), but the plan itself resolves the ones there
// when it is made.

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// hostLink is a symlink met while looking a host path up: where it is
// (its folder has no symlink in it) and what it says.
type hostLink struct{ at, target string }

// hostLinks looks p up one component at a time, as the kernel does, and
// returns every symlink it follows on the way, until the end of p or the
// first component that is not there (or a loop: the lookup's own error
// is the caller's); and, when it reached the end, where p leads (end,
// with no symlink in it; "" otherwise).
func hostLinks(p string) (links []hostLink, end string) {
	w := walkPath(hostTree, p, walkHow{link: func(at string, f File) bool {
		links = append(links, hostLink{at: at, target: f.Link})
		return true
	}})
	if w.end != walkDone {
		return links, ""
	}
	return links, w.cur
}

// hostTree is the host's own tree, as lstat(2) sees it now (not
// memoized: a host path's links are looked up as they are).
func hostTree(p string) (File, bool) { return lstatIn("/", p) }

// WritableFolder is a host folder an environment of the spec may write
// (its real path), and the key that makes it so.
type WritableFolder struct{ Path, Field string }

// WritableHolding returns the folder of p.Writable that holds the host
// path file (its folder's symlinks resolved; file need not exist), and
// the key that makes it writable, or "", "". A saved plan there could be
// replaced by root inside with the plan of another spec, of its own:
// apply compiles a saved plan again, but from the spec the plan names.
func (p *Plan) WritableHolding(file string) (folder, field string) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", ""
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	// Or shown below it by another path (shownBelow): the host's
	// mounts as they are now.
	b, _ := os.ReadFile("/proc/self/mountinfo")
	mounts := cgroup.Mounts(b)
	cgroup.AddBacking(os.DirFS("/"), mounts)
	for _, w := range p.Writable {
		if holder(abs, w.Path) != "" || shownBelow(abs, w.Path, true, mounts) != "" {
			return w.Path, w.Field
		}
	}
	return "", ""
}

// writableFolders are the host folders the spec's environments may
// write: the sources of their writable binds (create: true ones too),
// their volumes, their writable dir roots; each with its symlinks
// resolved. Found once per plan.
func (c *compiler) writableFolders() []WritableFolder {
	c.writableOnce.Do(func() {
		c.writable = c.findWritableFolders()
		// The host's mounts, for what shows them by another path
		// (shownBelow): taken here, outside c.mu, which closureLink's
		// caller holds and hostMounts takes.
		c.writableMounts, _ = c.hostMounts()
	})
	return c.writable
}

func (c *compiler) findWritableFolders() []WritableFolder {
	var out []WritableFolder
	add := func(p, field string) {
		if !filepath.IsAbs(p) {
			return
		}
		if h := c.hostDir(p); h.resolveErr == nil {
			p = h.resolved
		} else if real, _, ok := bindSource(p); ok {
			p = real
		}
		out = append(out, WritableFolder{Path: p, Field: field})
	}
	// Read-only by a flag root inside lifts is writable
	// (liftedwrites.go).
	lifted := c.readonlyLifted()
	for _, e := range c.s.Environments {
		at := "environments." + e.Name
		lifts := lifted[e]
		if r := e.Rootfs; r.Dir != "" && (!r.Readonly || lifts) && !r.Overlay {
			add(r.Dir, at+".rootfs.dir")
		}
		for i, m := range e.Mounts {
			if m.Readonly && !lifts {
				continue
			}
			field := fmt.Sprintf("%s.mounts[%d]", at, i)
			switch m.Type {
			case spec.MountBind:
				add(m.Source, field)
			case spec.MountVolume:
				if c.volumeDir != "" && c.project != "" {
					add(VolumePath(c.volumeDir, c.project, m.Source), field)
				}
			}
		}
	}
	return out
}

// plantedLink refuses a host path p (a bind's source, a dir root) that is
// reached through a symlink in a folder an environment of the spec may
// write: whatever the spec's author meant, root inside (or a process
// that owns the folder) can put such a link there, and the next plan
// would bind where it leads (the host's /etc, read-write), as a review
// did through a writable bind of the project's folder.
func (ec *envCompiler) plantedLink(p string, pos spec.Pos, field string) {
	// Most plans have no writable host folder, and most paths no symlink
	// (what the plan resolves of p anyway, hostDir, says so): no walk of
	// p's components then.
	folders := ec.compiler.writableFolders()
	if len(folders) == 0 {
		return
	}
	h := ec.hostDir(p)
	if h.resolveErr == nil && h.resolved == p {
		return
	}
	// One look, not two: the plan uses hostDir's resolution (the bind's
	// source, the dir root), made before this walk. A link there then,
	// swapped back for a folder since (root inside flipping the two),
	// would pass the walk and still lead the bind where it led.
	links, end := hostLinks(p)
	if h.resolveErr == nil && end != h.resolved {
		ec.errorf(pos, field, "%s changed while the plan was made: it led to %s, and now to %s (a symlink on the way swapped: root inside, or the folder's owner, may be swapping one to lead this path anywhere on the host); plan again, and name a path with no symlink in a folder an environment writes", p, h.resolved, end)
		return
	}
	if len(links) == 0 {
		return
	}
	for _, w := range folders {
		for _, l := range links {
			// Or shown below it by another path (shownBelow; a bind's
			// recursive or not, taken as recursive).
			if h := holder(l.at, w.Path); h != "" && h != l.at || h == "" && shownBelow(l.at, w.Path, true, ec.compiler.writableMounts) != "" {
				ec.errorf(pos, field, "%s passes through the symlink %s (-> %q), in %s, which %s lets an environment write: root inside (or the folder's owner) may have put it there on an earlier run, to lead this path anywhere on the host; name where it leads, or a path with no symlink in that folder", p, l.at, l.target, w.Path, w.Field)
				return
			}
		}
	}
}

// holder returns the folder of p's own (p itself, or one above it, by
// path: p has no symlink in it) that is the host folder dir, or "". By
// path first, else by inode: a host bind mount shows dir at another path
// too (an fstab line binding /data/home on /home), and a spec naming one
// path while its writable bind names the other must not escape the
// checks of that folder (a review's bind of such an alias left the spec
// writable inside).
func holder(p, dir string) string {
	if within(p, dir) {
		return dir
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return ""
	}
	for d := p; ; d = filepath.Dir(d) {
		if ds, err := os.Stat(d); err == nil && os.SameFile(ds, st) {
			return d
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

// ownClosure is the plan's closure of paths (Options.Closure unless the
// caller gives one).
func (c *compiler) ownClosure(paths []string) ([]File, error) {
	files, _, err := closureFollowing(paths, nil, c.opts.Index, false, c.closureLink)
	return files, err
}

// closureLink refuses a symlink at at, which a closure's lookup follows,
// in a folder an environment of the spec may write: the planted-link
// check of the closure's paths was a look of its own, before the
// closure's, and a link swapped in between (root inside flipping a
// folder and a link) led the closure to a host folder, copied whole
// into the tree (a review's: /root). The closure's own lookups are the
// check now; the library lookups too (a RUNPATH through such a link).
func (c *compiler) closureLink(at string) error {
	for _, w := range c.writableFolders() {
		if h := holder(at, w.Path); h != "" && h != at || h == "" && shownBelow(at, w.Path, true, c.writableMounts) != "" {
			return fmt.Errorf("the symlink %s is in %s, which %s lets an environment write: root inside (or the folder's owner) may have put it there, to lead the closure anywhere on the host; name where it leads, or a path with no symlink in that folder", at, w.Path, w.Field)
		}
	}
	return nil
}

// subpathWithin refuses a bind's subpath that leads out of its source
// (m.Within) once the symlinks below the source are followed, as the
// kubelet refuses a subPath that escapes its volume (CVE-2017-1002101:
// a container that may write the volume plants app -> /, and the next
// container's subPath app binds the host's root). Where the path is not
// all there, a symlink below the source that leads nowhere is refused
// too: apply would make the folder wherever it leads. Apply binds the
// path resolved here, and refuses a symlink put in it since.
func (ec *envCompiler) subpathWithin(m spec.Mount, field string) {
	base, _, ok := bindSource(m.Within)
	if !ok {
		return // the source's own error says why
	}
	links, end := hostLinks(m.Source)
	if end != "" {
		if !within(end, base) {
			src := m.Within
			if base != m.Within {
				src += " (" + base + ")"
			}
			ec.errorf(m.Pos, field, "%s leads to %s, outside its source %s: a symlink below the source leads out, which a subpath may not (Kubernetes refuses such a subPath too); bind where it leads as a source of its own if that is meant", m.Source, end, src)
		}
		return
	}
	for _, l := range links {
		if l.at != base && within(l.at, base) {
			ec.errorf(m.Pos, field, "%s passes through the symlink %s (to %q), and does not lead to a folder that is there: a subpath through a symlink must lead to one within its source %s", m.Source, l.at, l.target, m.Within)
			return
		}
	}
}
