package planner

// One walk of a path through a root tree the plan knows (a treeView: a
// closure's or host root's list, a dir root's folder, either seen
// through the mounts before a point, a host folder), one component at a
// time, as the kernel resolves a path with the tree as its root. Every
// check that follows a path in a tree (resolveIn, landing, lastLink,
// linkedBelowBind, targetWritable, targetKindFits, the cwd check) walks
// it here, and reads what it needs from the walk's end.

import (
	"path"
	"strings"
)

// walkEnd says where walkPath ended.
type walkEnd int

const (
	walkDone    walkEnd = iota // at the end of the path
	walkMissing                // at a component the tree lacks (a dangling link's target)
	walkNotDir                 // at a component that is no folder, with more below it to walk
	walkLoop                   // after more links than the kernel follows (ELOOP)
	walkLink                   // at a link how.link said not to follow
	walkStopped                // where how.stop said to stop
)

// walkHow says how walkPath walks. Its zero value walks as the kernel
// resolves a path (resolveIn's): every link followed, absolute ones from
// the tree's root, ".." never above it.
type walkHow struct {
	// byName: a component the tree lacks, or one below a non-folder, is
	// taken by its name and the walk goes on (what apply would make:
	// lastLink's, linkedBelowBind's). It never ends walkMissing or
	// walkNotDir then.
	byName bool
	// link, when set, is asked at each link met (its path, its entry)
	// whether to follow it; false ends the walk there (walkLink).
	link func(at string, f File) bool
	// stop, when set, ends the walk (walkStopped) where it says, asked
	// of the path walked so far before each component and at the end.
	stop func(cur string) bool
}

// never is a walkHow.link that follows no link.
func never(string, File) bool { return false }

// walked is where walkPath ended, and how.
type walked struct {
	end walkEnd
	// cur is the path walked so far, no link in it: where the path leads
	// at walkDone; the non-folder at walkNotDir; the folder the
	// component it ended at is in, else.
	cur string
	// at is the path of the component the walk ended at (the one
	// missing, the link not followed, the non-folder); cur at walkDone.
	at string
	// rest is what was left to walk where it ended: the parts of the
	// links on the way not walked yet, then the path's own.
	rest string
	// lead is where the longest leading part of the path that resolves
	// whole (its links followed) leads, and tail the path after it, as
	// written: the path lands at path.Join(lead, tail) (landing). led
	// is false when no component of the path resolved.
	lead, tail string
	led        bool
}

// walkPath walks p in t as how says (see walkHow).
func walkPath(t treeView, p string, how walkHow) walked {
	w := walked{cur: "/", lead: "/", tail: p}
	links, isDir, named := 0, true, 0
	// rest is what is left to walk, components split by slashes; orig
	// is p's part of it, always its tail (rest is orig, or the parts of
	// links met on the way, a slash, and orig).
	rest, orig := p, p
	slashed := false // the last component taken was followed by a slash
	for {
		if rest == "" && slashed && !isDir && !how.byName {
			w.end, w.at = walkNotDir, w.cur // "f/": ENOTDIR
			return w
		}
		if len(rest) == len(orig) {
			w.lead, w.tail, w.led = w.cur, orig, named > 0
		}
		if how.stop != nil && how.stop(w.cur) {
			w.end, w.at, w.rest = walkStopped, w.cur, rest
			return w
		}
		if rest == "" {
			w.at = w.cur
			return w
		}
		own := len(rest) == len(orig)
		name := rest
		slashed = false
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name, rest, slashed = rest[:i], rest[i+1:], true
		} else {
			rest = ""
		}
		if own {
			orig = rest
		}
		if name != "" && own {
			named++ // "." too: landing's count of p's components
		}
		// Below a non-folder even "." and a trailing slash fail, as
		// the kernel's lookup does (ENOTDIR: "f/.", "f/", a link to
		// "f/").
		if !isDir && !how.byName {
			w.end, w.at, w.rest = walkNotDir, w.cur, name+"/"+rest
			return w
		}
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			w.cur, isDir = path.Dir(w.cur), true // never above "/": the tree is the root
			continue
		}
		next := "/" + name
		if w.cur != "/" {
			next = w.cur + next
		}
		f, ok := t(next)
		switch {
		case !ok && how.byName:
			w.cur, isDir = next, true
			continue
		case !ok:
			w.end, w.at, w.rest = walkMissing, next, rest
			return w
		case f.Type != "symlink":
			w.cur, isDir = next, f.Type == "dir"
			continue
		case how.link != nil && !how.link(next, f):
			w.end, w.at, w.rest = walkLink, next, rest
			return w
		}
		if links++; links > maxSymlinks {
			w.end, w.at, w.rest = walkLoop, next, rest
			return w
		}
		if path.IsAbs(f.Link) {
			w.cur = "/"
		}
		if rest != "" || slashed {
			rest = f.Link + "/" + rest // "l/" at the end: what l leads to must be a folder
		} else {
			rest = f.Link
		}
	}
}
