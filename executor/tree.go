package executor

import (
	"context"

	"github.com/nsup/nsup/planner"
)

// BuildTree fills the empty directory dir with files, exactly as a
// closure's cache entry is built: every path resolved inside dir, every
// byte checked against the plan's digest, setuid and setgid bits dropped.
// nsup export uses it to put a closure's tree into an OCI bundle.
func BuildTree(ctx context.Context, dir string, files []planner.File) error {
	return fillTree(ctx, dir, files, nil)
}

// PrepareRootfs makes op.Path the environment's root tree, as apply's
// rootfs step does: a closure or tar tree is built into the cache unless
// it is there. The entry is not held afterwards: a concurrent nsup cache
// prune may remove it.
func PrepareRootfs(ctx context.Context, op planner.Rootfs) error {
	f, err := rootfs(ctx, op, nil)
	if f != nil {
		f.Close()
	}
	return err
}
