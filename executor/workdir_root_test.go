package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
)

// TestRootMakeCwdFollowsNoLink: a working directory below a folder of
// the environment's own (here one create: true makes) is made by a walk
// that follows no symlink. Root inside of another environment of that
// folder (a volume's, shared) swaps its subfolder for a link to a folder
// of the dir root, the host's, between the plan and the child's step:
// the step fails (ELOOP) before any process starts, and nothing is made
// where the link leads, in the dir root still writable while the mounts
// are made. Followed, the walk made rootfs/bin/planted.
func TestRootMakeCwdFollowsNoLink(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	os.Mkdir(filepath.Join(dir, "rootfs", "build"), 0o755)
	shared := filepath.Join(dir, "shared")
	p := compile(t, dir, `version: 1
environments:
  w:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./shared, target: /build, create: true}
    processes:
      - {name: main, command: [/bin/true], cwd: /build/out/planted}
`)
	found := false
	for _, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.MakeCwd); ok && op.Below == "/build" && op.Path == "/build/out/planted" {
			found = true
		}
	}
	if !found {
		t.Fatal("the plan makes no working directory below /build")
	}
	// The folder create: true makes, made already, with the link.
	os.MkdirAll(shared, 0o755)
	if err := os.Symlink("/bin", filepath.Join(shared, "out")); err != nil {
		t.Fatal(err)
	}
	_, _, errOut, err := run(t, p, executor.Options{})
	if err == nil || !strings.Contains(err.Error(), "make the working directory /build/out/planted inside the root: too many levels of symbolic links") {
		t.Errorf("apply: error %v, want the working directory's step to fail with ELOOP\n%s", err, errOut)
	}
	if _, err := os.Lstat(filepath.Join(dir, "rootfs", "bin", "planted")); err == nil {
		t.Error("rootfs/bin/planted made through the link")
	}
}
