package planner

// Root inside that keeps CAP_SYS_ADMIN in a user namespace lifts the
// read-only flag of a bind nsup made in its mount namespace, and unmounts
// the read-only binds protectSpecFiles puts over the spec's files: the
// kernel locks neither (readonlyLiftNote). The checks of what a writable
// mount lets root inside write (the spec's files, a .env it could make,
// nsup's cache and state directory, a saved plan) hold for such a
// read-only mount too, and for the mounts of a namespace it joins by
// name, which their owner planned for a root inside without SYS_ADMIN.
// Before helper-124's review a read-only bind of the project folder, with
// SYS_ADMIN in a user namespace, was only noted (the refusal of the
// writable bind even said "make this mount read-only"): root inside ran
// mount -o remount,bind,rw and appended to nsup.yaml, which the next nsup
// run applied; and b, joining a's user and mount namespaces with
// SYS_ADMIN, unmounted the read-only bind a's plan put over nsup.yaml and
// wrote it.

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/nsup/nsup/spec"
)

// liftedWhy ends what a check of a writable mount refuses of one that
// says readonly, whose flag root inside lifts.
const liftedWhy = " (this mount says readonly, but root inside keeps CAP_SYS_ADMIN in its user namespace and lifts that flag: mount -o remount,bind,rw; drop SYS_ADMIN)"

// asLifted runs check, checks of a writable mount, for a mount root
// inside may write only as lifted, and ends what they refuse with why.
func (ec *envCompiler) asLifted(why string, check func()) {
	n := len(ec.errs)
	check()
	for _, e := range ec.errs[n:] {
		e.Msg += why
	}
}

// wayOut is a way out a check of a writable mount gives that asks for a
// read-only mount (or root): as said, and as said to root inside that
// lifts read-only flags (unlocksOwnMounts), for which the mount read-only
// alone is refused the same (helper-128's review: a read-only bind of a
// folder holding nsup's cache, rootless with SYS_ADMIN, was told "make
// this mount read-only"), and SYS_ADMIN dropped alone leaves the mount
// writable, refused still (helper-129's). Each check takes its own from
// here (readonlyWay), rather than have its message rewritten after (a
// strings.Replacer did, which a check reworded would have slipped past).
type wayOut struct{ said, lifted string }

var (
	roMount     = wayOut{"make this mount read-only", "drop SYS_ADMIN and mount this read-only (read-only alone, root inside lifts the flag)"}
	roBind      = wayOut{"make the bind read-only", "drop SYS_ADMIN and mount the bind read-only (read-only alone, root inside lifts the flag)"}
	roRecursive = wayOut{"make the bind recursive (the default), or read-only", "make the bind recursive (the default), or drop SYS_ADMIN and mount it read-only (read-only alone, root inside lifts the flag)"}
	roField     = wayOut{"make it readonly: true", "drop SYS_ADMIN and say readonly: true (alone, root inside lifts that flag)"}
	roRoot      = wayOut{"make the root read-only or overlaid", "make the root overlaid, or drop SYS_ADMIN and say readonly: true (alone, root inside lifts that flag)"}
)

// readonlyWay is w as root inside here is told it: lifted where it
// keeps CAP_SYS_ADMIN in a user namespace (unlocksOwnMounts).
func (ec *envCompiler) readonlyWay(w wayOut) string {
	if ec.unlocksOwnMounts() {
		return w.lifted
	}
	return w.said
}

// liftedMount checks, for the ith mount of the environment (or of owner,
// whose mount namespace it joins), a bind of a host folder read-only by
// a flag root inside lifts, or (joined) writable with the spec's files
// protected by read-only binds root inside unmounts, as protectSpecFiles
// and volumeExposes check a writable one. pos and field are where the
// refusal is said.
func (ec *envCompiler) liftedMount(owner *envCompiler, i int, pos spec.Pos, field, why string) {
	m := owner.e.Mounts[i]
	if m.Type != spec.MountBind || !m.Readonly && owner == ec {
		return
	}
	if owner.made[m.Source] == "volume" {
		if owner == ec {
			// Its folder's, at the source that names it (volumes).
			pos, field = m.SourceAt(), field+".source"
		}
		if m.Readonly {
			ec.asLifted(why, func() {
				ec.volumeExposes(field, pos, m.Source)
				ec.volumeBarsOthers(pos, field, filepath.Base(m.Source), m.Source)
			})
		}
		return
	}
	ec.asLifted(why, func() { ec.protectSpecFiles(field, pos, m.Source, m.Target, "", m.Recursive) })
	if owner != ec && ec.confiningUserNS() && !slices.Contains(m.Options, "dev") {
		// Its nodev flag too, read-only or not (nodevLifted).
		if w := ec.nodevLiftMount(m); w != "" {
			ec.errorf(pos, field, "%s", w+why)
		}
	}
	if owner == ec || !m.Readonly {
		return // (checked as the environment's own: devWritable, mountsMovable)
	}
	// The checks of owner's writable binds, for a read-only one of its
	// root inside here lifts.
	if !ec.confiningUserNS() {
		if w := ec.devBindWhy(m); w != "" {
			ec.errorf(pos, field, "%s", w+why)
		}
	}
	m.Readonly, m.Pos = false, pos
	ec.asLifted(why, func() { ec.mountsMovable(m, field) })
}

// liftedDirRoot is liftedMount of a dir root without overlay; of an
// overlaid one, only its nodev flag (nodevLifted's: before helper-129's
// review an overlaid root of owner's on the host's devtmpfs was left out).
func (ec *envCompiler) liftedDirRoot(owner *envCompiler, pos spec.Pos, field, why string) {
	r := owner.e.Rootfs
	if r.Dir == "" {
		return
	}
	if owner != ec && ec.confiningUserNS() && !r.Dev {
		if w := ec.nodevLiftRefused(r.Dir, !r.Overlay); w != "" {
			ec.errorf(pos, field, "%s", w+why)
		}
	}
	if r.Overlay || !r.Readonly && owner == ec {
		return
	}
	ec.asLifted(why, func() { ec.protectSpecFiles(field, pos, r.Dir, "/", "", true) })
	if owner == ec || !r.Readonly {
		return
	}
	if !ec.confiningUserNS() {
		if w := ec.devRootWhy(r); w != "" {
			ec.errorf(pos, field, "%s", w+why)
		}
	}
	ec.asLifted(why, func() {
		ec.mountsMovable(spec.Mount{Pos: pos, Type: spec.MountBind, Source: r.Dir, Recursive: true}, field)
	})
}

// ownerMountsLifted checks o's dir root and mounts (liftedDirRoot,
// liftedMount), whose mount namespace root inside here reaches, at pos
// and field, each refusal ended with why of o's key.
func (ec *envCompiler) ownerMountsLifted(o *envCompiler, pos spec.Pos, field string, why func(string) string) {
	ec.liftedDirRoot(o, pos, field, why(o.field+".rootfs.dir"))
	for i := range o.e.Mounts {
		ec.liftedMount(o, i, pos, field, why(o.mountField(i)))
	}
}

// othersMountsLifted checks, for root inside that keeps CAP_SYS_ADMIN in
// its user namespace, the mounts of every other environment of the plan
// whose mount namespace that user namespace owns (o without SYS_ADMIN
// there: its own plan held them for a root inside without it). It runs
// once all are compiled (sharedUsersLifted): such an environment may be
// planned after this one. Two ways in:
//   - the mount namespace this one joins by name: before helper-124's
//     review b, joining a's user and mount namespaces with SYS_ADMIN,
//     unmounted the read-only bind a's plan put over nsup.yaml and
//     wrote it;
//   - any other one (a user namespace joined by name, or a pod's
//     holder's): a process of o hands root inside here a handle on its
//     mount namespace (/proc/self/ns/mnt, over a unix socket in a folder
//     both bind), and setns(2) asks no more (helper-128's review, as
//     root with root mapped to 100000: b, joining only a's user
//     namespace, did so and wrote nsup.yaml the same way).
//
// SYS_ADMIN in a user namespace other than the one that owns o's mount
// namespace lifts nothing there.
func (ec *envCompiler) othersMountsLifted() {
	if !ec.unlocksOwnMounts() {
		return
	}
	key, joined := ec.ownUserKey(), ""
	if j := ec.joined(spec.NSMount); j != nil && !j.isPath() {
		if o := ec.s.NamespaceOwner(ec.e.Name, spec.NSMount); o != nil {
			joined = o.Name
		}
	}
	for _, sl := range ec.slots {
		o := sl.ec
		if o == nil || o == ec || !o.isNew(spec.NSMount) || o.unlocksOwnMounts() || o.ownUserKey() != key {
			continue
		}
		name := o.e.Name
		if name == joined {
			pos, field := ec.sysAdminAt(ec.e.Pos, ec.field+".join.mnt")
			ec.ownerMountsLifted(o, pos, field, func(what string) string {
				return fmt.Sprintf(" (%s, in %s's mount namespace, which this environment joins: root inside here keeps CAP_SYS_ADMIN in its user namespace, and lifts the read-only flags of %s's mounts or unmounts them; drop SYS_ADMIN)", what, name, name)
			})
			continue
		}
		pos, field := ec.sysAdminAt(ec.e.Pos, ec.field+".namespaces")
		ec.ownerMountsLifted(o, pos, field, func(what string) string {
			return fmt.Sprintf(" (%s, in %s's mount namespace, which belongs to the user namespace root inside here keeps CAP_SYS_ADMIN in: a process of %s hands it %s's /proc/self/ns/mnt over a unix socket, and root inside here enters it (setns), lifts the read-only flags of its mounts or unmounts them; give this environment a user namespace of its own, or drop SYS_ADMIN)", what, name, name, name)
		})
	}
}

// liftsReadonly says, of the spec's environment e before it is compiled,
// whether root inside may keep CAP_SYS_ADMIN in a user namespace
// (unlocksOwnMounts, taken wide: a user namespace of its own, joined, or
// made for a caller without privilege), and so write the folders of its
// read-only binds. The namespaces are asked first: Capabilities sorts a
// copy of the set, a cost per environment of a plan of a thousand.
func (c *compiler) liftsReadonly(e *spec.Environment) bool {
	userns := e.HasNamespace(spec.NSUser) || e.Joined(spec.NSUser) != nil || !c.caller.Privileged ||
		c.pods[e.Name]&nsFlag(spec.NSUser) != 0
	return userns && slices.Contains(Capabilities(e), "CAP_SYS_ADMIN")
}

// readonlyLifted is the set of the spec's environments, before they are
// compiled, whose mounts' read-only flags root inside lifts: its own
// (liftsReadonly), or that of another environment keeping CAP_SYS_ADMIN
// in the user namespace its namespaces are in (othersMountsLifted), taken wide as liftsReadonly is; nil when no
// environment lifts any. Before helper-129's review only e's own was
// asked: b, joining a's user and mount namespaces with SYS_ADMIN, lifted
// a's read-only bind of a folder, and nsup plan -o saved a plan there.
// Each environment is asked once: asked of every pair, a plan of 1,000
// environments with user namespaces took 450 ms instead of 70.
func (c *compiler) readonlyLifted() map[*spec.Environment]bool {
	var out map[*spec.Environment]bool
	keys := map[string]bool{}
	for _, e := range c.s.Environments {
		if c.liftsReadonly(e) {
			if out == nil {
				out = map[*spec.Environment]bool{}
			}
			out[e] = true
			if k := c.specUserKey(e); k != "" {
				keys[k] = true
			}
		}
	}
	if len(keys) > 0 {
		for _, e := range c.s.Environments {
			if !out[e] && keys[c.specUserKey(e)] {
				out[e] = true
			}
		}
	}
	return out
}

// specUserKey names, from the spec alone, the user namespace e's
// namespaces are in: its rootless pod's, or the one joins by name lead to
// (e's own where it joins none); "" where a join by path ends the chain.
func (c *compiler) specUserKey(e *spec.Environment) string {
	pod := func(name string) bool { return c.pods[name]&nsFlag(spec.NSUser) != 0 }
	if pod(e.Name) {
		return "pod:" + e.Name
	}
	for _, t := range podTypes {
		if j := e.Joined(t); j != nil && !j.IsPath() && pod(j.Ref) {
			return "pod:" + j.Ref
		}
	}
	if o := c.s.NamespaceOwner(e.Name, spec.NSUser); o != nil {
		return o.Name
	}
	return ""
}

// sharedUsersLifted runs othersMountsLifted for every environment once
// all are compiled: the environment whose mounts root inside of another
// lifts may be planned after that one (a joins b's user namespace, b
// keeping SYS_ADMIN), which a check at b's turn did not see yet
// (helper-128's review left it open).
func (c *compiler) sharedUsersLifted() {
	for _, sl := range c.slots {
		sl.ec.othersMountsLifted()
	}
}
