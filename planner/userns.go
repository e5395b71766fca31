package planner

// Whether the environment's user namespace keeps root inside from being
// the host's root: what the checks that spare a user namespace ask.

import (
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/spec"
)

// confiningUserNS reports whether the environment's user namespace keeps
// root inside from being the host's root by uid and gid: it maps no uid
// inside to the host's uid 0, and no gid to the host's gid 0 (/proc/sys
// and kernfs files check group bits too: a review, root mapped to 100000
// and gid 0 to 0, opened a sysfs device's remove for writing through a
// writable sysfs). Root's default map (the caller to 0) is "0 0 1":
// root inside is then uid 0 for every check the kernel makes by uid (a
// sysctl file's, a cgroup file's), and a user namespace stops none of
// what the checks that ask for one are about (found by a review, which
// wrote the host's core_pattern through a bind of /proc so). A user
// namespace joined by name is judged as its environment's; by a path
// other than /proc/PID/ns/user, whose map is not known, it confines
// nothing.
func (ec *envCompiler) confiningUserNS() bool {
	if !ec.inUserNS() {
		return false
	}
	if j := ec.joined(spec.NSUser); j != nil && !ec.inPod(*j) {
		if j.isPath() {
			return ec.pathConfines(j.ref)
		}
		o := ec.doneEnv(j.ref)
		return o != nil && o.confiningUserNS()
	}
	return mapsNoHostZero(ec.uidMap) && mapsNoHostZero(ec.gidMap)
}

// mapsNoHostZero: the map has ranges, none holding the host's id 0. (An
// empty map confines nothing: a process keeps its ids, the host's, in a
// user namespace whose map does not have them.)
func mapsNoHostZero(m []spec.IDRange) bool {
	return len(m) > 0 && !slices.ContainsFunc(m, func(r spec.IDRange) bool {
		return r.Outside == 0 // [Outside, Outside+Count) holds the host's 0
	})
}

// pathConfines says whether the user namespace /proc/PID/ns/user names
// maps no uid onto the host's 0 and no gid onto the host's 0, as its
// uid_map and gid_map say now; false for another path, or a map that
// cannot be read, or if PID's user namespace is no longer the one the
// plan looked at (nsFile) once its maps are read: the maps read are then
// another namespace's.
func (ec *envCompiler) pathConfines(ref string) bool {
	pid, ok := strings.CutPrefix(ref, "/proc/")
	if pid, ok = strings.CutSuffix(pid, "/ns/user"); !ok {
		return false
	}
	if _, err := strconv.Atoi(pid); err != nil {
		return false
	}
	f := ec.nsFile(ref)
	if !f.known() {
		return false
	}
	maps := fileMapsNoHostZero("/proc/"+pid+"/uid_map") && fileMapsNoHostZero("/proc/"+pid+"/gid_map")
	again := openNSFile(ref)
	return maps && again.known() && again.id == f.id
}

// fileMapsNoHostZero is mapsNoHostZero of a uid_map or gid_map file
// (lines "INSIDE OUTSIDE COUNT"); false if it cannot be read.
func fileMapsNoHostZero(file string) bool {
	b, err := os.ReadFile(file)
	fields := strings.Fields(string(b))
	if err != nil || len(fields) == 0 || len(fields)%3 != 0 {
		return false
	}
	for i := 1; i < len(fields); i += 3 {
		if fields[i] == "0" {
			return false
		}
	}
	return true
}

// ownUserKey is userKey of the environment itself: the user namespace it
// is in (userKey).
func (ec *envCompiler) ownUserKey() string {
	switch {
	case ec.podUser != "":
		return "pod:" + ec.podUser
	case ec.isNew(spec.NSUser):
		return ec.e.Name
	}
	if j := ec.joined(spec.NSUser); j != nil {
		if j.isPath() {
			return j.ref
		}
		return ec.userKey(j.ref)
	}
	return "host"
}

// nsUserKey is the key (userKey) of the user namespace that owns the
// environment's namespace of type t: its own user namespace's if it
// makes that namespace, the owner's along a join by name, the host's if
// it neither makes nor joins one, or joins one by path that the host's
// user namespace owns (else its own: joinedOwners allowed the join only
// so).
func (ec *envCompiler) nsUserKey(t string) string {
	j := ec.joined(t)
	switch {
	case ec.isNew(t) || j != nil && j.isPath() && ec.pathNSOwner(j.ref) != ownerHost:
		return ec.ownUserKey()
	case j == nil || j.isPath():
		return "host"
	}
	o := ec.doneEnv(j.ref)
	if o == nil {
		return "?" + j.ref
	}
	return o.nsUserKey(t)
}

// joinedOwners refuses a join of a pid or mount namespace owned by a
// user namespace other than the host's unless the environment is in that
// user namespace too. Root of an ancestor user namespace (the host's)
// has every capability in it: it passes the ptrace check on the
// processes of the pid namespace, and through their /proc/PID/root
// reaches their mounts, which the checks of userns.go allowed for their
// user namespace, where root is not the host's (a review's b, in the
// host's user namespace, joined a's pid namespace, mounted a proc of its
// own and wrote the host's core_pattern through a's writable /proc/sys;
// another joined a's mount namespace by /proc/PID/ns/mnt). A join of mnt
// by name whose environment's user namespace confines is refused by
// joinedRootfs already; one whose environment joined the mount namespace
// by path with a user namespace whose map is not known (not confining),
// here. The owner of a namespace joined by path is found at plan time
// (ioctl NS_GET_USERNS); a file that cannot be opened then is left to
// apply, which opens it.
func (ec *envCompiler) joinedOwners() {
	own := ec.ownUserKey()
	whose := "the host's"
	switch {
	case ec.isNew(spec.NSUser):
		whose = "its own"
	case own != "host":
		whose = "the one it joins"
	}
	for _, j := range ec.joins {
		if j.t != spec.NSPID && j.t != spec.NSMount {
			continue
		}
		field := keyField(ec.field+".join", j.t)
		what := map[string]string{spec.NSPID: "processes", spec.NSMount: "mounts"}[j.t]
		if !j.isPath() {
			if o := ec.doneEnv(j.ref); o != nil && (j.t == spec.NSPID || !o.confiningUserNS()) {
				if k := o.nsUserKey(j.t); k != "host" && k != own {
					ec.errorf(j.pos, field, "%s's %s namespace belongs to its user namespace, not the host's: entering it from another user namespace (%s) would make root there root over its %s (ptrace, /proc/PID/root), which were allowed for that user namespace; join its user namespace too (join: {user: %s})", j.ref, j.t, whose, what, j.ref)
				}
			}
			continue
		}
		switch ec.pathNSOwner(j.ref) {
		case ownerHost:
			if j.t == spec.NSPID && ec.isNew(spec.NSUser) {
				// A child stage in a user namespace of its own cannot
				// join it late (setns and proc's pidns need
				// CAP_SYS_ADMIN over its owner), only be born in it,
				// where root of the host's user namespace (whoever
				// holds it, whatever capabilities they kept) has every
				// capability over the stage's: ptrace, and the host's
				// root through /proc/PID/root until the root switch.
				// Refused at apply before (pidNSSafe).
				fix := "make the environment no user namespace of its own (drop user from namespaces, and idmap): its child stage then joins it after its root switch"
				if !ec.caller.Privileged {
					fix = "make a pid namespace of the environment's own (pid in namespaces)"
				}
				ec.errorf(j.pos, field, "%s belongs to the host's user namespace, and the environment makes a user namespace of its own: its child stage would be born in that pid namespace, where root (whoever holds it, whatever capabilities it kept) has every capability over it and the host's root through its /proc/PID/root until its root switch; %s", j.ref, fix)
			}
			continue
		case ownerUnknown:
			// Not to be opened, as apply will not either.
			continue
		case ownerOther:
			if u := ec.joined(spec.NSUser); u != nil && u.isPath() && ec.sameNSOwner(j.ref, u.ref) {
				continue
			}
		}
		ec.errorf(j.pos, field, "%s belongs to a user namespace other than the host's: entering it from another user namespace (%s) would make root there root over its %s (ptrace, /proc/PID/root), which were allowed for that user namespace; join the user namespace that owns it too, by path (join: {user: /proc/PID/ns/user})", j.ref, whose, what)
	}
}

// The owner of a namespace file, as pathNSOwner finds it.
const (
	ownerUnknown = iota // the file cannot be opened, or is no namespace's
	ownerHost           // nsup's own user namespace, the host's
	ownerOther
)

// pathNSOwner says which user namespace owns the namespace file path
// (ioctl(2) NS_GET_USERNS), as the plan's one look at it found (nsFile).
func (ec *envCompiler) pathNSOwner(path string) int {
	f := ec.nsFile(path)
	switch {
	case !f.known():
		return ownerUnknown // apply says why it cannot join it
	case f.id.Owner == 0:
		return ownerOther // an owner outside nsup's user namespace
	case f.id.Owner == selfNS("user"):
		return ownerHost
	}
	return ownerOther
}

// sameNSOwner: the user namespace that owns the namespace file path is
// user's (a /proc/PID/ns/user, or a file bound from one).
func (ec *envCompiler) sameNSOwner(path, user string) bool {
	f, u := ec.nsFile(path), ec.nsFile(user)
	return f.known() && u.known() && f.id.Owner != 0 && f.id.Owner == u.id.NS
}
