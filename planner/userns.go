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
// root inside from being the host's root by uid: it maps no uid inside
// to the host's uid 0. Root's default map (the caller to 0) is "0 0 1":
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
	return len(ec.uidMap) > 0 && !slices.ContainsFunc(ec.uidMap, func(r spec.IDRange) bool {
		return r.Outside == 0 // [Outside, Outside+Count) holds the host's 0
	})
}

// pathConfines says whether the user namespace /proc/PID/ns/user names
// maps no uid onto the host's 0, as its uid_map says now; false for
// another path, or a map that cannot be read.
func pathConfines(ref string) bool {
	pid, ok := strings.CutPrefix(ref, "/proc/")
	if pid, ok = strings.CutSuffix(pid, "/ns/user"); !ok {
		return false
	}
	if _, err := strconv.Atoi(pid); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + pid + "/uid_map")
	lines := strings.Fields(string(b))
	if err != nil || len(lines) == 0 || len(lines)%3 != 0 {
		return false
	}
	for i := 1; i < len(lines); i += 3 {
		if lines[i] == "0" {
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
