package executor

import (
	"fmt"
	"path"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// makeCwdOp prepares a MakeCwd: the working directory inside the root,
// by a walk that crosses no mount; or, Below, beneath the held fd of the
// mount at Below (wherever its folder is now: a writer of a shared dir
// root that renamed it away, and another folder in its place, had the
// walk by path make it there), by a walk that follows no link.
func (b *rawBuilder) makeCwdOp(op planner.MakeCwd) (rawOp, error) {
	o := rawOp{kind: rawMakeCwd}
	var err error
	if op.Below == "" {
		if o.s[0], err = b.root(op.Root); err == nil {
			o.p[0], err = inRootPath(op.Path, "dir", true)
			o.p[0].noXDev = true
		}
		return o, err
	}
	if !below(op.Path, op.Below) || path.Clean(op.Path) == path.Clean(op.Below) {
		return o, fmt.Errorf("%s: not below %s: %w", planner.FormatOp(op), op.Below, unix.EINVAL)
	}
	o.flag, o.under = rawMountBeneath, b.under(op.Below)
	o.p[0], err = inRootPath(beneathRel(op.Path, op.Below), "dir", true)
	o.p[0].noLinks = true
	return o, err
}

// rawDoMakeCwd makes the working directory p[0] inside the root s[0], or
// beneath the held mount under (planner.MakeCwd): rawResolve makes each
// missing folder, by a walk that crosses no mount (the root's own tree:
// an overlay's upper layer), or that follows no link.
//
//go:norace
//go:nosplit
func rawDoMakeCwd(p *rawProg, op *rawOp) { rawClose(rawResolveStep(p, op)) }
