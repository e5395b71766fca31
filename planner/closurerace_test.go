package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestClosureSwappedAfterCheck: a closure's lookups refuse a symlink in a
// folder an environment may write, whenever they meet it. The
// planted-link check looked at a closure path (a folder of the writable
// project, ./tools), and the closure looked it up again: swapped in
// between for a link to a host folder (root inside, in a running
// environment, flipping the two), the closure copied that folder whole
// into the environment's tree (/root, its keys). The check and the
// lookups are now one: the closure's own.
func TestClosureSwappedAfterCheck(t *testing.T) {
	d := t.TempDir()
	proj := filepath.Join(d, "proj")
	tools := filepath.Join(proj, "tools")
	secret := filepath.Join(d, "hostroot")
	os.MkdirAll(tools, 0o755)
	os.MkdirAll(secret, 0o700)
	os.WriteFile(filepath.Join(tools, "run"), []byte("data\\n"), 0o644)
	os.WriteFile(filepath.Join(secret, "id_rsa"), []byte("host key\\n"), 0o600)
	env := &spec.Environment{Name: "dev", Rootfs: spec.Rootfs{Closure: []spec.String{{Value: tools}}, Overlay: true}, Mounts: []spec.Mount{
		{Type: spec.MountBind, Source: proj, Target: "/src"},
	}}
	s := &spec.Spec{File: "nsup.yaml", Environments: []*spec.Environment{env}}
	c := &compiler{s: s, opts: Options{CacheDir: filepath.Join(d, "cache"), Index: NewIndex(filepath.Join(d, "cache"))}}
	c.opts.Closure = c.ownClosure // as Compile sets it
	ec := &envCompiler{compiler: c, e: env, field: "environments.dev"}
	// The check's look: a folder (no link: plantedLink has nothing to
	// walk).
	c.writableFolders()
	c.hostDir(tools)
	// Swapped for a link to a host folder before the closure's lookup.
	os.Rename(tools, filepath.Join(proj, "tools.real"))
	os.Symlink(secret, tools)
	ec.rootfs()
	for _, f := range ec.tree {
		if strings.HasPrefix(f.Path, secret) && f.Type == "file" {
			t.Errorf("the closure copied %s, through the link swapped in", f.Path)
		}
	}
	if len(ec.errs) == 0 {
		t.Errorf("no error for the closure path swapped for a link")
	}
}
