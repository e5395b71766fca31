package executor

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/planner"
)

// targetLinkError is the error of a mount whose target, resolved inside
// the root, is a symlink at its end (partLink): apply mounts on none, a
// link there could lead the mount anywhere (CVE-2021-30465). The plan
// writes where a link of a dir, closure or host root leads (planner's
// targetLinks), so one there is new since; a tar root's tree the plan
// cannot see, and the way out is the spec's: write the target as the
// path the link leads to (helper-137's: "/lib64 is a symlink inside the
// root: too many levels of symbolic links" said neither).
func targetLinkError(env *planner.Env, target string, e unix.Errno) error {
	for _, st := range env.Steps {
		if r, ok := st.Op.(planner.Rootfs); ok && r.Type == "tar" {
			return fmt.Errorf("%s is a symlink inside the root, the tar archive's tree, which the plan cannot see: a mount is placed on no link at its target's end (one could lead it anywhere); write the target as the path the link leads to: %w", target, e)
		}
	}
	return fmt.Errorf("%s is a symlink inside the root, which the plan did not see there (it writes where a link of the tree it sees leads): changed since it was planned? refused, a mount is placed on no link at its target's end: %w", target, e)
}
