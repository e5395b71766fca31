package planner

// A working directory (cwd: of the environment or of a process) that the
// root lacks. Before, the plan showed the process's chdir and apply
// failed there ("chdir: no such file or directory"), after every other
// step. runc makes a missing cwd; nsup makes it where the folder it goes
// in is the environment's own, and refuses the plan where it is a host
// folder:
//
//   - an overlaid root (a tar root, overlay: true): in the overlay's upper
//     layer, a tmpfs of the environment's (MakeCwd); the tree below it
//     (nsup's cache entry, a dir root) is not written;
//   - below a tmpfs of the environment's, a volume, or a folder that
//     create: true makes: in it (MakeCwd.Below), beneath the mount's
//     fd, held for the step (a writer of a shared dir root that renamed
//     the mount's folder away, and another in its place, had the
//     folder made there by a walk by path: helper-132's review);
//   - a dir root without overlay: true, or a host folder bound above the
//     cwd: refused, naming the folder to make it in (nsup does not write
//     the host's folders for a working directory);
//   - a closure or host root: nsup's own tree, which has it already
//     (mountPoints), unless a mount covers it (then as above);
//   - a file on its way, in a tree the plan knows: refused.
//
// A cwd below a kernel filesystem (proc, sysfs...), or through a symlink,
// is left to the process's chdir, as it was.

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

// MakeCwd (a child step, before the root switch) makes the working
// directory Path inside the root at Root when it is missing: each
// missing folder 0755, made by name in its parent's fd, by a walk from
// the root's handle (openat2(2) RESOLVE_IN_ROOT) that crosses no mount
// (RESOLVE_NO_XDEV: the root's own tree, an overlay's upper layer); or,
// for a cwd below the mount at Below (a tmpfs, a volume, a folder
// create: true makes), beneath that mount's held fd (Mount.Held),
// wherever its folder is now, by a walk that follows no symlink
// (RESOLVE_NO_SYMLINKS: root inside may have left one in a volume).
type MakeCwd struct {
	Path  string `json:"path"`
	Root  string `json:"root"`
	Below string `json:"below,omitempty"`
}

func (MakeCwd) Syscall() string { return "mkdirat" }
func (MakeCwd) Kind() string    { return "make_cwd" }
func (MakeCwd) isOp()           {}

func (op MakeCwd) text() string {
	if op.Below != "" {
		return fmt.Sprintf("mkdirat(%s, 0755) if missing, and its missing parents (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS): the working directory, beneath the held fd of the mount at %s", beneathOrInRoot(op.Path, op.Below), q(op.Below))
	}
	return fmt.Sprintf("mkdirat(%s, 0755) if missing, and its missing parents (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_XDEV): the working directory, in the overlay's upper layer", inRoot(op.Path))
}

// cwdStep is a MakeCwd that workdirs planned, added once the mounts are.
type cwdStep struct {
	pos spec.Pos
	op  MakeCwd
}

// workdirs plans MakeCwd, or refuses the plan, for each working
// directory the root lacks (see above), once each. Called before the
// mounts are planned: hold says which of them a MakeCwd goes beneath,
// held for it; the steps are added after them (addWorkdirs).
func (ec *envCompiler) workdirs() (steps []cwdStep, hold map[int]bool) {
	e, r := ec.e, ec.e.Rootfs
	hold = map[int]bool{}
	if ec.joined(spec.NSMount) != nil {
		return nil, hold
	}
	var view treeView
	var land []string
	seen := map[string]bool{}
	check := func(c *spec.String, field string) {
		if c == nil || c.Value == "/" || seen[c.Value] {
			return
		}
		if len(seen) == 0 {
			// The tree as the process sees it; a tar root's whose
			// shape is not known (tarshape.go) is only its binds.
			base := ec.baseView()
			if base == nil {
				base = func(string) (File, bool) { return File{}, false }
			}
			view, _ = mountedView(base, ec.viewMounts(), &ec.stats)
			land = ec.landings()
		}
		seen[c.Value] = true
		if ec.cwdIsFile(view, c, field) {
			return
		}
		for i, m := range e.Mounts {
			if within(m.Target, c.Value) || within(land[i], c.Value) {
				// A mount's target at or below it, as written or where
				// it lands: the mount makes its missing folders
				// (helper-132's review: refused, a spec that worked
				// before MakeCwd; helper-136's: refused still, a
				// tmpfs at /lib64/newp/mnt made /usr/lib64/newp).
				return
			}
		}
		if f, ok := resolveIn(view, c.Value); ok && f.Type == "dir" {
			return
		}
		// Left to apply's chdir: a path through a symlink (one to a
		// magic link of /proc, which the chdir refuses). A file on the
		// way is refused (helper-133's review: the chdir failed with
		// ENOTDIR).
		switch w := walkPath(view, c.Value, walkHow{link: never}); w.end {
		case walkLink:
			// Through a link: a file where it leads is refused
			// (helper-151's trial: /bin/busybox/sub, /bin -> usr/bin,
			// planned, and the chdir failed, not a directory; a tar
			// root's /a/x with a -> data, helper-155's).
			switch w := walkPath(view, c.Value, walkHow{}); w.end {
			case walkNotDir, walkDone:
				if f, ok := view(w.at); ok && f.Type != "dir" {
					ec.errorf(c.Pos, field, "%s passes through %s where the tree's links lead it, which is no folder (a %s) in the environment's tree: the process's chdir would fail (not a directory); give another cwd", c.Value, w.at, f.Type)
					return
				}
			}
			if r.Tar == "" || !ec.tarCwdLink(c, field) {
				return
			}
			// A tar root's: made in the upper layer through the
			// archive's links, as missing.
		case walkNotDir, walkDone:
			if f, ok := view(w.at); ok && f.Type != "dir" {
				ec.errorf(c.Pos, field, "%s passes through %s, which is no folder (a %s) in the environment's tree: the process's chdir would fail (not a directory); give another cwd", c.Value, w.at, f.Type)
				return
			}
		}
		// The last mount whose target holds the cwd, as written or where
		// it lands (helper-136's review: the cwd /usr/lib64/t/x below a
		// tmpfs at /lib64/t was "not in the dir root", and an overlaid
		// root's MakeCwd crossed the tmpfs, EXDEV); rel is the cwd's
		// path below it.
		k, rel := -1, ""
		for i, m := range e.Mounts {
			switch {
			case within(c.Value, m.Target):
				k, rel = i, strings.TrimPrefix(c.Value, m.Target)
			case within(c.Value, land[i]):
				k, rel = i, strings.TrimPrefix(c.Value, land[i])
			}
		}
		switch {
		case k >= 0:
			m := e.Mounts[k]
			switch {
			case rel == "":
			case m.Type == spec.MountTmpfs || ec.ownBind(m):
				if !ec.cwdMakeable(c, field, k, rel) {
					return
				}
				steps, hold[k] = append(steps, cwdStep{c.Pos, MakeCwd{Path: path.Join(m.Target, rel), Root: ec.root, Below: m.Target}}), true
			case m.Type == spec.MountBind:
				h := ec.hostDir(m.Source)
				if h.resolveErr != nil || h.statErr != nil || !h.isDir || ec.opts.Export {
					// The mount's own error; or an OCI runtime's,
					// which makes a missing cwd itself, there too
					// (helper-136's review: refused, an export that
					// ran before MakeCwd).
					return
				}
				ec.errorf(c.Pos, field, "%s is not in %s, the host folder bound at %s (%s): the process's chdir would fail; make %s there, or give another cwd", c.Value, h.resolved, m.Target, ec.mountField(k), filepath.Join(h.resolved, rel))
			}
		case r.Dir == "" && r.Tar == "":
			// A closure or host root: nsup's tree holds it
			// (mountPoints).
		case overlaid(r):
			steps = append(steps, cwdStep{c.Pos, MakeCwd{Path: c.Value, Root: ec.root}})
		case ec.opts.Export:
			// An OCI runtime makes a missing cwd itself.
		default:
			ec.errorf(c.Pos, field, "%s is not in the dir root %s: the process's chdir would fail, and nsup does not write the root's folder for it; make %s, say overlay: true (nsup makes it in the upper layer), or give another cwd", c.Value, ec.root, filepath.Join(ec.root, c.Value))
		}
	}
	if inheritsCwd(e.Process) {
		check(e.Cwd, ec.field+".cwd")
	}
	var walk func(ps []*spec.Process, field string)
	walk = func(ps []*spec.Process, field string) {
		for i, p := range ps {
			f := fmt.Sprintf("%s[%d]", field, i)
			check(p.Cwd, f+".cwd")
			walk(p.Children, f+".children")
		}
	}
	walk(e.Process, ec.field+".processes")
	return steps, hold
}

// inheritsCwd says whether a process of the tree ps has no cwd of its
// own, and runs in the environment's (nsup exec, run and a healthcheck
// use a process's too). One that every process overrides is in no
// chdir: refused when the root lacked it, a spec that applied before
// MakeCwd (helper-136's review).
func inheritsCwd(ps []*spec.Process) bool {
	for _, p := range ps {
		if p.Cwd == nil || inheritsCwd(p.Children) {
			return true
		}
	}
	return false
}

// addWorkdirs adds the steps workdirs planned, once the mounts are made
// (a cwd below one is its), before the root-level masks and read-only
// paths, and the root switch.
func (ec *envCompiler) addWorkdirs(steps []cwdStep) {
	for _, s := range steps {
		ec.add(Child, s.pos, s.op)
	}
}

// ownBind says whether m binds a folder of the environment's own: a
// volume, or one that create: true makes because it is missing now (one
// there already is the host's: helper-132's review found the cwd made
// in it, the host folder the plan says it never writes for a cwd).
func (ec *envCompiler) ownBind(m spec.Mount) bool {
	switch ec.made[m.Source] {
	case "volume":
		return true
	case "create":
		return errors.Is(ec.hostDir(m.Source).statErr, fs.ErrNotExist)
	}
	return false
}

// cwdMakeable refuses a cwd below the kth mount, a tmpfs or a folder of
// the environment's own, that MakeCwd could not make there: the mount is
// read-only (EROFS), or it is the folder create: true makes, 0755 the
// caller's, which root inside on another uid may not write (EACCES).
// Before helper-132's review the plan showed the step, and apply failed
// at it.
func (ec *envCompiler) cwdMakeable(c *spec.String, field string, k int, rel string) bool {
	m := ec.e.Mounts[k]
	if m.Readonly {
		fix := "make " + filepath.Join(m.Source, rel) + " beforehand, drop readonly: true"
		if m.Type == spec.MountTmpfs {
			fix = "drop readonly: true" // empty, and read-only, it never has one
		}
		kind := string(m.Type)
		if ec.made[m.Source] == "volume" {
			kind = "volume"
		}
		ec.errorf(c.Pos, field, "%s is not in the read-only %s at %s (%s): the step that makes the working directory would fail (read-only file system); %s, or give another cwd", c.Value, kind, m.Target, ec.mountField(k), fix)
		return false
	}
	uid, gid, ok := ec.reachRoot()
	if !ok || ec.made[m.Source] != "create" || ec.opts.Export {
		return true
	}
	if u, g := uint32(ec.caller.UID), uint32(ec.caller.GID); !ec.modeGrants(u, g, 0o755, uid, gid, 0o3) {
		ec.errorf(c.Pos, field, "%s is below the bind at %s (%s), whose host folder %s apply makes (create: true) 0755, uid %d's, and apply's child stage makes the working directory in it inside the environment's user namespace, as root inside, host uid %d (gid %d) through the id maps, which may not write there: apply would fail with EACCES; make %s beforehand, or %s", c.Value, m.Target, ec.mountField(k), m.Source, u, uid, gid, filepath.Join(m.Source, rel), ec.rootWayOut())
		return false
	}
	return true
}

// landings are the mounts' targets where each lands (viewMounts), as
// written where the tree is not known or the mount has an error of its
// own.
func (ec *envCompiler) landings() []string {
	out := make([]string, len(ec.e.Mounts))
	views, n := ec.viewMounts(), 0
	for i, m := range ec.e.Mounts {
		out[i] = m.Target
		if n < len(views) && views[n].field == ec.mountField(i) {
			out[i] = views[n].target
			n++
		}
	}
	return out
}

// landing is p with the links of its longest leading part that t has
// followed, the rest as written (mkdir makes it, at apply).
func landing(t treeView, p string) string {
	switch w := walkPath(t, p, walkHow{}); {
	case w.end == walkDone:
		return w.cur
	case w.led:
		return path.Join(w.lead, w.tail)
	}
	return p
}

// generatedFiles are the files nsup may put in an environment's /etc
// (identity.go, network.go).
var generatedFiles = append(slices.Clone(identityFiles), "/etc/resolv.conf", "/etc/hosts")

// cwdIsFile refuses a working directory, in nsup's tree of a closure or
// host root, at or below a file nsup puts there: mountPoints made it a
// folder, and the file was then not generated (helper-151's trial: cwd:
// /etc/passwd planned, with a note to make an empty /etc/passwd).
func (ec *envCompiler) cwdIsFile(view treeView, c *spec.String, field string) bool {
	if ec.tree == nil {
		return false
	}
	at := landing(view, c.Value)
	for _, m := range ec.e.Mounts {
		if within(at, m.Target) || within(at, landing(view, m.Target)) {
			return false // the mount's tree, not nsup's
		}
	}
	for _, g := range generatedFiles {
		if within(at, g) {
			where := "is"
			if at != g {
				where = "lies below"
			}
			ec.errorf(c.Pos, field, "%s %s %s, a file nsup generates in the environment's tree (its folder there would leave the file out): the process's chdir would fail (not a directory); give another cwd", c.Value, where, g)
			return true
		}
	}
	return false
}
