package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// TestRootSpecProtectRenamed (helper-54's review): the spec file a
// writable bind of the project shows is bound read-only over itself, but
// that bind's target was resolved again by path from the root after the
// project's bind, not beneath the bind's fd. Another environment that
// may write the tree (the same dir root with readonly: false) renamed
// the folder the project had just been bound on and put a folder of its
// own with a file of the spec's name in its place: the read-only bind
// went there, and at the project's new name root inside wrote the spec
// the next nsup run applies as the host's root. The test plays that other
// environment while the child stage is paused before the read-only bind.
func TestRootSpecProtectRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	proj := filepath.Join(dir, "proj")
	if err := os.MkdirAll(filepath.Join(root, "proj"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	text := `version: 1
environments:
  victim:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ., target: /proj}
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo pwned >> /moved/test.yaml; echo "write: $$?"']
`
	specFile := filepath.Join(proj, "test.yaml")
	if err := os.WriteFile(specFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse(specFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatalf("plan:\n%v", err)
	}
	step := -1
	for i, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(planner.Mount); ok && op.Target == "/proj/test.yaml" {
			step = i
			break
		}
	}
	if step < 0 {
		t.Fatalf("the spec is not bound read-only over itself in the plan:\n%s", planText(p))
	}
	out := applyPausedAt(t, p, "victim", step, func() {
		// The other environment: the project's folder renamed away, a folder
		// of its own with a file of the spec's name put in its place.
		if err := os.Rename(filepath.Join(root, "proj"), filepath.Join(root, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "proj"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "proj", "test.yaml"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	b, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != text || strings.Contains(out, "write: 0") {
		t.Errorf("the spec bound read-only over itself was written through the project's folder moved away: %q", out)
	}
}
