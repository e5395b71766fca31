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
			return pathConfines(j.ref)
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
// cannot be read.
func pathConfines(ref string) bool {
	pid, ok := strings.CutPrefix(ref, "/proc/")
	if pid, ok = strings.CutSuffix(pid, "/ns/user"); !ok {
		return false
	}
	if _, err := strconv.Atoi(pid); err != nil {
		return false
	}
	return fileMapsNoHostZero("/proc/"+pid+"/uid_map") && fileMapsNoHostZero("/proc/"+pid+"/gid_map")
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
