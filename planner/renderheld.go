package planner

import "strings"

// beneathOrInRoot is how the plan shows p, a path inside the root: below
// the held mount at beneath, through its fd ("<mount at /dev>/ptmx"),
// or from the root ("<root>/dev/ptmx") when beneath is "".
func beneathOrInRoot(p, beneath string) string {
	if beneath == "" {
		return inRoot(p)
	}
	return "<mount at " + fileName(beneath) + ">" + fileName(strings.TrimPrefix(p, beneath))
}

// heldFS shows a held kernel filesystem (Mount.Held, not a bind): made
// detached, its data one fsconfig per option, moved onto target.
func heldFS(op Mount, target string) string {
	data := ""
	if op.Data != "" {
		data = ", fsconfig(" + q(op.Data) + ")"
	}
	if op.PidNS != "" {
		data += ", fsconfig(pidns=fd of " + q(op.PidNS) + ")"
	}
	return "fsmount(fsopen(" + qn(op.FSType) + ")" + data + ", " + op.Flags.String() + "), move_mount(its fd, " + target + "), its fd held" + createOf(op)
}

// createOf is what a Mount makes of its target if missing, by a walk
// that crosses no mount when NoXDev says so, and that follows no link
// beneath a held mount (a host folder's own links, which root inside may
// have left there, cross no mount), or when NoLinks says so.
func createOf(op Mount) string {
	c := create(op.Create)
	switch {
	case c != "" && op.NoXDev:
		c += ", crossing no mount"
	case c != "" && (op.Beneath != "" || op.NoLinks):
		c += ", following no link"
	}
	return c
}
