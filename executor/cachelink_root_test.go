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

// TestRootCacheLinkRepointed (helper-62's review of c998abf): nsup's
// cache reached through a symlink (/var/cache -> /data/cache) in a folder
// a writable bind shows (/var) was matched by its real path only: the
// spec was planned, root inside pointed the link at a folder of its own,
// and the next run's cache check (CheckCacheDir: uid 0, 0700) took that
// folder as nsup's cache. Refused at plan time now; were it planned, the
// cache must still lead where it did.
func TestRootCacheLinkRepointed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, d := range []string{"data/cache/nsup", "var"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "data/cache"), filepath.Join(dir, "var/cache")); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "var/cache/nsup")
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./var, target: /v}
    processes:
      - name: main
        command: [/bin/sh, -c, 'mkdir -p /v/evil/nsup && chmod 700 /v/evil/nsup && cd /v && rm cache && ln -s evil cache; echo "repointed: $?"']
`), asWritten)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: cache})
	if err != nil {
		if !strings.Contains(err.Error(), "through the symlink") {
			t.Fatalf("refused, but not for the link: %v", err)
		}
		return
	}
	_, out, errOut, err := run(t, p, executor.Options{})
	real, _ := filepath.EvalSymlinks(cache)
	if real != filepath.Join(dir, "data/cache/nsup") {
		t.Errorf("root inside pointed the cache at %s (CheckCacheDir: %v): %q %q %v", real, planner.CheckCacheDir(cache), out, errOut, err)
	}
}
