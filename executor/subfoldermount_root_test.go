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

// TestRootSubfolderMountRenamed (helper-68's review): a read-only bind of
// a host folder's own subfolder over itself (hostdata bound writable at
// /data, hostdata/a/b bound read-only at /data/a/b) held for one run
// only, as a read-only path there did (TestRootConfinedSubfolderRenamed):
// the kernel refuses to rename the mount point /data/a/b, not /data/a
// above it. Root inside moved /data/a to /data/a2 and made an empty
// /data/a/b; the next apply bound that empty folder (the source, by its
// host path), and root inside wrote the host's folder at /data/a2/b.
// Such a spec is refused now. (A tmpfs at /data/a/b, hiding the host's
// folder, is moved the same way: not covered, docs/design.md.)
func TestRootSubfolderMountRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, c := range []struct{ name, mount, then string }{
		{"read-only bind", "{type: bind, source: ./hostdata/a/b, target: /data/a/b, readonly: true}", `echo x > /data/a2/b/f && echo "written"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkHost(t)
			dir := t.TempDir()
			busyboxRoot(t, dir)
			host := filepath.Join(dir, "hostdata")
			for _, d := range []string{filepath.Join(dir, "rootfs", "data"), filepath.Join(host, "a", "b")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(host, "a", "b", "secret"), []byte("hidden\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			plan := func(cmd string) (*planner.Plan, error) {
				s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - `+c.mount+`
    processes:
      - {name: main, command: [/bin/sh, -c, '`+cmd+`']}
`), asWritten)
				if err != nil {
					t.Fatal(err)
				}
				return planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
			}
			// Run 1: root inside moves the folder above the mount point away.
			p, err := plan("mv /data/a /data/a2 && mkdir -p /data/a/b && echo moved")
			if err != nil {
				if !strings.Contains(err.Error(), "a subfolder of the writable bind at /data") {
					t.Fatalf("refused, but not for the subfolder: %v", err)
				}
				return
			}
			if _, out, errOut, err := run(t, p, executor.Options{}); !strings.Contains(out, "moved") {
				t.Fatalf("run 1: %q %q %v", out, errOut, err)
			}
			// Run 2: the same spec, planned again.
			p, err = plan(c.then)
			if err != nil {
				t.Fatalf("run 2 refused: %v", err)
			}
			_, out, errOut, err := run(t, p, executor.Options{})
			if strings.Contains(out, "hidden") || strings.Contains(out, "written") {
				t.Errorf("root inside reached the host's folder at its parent's new name: %q %q %v", out, errOut, err)
			}
		})
	}
}
