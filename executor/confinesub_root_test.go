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
	out := renamedAcrossRuns(t, []string{"sub/secret", "ro/conf/"}, "",
		"    security: {masked_paths: [/data/sub/secret], readonly_paths: [/data/ro/conf]}\n",
		"mv /data/sub /data/sub2 && mkdir /data/sub && mv /data/ro /data/ro2 && mkdir -p /data/ro/conf && echo moved",
		`cat /data/sub2/secret; echo x > /data/ro2/conf/f && echo "conf written"`)
	if strings.Contains(out, "hidden") {
		t.Errorf("root inside read the masked file at its folder's new name: %q", out)
	}
	if strings.Contains(out, "conf written") {
		t.Errorf("root inside wrote the read-only folder at its folder's new name: %q", out)
	}
}

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
	out := renamedAcrossRuns(t, []string{"a/b/secret"},
		"      - {type: bind, source: ./hostdata/a/b, target: /data/a/b, readonly: true}\n", "",
		"mv /data/a /data/a2 && mkdir -p /data/a/b && echo moved",
		`echo x > /data/a2/b/f && echo "written"`)
	if strings.Contains(out, "hidden") || strings.Contains(out, "written") {
		t.Errorf("root inside reached the host's folder at its parent's new name: %q", out)
	}
}

// renamedAcrossRuns makes hostdata with the files (a name ending in "/"
// a folder; a file holds "hidden") and plans an environment that binds
// it writable at /data, with the mounts after it and the lines rest.
// Refused for the subfolder, it returns ""; else it runs move (which
// must print "moved") in a first run and then in a second, planned
// again, and returns what that second run printed.
func renamedAcrossRuns(t *testing.T, files []string, mounts, rest, move, then string) string {
	t.Helper()
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	if err := os.MkdirAll(filepath.Join(dir, "rootfs", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		p := filepath.Join(host, f)
		if strings.HasSuffix(f, "/") {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("hidden\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	plan := func(cmd string) (*planner.Plan, error) {
		s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
`+mounts+rest+`    processes:
      - {name: main, command: [/bin/sh, -c, '`+cmd+`']}
`), asWritten)
		if err != nil {
			t.Fatal(err)
		}
		return planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	}
	// Run 1: root inside moves the folders above the mount points away.
	p, err := plan(move)
	if err != nil {
		if !strings.Contains(err.Error(), "a subfolder of the writable bind at /data") {
			t.Fatalf("refused, but not for the subfolder: %v", err)
		}
		return ""
	}
	if _, out, errOut, err := run(t, p, executor.Options{}); !strings.Contains(out, "moved") {
		t.Fatalf("run 1: %q %q %v", out, errOut, err)
	}
	// Run 2: the same spec, planned again.
	if p, err = plan(then); err != nil {
		t.Fatalf("run 2 refused: %v", err)
	}
	_, out, _, _ := run(t, p, executor.Options{})
	return out
}
