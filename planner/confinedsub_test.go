package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestConfinedSubfolderRefused (helper-66's review): a masked or
// read-only path in a subfolder of a writable bind (a volume's too) is
// refused: root inside renames the folder above the mount point
// (TestRootConfinedSubfolderRenamed). One directly in the bound folder,
// one in a subfolder bound itself, or below a read-only bind, plans.
func TestConfinedSubfolderRefused(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"rootfs/bin", "rootfs/data", "host/sub/deep", "vols"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "rootfs/bin/sh"), []byte("#!"), 0o755)
	os.WriteFile(filepath.Join(dir, "host/secret"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "host/sub/secret"), nil, 0o600)
	compile := func(mounts, security string) error {
		text := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt, pid]\n    mounts:\n" + mounts +
			"    security: {" + security + "}\n    processes: [{name: main, command: [/bin/sh]}]\nvolumes:\n  v: {}\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{Caller: &rootCaller, VolumeDir: filepath.Join(dir, "vols"), Project: "p"}))
		return err
	}
	const bind = "      - {type: bind, source: ./host, target: /data}\n"
	for _, c := range []struct {
		mounts, security, want string // want: "" plans
	}{
		{bind, "masked_paths: [/data/sub/secret]", "/data/sub/secret lies in /data/sub, a subfolder of the writable bind at /data"},
		{bind, "readonly_paths: [/data/sub/deep]", "could rename /data/sub"},
		{"      - {type: volume, source: v, target: /data}\n", "masked_paths: [/data/a/b]", "a subfolder of the writable bind at /data"},
		{bind, "masked_paths: [/data/secret], readonly_paths: [/data/sub]", ""},
		{bind + "      - {type: bind, source: ./host/sub, target: /data/sub}\n", "masked_paths: [/data/sub/secret]", ""},
		{"      - {type: bind, source: ./host, target: /data, readonly: true}\n", "masked_paths: [/data/sub/secret]", ""},
	} {
		err := compile(c.mounts, c.security)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s%s: %v, want planned", c.mounts, c.security, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s%s: %v, want refused: %q", c.mounts, c.security, err, c.want)
		}
	}
}
