package planner

// Whether the environment's user namespace keeps root inside from being
// the host's root: what the checks that spare a user namespace ask.

import (
	"os"
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
// namespace joined by a path other than /proc/PID/ns/user, whose map is
// not known, confines nothing either.
func (ec *envCompiler) confiningUserNS() bool {
	if !ec.inUserNS() {
		return false
	}
	maps := ec.uidMap
	if j := ec.joined(spec.NSUser); j != nil && !ec.inPod(*j) {
		if j.isPath() {
			maps = pathUIDMap(j.ref)
		} else if o := ec.doneEnv(j.ref); o != nil {
			maps = o.uidMap
		} else {
			return false
		}
	}
	if len(maps) == 0 {
		return false
	}
	for _, r := range maps {
		if r.Outside == 0 { // [Outside, Outside+Count) holds the host's 0
			return false
		}
	}
	return true
}

// pathUIDMap is the uid_map of the user namespace /proc/PID/ns/user
// names, nil for another path or one that cannot be read.
func pathUIDMap(ref string) []spec.IDRange {
	rest, ok := strings.CutPrefix(ref, "/proc/")
	pid, tail, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || tail != "ns/user" {
		return nil
	}
	if _, err := strconv.Atoi(pid); err != nil {
		return nil
	}
	b, err := os.ReadFile("/proc/" + pid + "/uid_map")
	if err != nil {
		return nil
	}
	var out []spec.IDRange
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		in, e1 := strconv.ParseUint(f[0], 10, 32)
		outside, e2 := strconv.ParseUint(f[1], 10, 32)
		n, e3 := strconv.ParseUint(f[2], 10, 32)
		if e1 != nil || e2 != nil || e3 != nil {
			return nil
		}
		out = append(out, spec.IDRange{Inside: uint32(in), Outside: uint32(outside), Count: uint32(n)})
	}
	return out
}

// ownUserKey is userKey of the environment itself: the user namespace it
// is in, as userKey names it.
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
