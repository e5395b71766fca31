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

// TestRootConfinedSubfolderRenamed (helper-66's review): a masked or
// read-only path in a subfolder of a writable bind (masked_paths:
// [/data/sub/secret], readonly_paths: [/data/ro/conf], hostdata bound
// writable at /data) holds for one run only. The kernel refuses to
// rename the mount point itself, not the folder above it: root inside
// renamed sub to sub2 (and ro to ro2) and made empty folders in their
// place; the next plan found the paths missing and skipped them (a
// note), and root inside read the masked file and wrote the read-only
// folder at their new names. Such a spec is refused now, as a spec file
// in a subfolder of a writable bind is.
func TestRootConfinedSubfolderRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(dir, "rootfs", "data"), filepath.Join(host, "sub"), filepath.Join(host, "ro", "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(host, "sub", "secret"), []byte("hidden\n"), 0o600); err != nil {
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
    security: {masked_paths: [/data/sub/secret], readonly_paths: [/data/ro/conf]}
    processes:
      - {name: main, command: [/bin/sh, -c, '`+cmd+`']}
`), asWritten)
		if err != nil {
			t.Fatal(err)
		}
		return planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	}
	// Run 1: root inside moves the folders above the mount points away.
	p, err := plan("mv /data/sub /data/sub2 && mkdir /data/sub && mv /data/ro /data/ro2 && mkdir -p /data/ro/conf && echo moved")
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
	p, err = plan(`cat /data/sub2/secret; echo x > /data/ro2/conf/f && echo "conf written"`)
	if err != nil {
		t.Fatalf("run 2 refused: %v", err)
	}
	_, out, errOut, err := run(t, p, executor.Options{})
	if strings.Contains(out, "hidden") {
		t.Errorf("root inside read the masked file at its folder's new name: %q %q %v", out, errOut, err)
	}
	if strings.Contains(out, "conf written") {
		t.Errorf("root inside wrote the read-only folder at its folder's new name: %q %q %v", out, errOut, err)
	}
}
