package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestPlantedLinkSwappedWhilePlanned: the planted-link check and the path
// the plan binds are one look at the host, not two. The bind's source was
// resolved once (hostDir, EvalSymlinks: a link there then, root inside's
// proj/cache -> /etc), and the check walked the path again later: with
// the link swapped back for a folder in between (root inside, in a running
// environment, flipping the two with rename(2)), the walk found no link
// and the plan bound the resolution, /etc, read-write; apply's
// RESOLVE_NO_SYMLINKS found no link in /etc. The check refuses a path
// that no longer resolves as the plan resolved it.
func TestPlantedLinkSwappedWhilePlanned(t *testing.T) {
	d := t.TempDir()
	proj := filepath.Join(d, "proj")
	os.MkdirAll(proj, 0o755)
	os.MkdirAll(filepath.Join(d, "hostetc"), 0o755)
	cache := filepath.Join(proj, "cache")
	if err := os.Symlink(filepath.Join(d, "hostetc"), cache); err != nil {
		t.Fatal(err)
	}
	s := &spec.Spec{File: "nsup.yaml", Environments: []*spec.Environment{{Name: "dev", Mounts: []spec.Mount{
		{Type: spec.MountBind, Source: proj, Target: "/src"},
		{Type: spec.MountBind, Source: cache, Target: "/cache"},
	}}}}
	c := &compiler{s: s}
	ec := &envCompiler{compiler: c, field: "environments.dev"}
	// The first look: the plan's (writableFolders, the source's checks).
	c.writableFolders()
	if h := c.hostDir(cache); h.resolved != filepath.Join(d, "hostetc") {
		t.Fatalf("resolved %q", h.resolved)
	}
	// Swapped back for a folder before the check walks it.
	os.Remove(cache)
	os.Mkdir(cache, 0o755)
	ec.plantedLink(cache, spec.Pos{Line: 1, Col: 1}, "environments.dev.mounts[1].source")
	bound := ec.resolved(cache, "environments.dev.mounts[1].source")
	if len(ec.errs) == 0 {
		t.Errorf("no error, and the plan binds %s for %s", bound, cache)
	} else if !strings.Contains(ec.errs[0].Error(), "changed while") {
		t.Errorf("error %v, want the path changed while planned", ec.errs[0])
	}
}
