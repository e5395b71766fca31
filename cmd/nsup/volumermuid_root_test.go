package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootRootlessVolumeRmOtherUid: rootless, a volume that a user of an
// idmap inside wrote a folder in (its files a subordinate uid's, 0700)
// cannot be removed whole by its owner: volume rm said only "nsup:
// openfdat PATH/sub: permission denied", naming neither the volume nor
// a way out (helper-133's review, with postgres's uid 999 mapped to a
// subordinate id). It now names the volume, says it was removed in part
// and whose what is left is, and the way out, which the review ran: an
// environment of that idmap mounting the volume, rm -rf as user 0, then
// volume rm again. Here the subordinate uid's folder is made by root.
func TestRootRootlessVolumeRmOtherUid(t *testing.T) {
	requireBusybox(t)
	u, dir, bin, cache := rootlessCase(t)
	env := []string{"XDG_CACHE_HOME=" + cache, "XDG_DATA_HOME=" + filepath.Join(cache, "data")}
	proj := filepath.Join(dir, "repo", "proj")
	os.MkdirAll(proj, 0o755)
	spec := filepath.Join(proj, "nsup.yaml")
	os.WriteFile(spec, []byte(`version: 1
volumes:
  pg:
environments:
  db:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    mounts:
      - {type: volume, source: pg, target: /v}
    processes:
      - {name: main, command: [/bin/busybox, touch, /v/mine]}
`), 0o644)
	if code, out, errs := u.as(t, env, bin, "apply", spec); code != 0 {
		t.Fatalf("apply as %s: %d %s%s", u.name, code, out, errs)
	}
	vol := filepath.Join(cache, "data", "nsup", "volumes", "proj", "pg")
	sub := filepath.Join(vol, "sub")
	other := u.uid + 100000 // not the user's: a subordinate id's stand-in
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(sub, "f"), []byte("x\n"), 0o600)
	os.Chown(filepath.Join(sub, "f"), other, other)
	os.Chown(sub, other, other)
	code, out, errs := u.as(t, env, bin, "volume", "rm", "-p", "proj", "pg")
	if code != 1 || out != "" || !strings.Contains(errs, "volume proj/pg: ") || !strings.Contains(errs, "permission denied: removed in part; what is left is another uid's") ||
		!strings.Contains(errs, "rm -rf in it as user 0, then nsup volume rm again") {
		t.Errorf("volume rm of a volume holding another uid's folder: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(sub, "f")); err != nil {
		t.Errorf("the other uid's file: %v", err)
	}
}
