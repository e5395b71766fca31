package executor

// The maps of a new user namespace, written from outside once the child
// exists (user_namespaces(7)).

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/planner"
)

// idMap writes the child's uid_map or gid_map: directly, or through the
// helper (newuidmap or newgidmap), as "HELPER PID INSIDE OUTSIDE COUNT ...".
// The child waits for its maps before its execve (see launch.go).
func (r *envRun) idMap(file, helper string, lines []planner.IDMapLine) error {
	if helper == "" {
		return r.childWrite(file, planner.MapText(lines))
	}
	if r.child == 0 {
		return fmt.Errorf("%s before clone: %w", file, unix.EINVAL)
	}
	args := []string{strconv.Itoa(r.child)}
	for _, l := range lines {
		args = append(args, strconv.FormatUint(uint64(l.Inside), 10), strconv.FormatUint(uint64(l.Outside), 10), strconv.FormatUint(uint64(l.Count), 10))
	}
	cmd := exec.Command(helper, args...)
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s: %s: %w", helper, msg, unix.EPERM)
	}
	return nil
}

// childWrite writes data to the child's /proc/PID/FILE in one write(2),
// as uid_map requires.
func (r *envRun) childWrite(file, data string) error {
	if r.child == 0 {
		return fmt.Errorf("%s before clone: %w", file, unix.EINVAL)
	}
	return writeOnce("/proc/"+strconv.Itoa(r.child)+"/"+file, data)
}

// mapsZero says whether a map gives the namespace a uid (or gid) 0.
func mapsZero(m []planner.IDMapLine) bool {
	for _, l := range m {
		if l.Inside == 0 && l.Count > 0 {
			return true
		}
	}
	return false
}
