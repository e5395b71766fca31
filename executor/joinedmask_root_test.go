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

// TestRootJoinedMountMaskDropped (helper-69's review): an environment
// that joins another's mount namespace mounts nothing in it, and its own
// masked_paths and readonly_paths were dropped without a word: b, joining
// a's mount namespace with masked_paths: [/data/secret], read the host's
// file there, which a binds unmasked. Such a list is refused now.
func TestRootJoinedMountMaskDropped(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, d := range []string{"rootfs/data", "hostdata"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "hostdata/secret"), []byte("hidden\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
    processes:
      - {name: main, command: [/bin/sleep, "2"]}
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [pid]
    join: {mnt: a}
    security: {masked_paths: [/data/secret]}
    processes:
      - {name: main, command: [/bin/cat, /data/secret]}
`), asWritten)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		if !strings.Contains(err.Error(), "environments.b.security.masked_paths: the mount namespace is joined (join.mnt: a) and used as it is: nsup mounts nothing in it, so /data/secret would stay as that namespace shows them") {
			t.Fatalf("refused, but not for the joined namespace: %v", err)
		}
		return
	}
	_, out, errOut, err := run(t, p, executor.Options{})
	if strings.Contains(out, "hidden") {
		t.Errorf("b read the file its spec masks: %q %q %v", out, errOut, err)
	}
}
