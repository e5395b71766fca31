package planner

// The files nsup reads to plan an environment (the spec, its lock, the
// .env beside it, an --env-file, a seccomp profile) kept out of the environment's reach: a writable bind
// of the folder that holds them (a project's, bound for go generate)
// would let root inside, or a process whose uid owns the file, rewrite
// the spec that the next nsup run applies, as the host's root perhaps
// (a review added a bind of the host's / so). Each such file gets a
// read-only bind over itself, right after the writable bind that shows
// it: the kernel refuses to write, unlink or rename a mount point, and
// root inside has no CAP_SYS_ADMIN to unmount it (one that keeps it in
// its user namespace, where that bind is not locked, is refused).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// specLinks refuses a spec file reached through a symlink in a folder an
// environment may write (nsup.yaml -> ../elsewhere/nsup.yaml in the
// project): the file itself may be out of reach, but root inside could
// point the link at a spec of its own.
func (ec *envCompiler) specLinks() {
	if ec.s.File == "" || ec.s.Dir == "" {
		return
	}
	file := filepath.Join(ec.s.Dir, filepath.Base(ec.s.File))
	for _, p := range []string{file, file + ".lock", filepath.Join(ec.s.Dir, ".env"), ec.s.EnvFile} {
		if abs, err := filepath.Abs(p); err == nil && p != "" {
			ec.plantedLink(abs, spec.Pos{Line: 1, Col: 1}, ec.field)
		}
	}
}

// specFiles are the files of the spec that nsup reads to plan it, as real
// paths: the spec itself, its lock and the .env beside it if there are, the
// --env-file read, and the seccomp profiles it names (rewritten, the
// next run's filter would be the environment's choice).
func (c *compiler) specFiles() []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return
		}
		if fi, err := os.Stat(real); err != nil || !fi.Mode().IsRegular() {
			return
		}
		for _, o := range out {
			if o == real {
				return
			}
		}
		out = append(out, real)
	}
	if c.s.File != "" && c.s.Dir != "" {
		add(filepath.Join(c.s.Dir, filepath.Base(c.s.File)))
		// The lock plan and apply check the rootfs against: rewritten,
		// a tool of the project changed inside would pass as locked.
		add(filepath.Join(c.s.Dir, filepath.Base(c.s.File)) + ".lock")
		add(filepath.Join(c.s.Dir, ".env"))
	}
	add(c.s.EnvFile)
	for _, e := range c.s.Environments {
		if sec := e.Security; sec != nil && sec.Seccomp != nil && filepath.IsAbs(sec.Seccomp.Value) {
			add(sec.Seccomp.Value)
		}
	}
	return out
}

// protectSpecFiles puts each of the spec's files that the writable bind
// (or dir root) of the host folder src shows, at target inside, read-only
// over itself. A file in a subfolder of src is refused: root inside could
// rename that folder (a mount below it does not stop that) and put
// another spec in its place. beneath is the bind's target when its fd is
// held (Mount.Held): the read-only binds are resolved beneath that fd,
// not from the root by path again, which another environment that may
// write the tree would send to a folder of its own (helper-54's review).
func (ec *envCompiler) protectSpecFiles(field string, pos spec.Pos, src, target, beneath string, recursive bool) {
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return
	}
	mounts, _ := ec.compiler.hostMounts()
	// A bind of the file itself (or a hard link of it): nothing is put
	// over it, so it is refused (helper-55's review: a writable bind of
	// ./.env was planned, and root inside wrote what the next run reads).
	if st, err := os.Stat(real); err == nil && !st.IsDir() {
		for _, f := range ec.compiler.specFiles() {
			if fs, err := os.Stat(f); err == nil && os.SameFile(st, fs) {
				ec.errorf(pos, field, "%s is %s, which nsup reads to plan this spec, and this mount lets the environment write it: root inside would choose what the next nsup run applies; %s", src, f, ec.readonlyWay(roMount))
			}
		}
	}
	for _, f := range ec.compiler.specFiles() {
		if n, q := otherNames(f, real, recursive, mounts); n > 0 && q != f {
			ec.errorf(pos, field, "%s, which nsup reads to plan this spec, is read through %s (a host overlay's folder, or an image file), which has %d names (hard links), and this mount lets the environment write the filesystem they are on: root inside would write it through another name, and choose what the next nsup run applies; keep one name of it, or %s", f, q, n, ec.readonlyWay(roMount))
			continue
		} else if n > 0 {
			ec.errorf(pos, field, "%s, which nsup reads to plan this spec, has %d names (hard links), and this mount lets the environment write the filesystem they are on: root inside would write it through another name than the one bound read-only over itself, and choose what the next nsup run applies; keep one name of it (copy it, then remove the others), or %s", f, n, ec.readonlyWay(roMount))
			continue
		}
		rel, ok := specFileIn(f, real)
		if !ok {
			if at, via := shownVia(f, real, recursive, mounts); via != "" {
				ec.errorf(pos, field, "%s, which nsup reads to plan this spec, is on a filesystem mounted from the image file %s (a loop device's), which this mount lets the environment write at %s: root inside would write the spec's bytes into the image and choose what the next nsup run applies; %s, bind a folder that leaves the image file out, or keep the spec off that filesystem", f, via, at, ec.readonlyWay(roMount))
			} else if at != "" {
				ec.errorf(pos, field, "%s, which nsup reads to plan this spec, shows at %s too (the host mounts its folder there, or below), which this mount lets the environment write: root inside would choose what the next nsup run applies; %s, or bind a folder that does not show it", f, at, ec.readonlyWay(roMount))
			}
			continue
		}
		if strings.Contains(rel, "/") {
			h := holder(f, real)
			ec.errorf(pos, field, "%s, which nsup reads to plan this spec, is in %s, a subfolder of %s, which this mount lets the environment write: root inside could rename that subfolder and leave another file in its place for the next nsup run; bind %s (or the folders you need below it) instead, or %s", f, path.Dir(f), h, path.Dir(f), ec.readonlyWay(roMount))
			continue
		}
		at := path.Join(target, rel)
		if ec.unlocksOwnMounts() {
			// Its own mount namespace's bind, unlocked: root inside
			// unmounted it and rewrote the spec (helper-114's review,
			// rootless).
			ec.errorf(pos, field, "%s, which nsup reads to plan this spec, shows at %s, which this mount lets the environment write; a read-only bind over it would keep it, but the environment keeps SYS_ADMIN in its user namespace, and root inside would unmount that bind (umount %s) and choose what the next nsup run applies; bind a folder without the spec, or drop SYS_ADMIN (read-only, the mount would not keep it: root inside lifts that flag too)", f, at, at)
			continue
		}
		ec.mount(field, spec.Mount{Pos: pos, Type: spec.MountBind, Source: f, Target: at, Readonly: true, Recursive: false}, false, beneath)
		ec.notes = append(ec.notes, fmt.Sprintf("%s: %s, which nsup reads to plan this spec, is bound read-only over itself at %s: the environment may write the folder, not the spec the next nsup run applies", field, f, at))
	}
	ec.dotEnvMadeInside(field, pos, real)
	ec.cacheInside(field, pos, real, recursive, mounts)
}

// specFileIn is the path of the spec's file f below the folder real
// (by path, or by inode where real is another path of the folder: a host
// bind mount of it), and whether real holds it.
func specFileIn(f, real string) (string, bool) {
	h := holder(f, real)
	if h == "" || h == f {
		return "", false
	}
	return strings.TrimPrefix(f, strings.TrimSuffix(h, "/")+"/"), true
}

// showsSpecFiles says whether protectSpecFiles puts a spec file of the
// host folder src read-only over itself: the bind of src is then held.
func (ec *envCompiler) showsSpecFiles(src string) bool {
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return false
	}
	for _, f := range ec.compiler.specFiles() {
		if rel, ok := specFileIn(f, real); ok && !strings.Contains(rel, "/") {
			return true
		}
	}
	return false
}

// cacheInside refuses a writable mount of the host folder real that
// holds nsup's cache: its closure and tar trees are every environment's
// of the same content, and the next plan trusts its digest index, so
// root inside would choose what other environments run.
func (ec *envCompiler) cacheInside(field string, pos spec.Pos, real string, recursive bool, mounts []cgroup.Mount) {
	cache := ec.compiler.opts.CacheDir
	// In a user namespace that maps root elsewhere root inside is not
	// the cache's owner, unless the map holds the caller's uid (the
	// cache's, owndir.Check): rootless, root inside is the caller, and
	// the cache its own (a review found ~/.cache's writable bind
	// planned so). And / itself, writable, is the host's whole tree,
	// the spec's word.
	if cache == "" || real == "/" || ec.confiningUserNS() && !ec.mapsOutside(ec.compiler.caller.UID) {
		return
	}
	if abs, err := filepath.Abs(cache); err == nil {
		cache = abs
	}
	// A symlink on the cache's path in the folder (/var/cache -> /data/cache,
	// /var bound): root inside would point it at a cache of its own, which
	// the next run takes (uid 0, 0700: owndir.Check's). helper-62's review.
	links, _ := hostLinks(cache)
	for _, l := range links {
		if h := holder(l.at, real); h != "" && h != l.at || h == "" && shownBelow(l.at, real, recursive, mounts) != "" {
			ec.errorf(pos, field, "nsup's cache %s is reached through the symlink %s (-> %q), in %s, which this mount lets the environment write: root inside would point it at a cache of its own, whose trees other environments run; %s, or give nsup a cache by a path with no symlink in that folder (NSUP_CACHE_DIR)", cache, l.at, l.target, real, ec.readonlyWay(roMount))
			return
		}
	}
	cache = resolvedAbove(cache)
	at, via := shownVia(cache, real, recursive, mounts)
	if via != "" {
		via = " (on a filesystem mounted from the image file " + via + ", at " + at + " here)"
	}
	if holder(cache, real) != "" || at != "" {
		ec.errorf(pos, field, "%s holds nsup's cache %s%s, which this mount lets the environment write: its trees are shared by every environment of the same content, and root inside would choose what they run; %s, bind a folder below that leaves the cache out, or give nsup a cache elsewhere (NSUP_CACHE_DIR)", real, cache, via, ec.readonlyWay(roMount))
	}
}

// dotEnvMadeInside refuses a spec in the folder real, which a mount lets
// the environment write, with no .env beside it, when the spec has a
// variable: root inside could make the .env, and the next plan would
// take its values (a review set a bind's "${CACHE_DIR:-./cache}" to /etc
// so). One that nsup's environment (or an --env-file) gave this time
// too: the caller's environment wins over a .env, but the next run's
// may not have it (sudo resets it), nor name the --env-file (a review
// of the fix made the .env after a run with CACHE_DIR given; the next,
// without, took the .env's). A .env that is there is bound read-only
// over itself. ~ is HOME from nsup's environment only.
func (ec *envCompiler) dotEnvMadeInside(field string, pos spec.Pos, real string) {
	s := ec.compiler.s
	if s.File == "" || s.Dir == "" {
		return
	}
	var names []string
	for _, v := range s.Vars {
		if v.Name != "" && v.Text != "~" && !slices.Contains(names, v.Name) {
			names = append(names, v.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	dir, err := filepath.EvalSymlinks(s.Dir)
	if err != nil || holder(dir, real) != dir {
		return
	}
	env := filepath.Join(s.Dir, ".env")
	if _, err := os.Lstat(env); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	ec.errorf(pos, field, "no .env beside the spec in %s, which this mount lets the environment write, and the spec has %s: root inside could make a .env there, and the next nsup run that is not given them (sudo resets nsup's environment) would take its values (a bind's source, say); make an empty %s (it is then bound read-only over itself), or %s", real, strings.Join(names, ", "), env, ec.readonlyWay(roMount))
}

// mapsOutside says whether a uid inside the environment's user namespace
// is the host's uid: its map holds it outside (an unknown map, a user
// namespace joined by path, may).
func (ec *envCompiler) mapsOutside(uid uint32) bool { return heldOutside(ec.uidMap, uid) }

// heldOutside says whether the map rs holds the host's id (an unknown,
// empty map may).
func heldOutside(rs []spec.IDRange, id uint32) bool {
	return len(rs) == 0 || hostMapped(rs, id)
}
