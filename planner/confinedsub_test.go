package planner

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConfinedSubfolderRefused (helper-66's review): a masked or
// read-only path in a subfolder of a writable bind (a volume's too) is
// refused: root inside renames the folder above the mount point
// (TestRootConfinedSubfolderRenamed). One directly in the bound folder,
// one in a subfolder bound itself, or below a read-only bind, plans.
func TestConfinedSubfolderRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/data", "host/sub/deep", "vols"}, nil)
	os.WriteFile(filepath.Join(dir, "host/secret"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "host/sub/secret"), nil, 0o600)
	const bind = "      - {type: bind, source: ./host, target: /data}\n"
	security := func(s string) string { return "    security: {" + s + "}\n" }
	opts := fixedOptions(Options{Caller: &rootCaller, VolumeDir: filepath.Join(dir, "vols"), Project: "p"})
	checkRefusals(t, dir, "mnt, pid", "volumes:\n  v: {}\n", opts, []refusal{
		{bind, security("masked_paths: [/data/sub/secret]"), "/data/sub/secret lies in /data/sub, a subfolder of the writable bind at /data"},
		{bind, security("readonly_paths: [/data/sub/deep]"), "could rename /data/sub"},
		{"      - {type: volume, source: v, target: /data}\n", security("masked_paths: [/data/a/b]"), "a subfolder of the writable bind at /data"},
		{bind, security("masked_paths: [/data/secret], readonly_paths: [/data/sub]"), ""},
		{bind + "      - {type: bind, source: ./host/sub, target: /data/sub}\n", security("masked_paths: [/data/sub/secret]"), ""},
		{"      - {type: bind, source: ./host, target: /data, readonly: true}\n", security("masked_paths: [/data/sub/secret]"), ""},
	})
}
