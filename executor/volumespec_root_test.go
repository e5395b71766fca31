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

// TestRootSpecInVolumeRefused (helper-65's review): a named volume is a
// writable bind of its folder, but the checks that keep the spec's files
// and nsup's cache out of a writable mount's reach (protectSpecFiles,
// cacheInside) skipped volumes. A project kept in a volume's folder (the
// host reaching it through a link, ~/proj -> the volume's folder) was
// planned with that volume writable and its spec not bound over itself:
// root inside appended to nsup.yaml, which the next nsup run applies.
// Refused now, naming the spec; were it planned, the spec must be left
// as it was.
func TestRootSpecInVolumeRefused(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	vols := filepath.Join(dir, "volumes")
	src := planner.VolumePath(vols, "proj", "src")
	if err := os.MkdirAll(src, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(src, filepath.Join(dir, "proj")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NSUP_VOLUME_DIR", vols)
	text := `version: 1
name: proj
volumes:
  src: {}
environments:
  dev:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid]
    mounts:
      - {type: volume, source: src, target: /src}
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo "# root inside" >> /src/nsup.yaml; echo "write: $?"']
`
	file := filepath.Join(src, "nsup.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := spec.ParseBytesVars(filepath.Join(dir, "proj", "nsup.yaml"), filepath.Join(dir, "proj"), []byte(text), asWritten)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		if !strings.Contains(err.Error(), file+", which nsup reads to plan this spec") {
			t.Fatalf("refused, but not for the spec: %v", err)
		}
		return
	}
	_, out, errOut, err := run(t, p, executor.Options{})
	if b, _ := os.ReadFile(file); string(b) != text {
		t.Errorf("root inside rewrote the spec through the volume: %q %q %v\n%s", out, errOut, err, b)
	}
}
