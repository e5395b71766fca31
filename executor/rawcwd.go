package executor

// rawDoMakeCwd makes the working directory p[0] inside the root s[0]
// (planner.MakeCwd): rawResolve makes each missing folder, by a walk
// that crosses no mount (the root's own tree: an overlay's upper layer).
//
//go:norace
//go:nosplit
func rawDoMakeCwd(p *rawProg, op *rawOp) {
	fd, e := rawResolve(p, rawOpenRoot(p, op), &op.p[0])
	if e != 0 {
		rawFailed(p, op.step, partTarget, e)
	}
	rawClose(fd)
}
