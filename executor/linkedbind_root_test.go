package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// TestRootLinkedBindTargetRetargeted (helper-62's review of 26ae49b): a
// writable bind whose target passes through a symlink of a dir root
// (/a/b, /a -> x) and a read-only bind below it written by the path the
// link leads to (/x/b/conf): nestedMounts goes by the paths as written,
// and linkedBelowBind compared the later target with the earlier one as
// written, so the read-only bind was placed by its path from the root.
// Another environment that may write the tree pointed /a elsewhere
// before apply: the writable bind went there, the read-only one to the
// tree's /x/b/conf, and root inside wrote the host's folder it was to
// make read-only. Such a spec is refused now; were it planned, the host's
// folder must stay unwritten.
func TestRootLinkedBindTargetRetargeted(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "x", "b"), filepath.Join(host, "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("x", filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /a/b}
      - {type: bind, source: ./hostdata/conf, target: /x/b/conf, readonly: true}
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo x > /a/b/conf/written; echo "write: $?"']
`), asWritten)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		if !strings.Contains(err.Error(), "the bind at /a/b") {
			t.Fatalf("refused, but not for the link: %v", err)
		}
		return
	}
	// The other environment, before apply: /a points elsewhere.
	if err := os.Remove(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "y", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("y", filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	_, out, errOut, err := run(t, p, executor.Options{})
	if _, serr := os.Stat(filepath.Join(host, "conf", "written")); serr == nil || !strings.Contains(out, "write: 1") {
		t.Errorf("the host's conf, bound read-only below the bind, was written (the link retargeted): %q %q %v", out, errOut, err)
	}
}
