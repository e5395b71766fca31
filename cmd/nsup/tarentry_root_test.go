package main

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRootTarEntryNeverWritten: a tar root is nsup's cache entry of the
// archive, shared by every environment made of it. Without overlay: true
// apply's child made the mount targets the archive lacks (/proc, /src)
// in the entry itself, and every later environment of the same archive
// saw them; as root with an idmap that maps root inside elsewhere it
// could not make them at all (the plan refused: helper-119). The root is
// now laid as an overlay of the entry, read-only, whose upper layer (a
// tmpfs of the environment's) holds those targets: the entry keeps the
// archive's names only, the root stays read-only, and with the idmap the
// target is made (in a folder of the archive's root inside could not
// search either). With SYS_ADMIN in a user namespace (planned now), root
// inside that lifts the root's read-only flag writes the tmpfs, not the
// entry.
func TestRootTarEntryNeverWritten(t *testing.T) {
	rc := newReachCase(t, "tarentry")
	dir, bin := rc.dir, rc.bin
	cache := filepath.Join(dir, "cache")
	t.Setenv("NSUP_CACHE_DIR", cache)
	busyboxTar(t, dir, "bare.tar", []string{"sh", "touch", "cat", "mount", "test"})
	busyboxTar(t, dir, "deep.tar", []string{"sh", "cat"}, tar.Header{Name: "deep/", Typeflag: tar.TypeDir, Mode: 0o700})
	const idmap = "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"
	write := func(name, archive, namespaces, extra, target, script string) string {
		spec := filepath.Join(dir, name)
		os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  t:
    rootfs: {tar: ./%s}
    namespaces: [%s]
%s    mounts:
      - {type: proc, target: /proc}
      - {type: bind, source: %s/src, target: %s, readonly: true}
    processes:
      - {name: main, command: [/bin/sh, -c, '%s']}
`, archive, namespaces, extra, dir, target, script)), 0o644)
		return spec
	}
	names := func(archive string) []string { return tarEntryNames(t, cache, filepath.Join(dir, archive)) }
	readonly := `cat /src/f; touch /x && echo wrote /x; test -e /proc/1/comm && echo proc`
	for _, c := range []struct {
		name, archive, namespaces, extra, target, script, want string
	}{
		{"root", "bare.tar", "mnt, pid", "", "/src", readonly, "bound\nproc\n"},
		{"idmap", "bare.tar", "user, mnt, pid", idmap, "/src", readonly, "bound\nproc\n"},
		{"idmap, deep", "deep.tar", "user, mnt, pid", idmap, "/deep/src", "cat /deep/src/f", "bound\n"},
		{"SYS_ADMIN", "bare.tar", "user, mnt, pid", idmap + "    security: {capabilities: {add: [SYS_ADMIN]}}\n", "/src",
			"mount -o remount,rw / && touch /x && echo wrote /x", "wrote /x\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := write(strings.ReplaceAll(c.name, " ", "")+".yaml", c.archive, c.namespaces, c.extra, c.target, c.script)
			code, out, errs := runCaptured(t, exec.Command(bin, "apply", spec))
			if code != 0 || out != c.want {
				t.Errorf("apply: exit %d, out %q, want 0 and %q\n%s", code, out, c.want, errs)
			}
			want := []string{".", "bin"}
			if c.archive == "deep.tar" {
				want = append(want, "deep")
			}
			for _, a := range []string{"busybox", "cat", "mount", "sh", "test", "touch"} {
				if c.archive == "bare.tar" || a == "busybox" || a == "cat" || a == "sh" {
					want = append(want, filepath.Join("bin", a))
				}
			}
			slices.Sort(want)
			if got := names(c.archive); !slices.Equal(got, want) {
				t.Errorf("the cache entry of %s holds %q after the apply, want the archive's names %q", c.archive, got, want)
			}
		})
	}
}

// TestRootTarUpperCharged: a tar root's upper layer is a tmpfs of the
// kernel's default size (half of RAM), and with SYS_ADMIN in a user
// namespace root inside lifts the root's read-only flag and writes it
// (planned since the tar root became an overlay). What it writes there
// is charged to the environment's memory group: a write of 200 MB into
// the root under limits.memory 16M does not land whole (the writer is
// killed, or the write ends short), and the cache entry keeps the
// archive's names (helper-126's review, which found the same by hand:
// killed at 64M).
func TestRootTarUpperCharged(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir, err := os.MkdirTemp("", "nsup-tarupper-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	cache := filepath.Join(dir, "cache")
	t.Setenv("NSUP_CACHE_DIR", cache)
	busyboxTar(t, dir, "bare.tar", []string{"sh", "mount", "yes", "head", "wc"})
	spec := filepath.Join(dir, "fill.yaml")
	os.WriteFile(spec, []byte(`version: 1
environments:
  t:
    rootfs: {tar: ./bare.tar}
    namespaces: [user, mnt, pid]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
    security: {capabilities: {add: [SYS_ADMIN]}}
    limits: {memory: 16M, memory_swap: 16M}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/sh, -c, 'mount -o remount,rw / && echo remounted; yes aaaaaaaaaaaaaaaa | head -c 200000000 > /big; echo size $$(wc -c < /big)']}
`), 0o644)
	_, out, errs := runCaptured(t, exec.Command(buildNsup(t), "apply", spec))
	if !strings.Contains(out, "remounted\n") {
		t.Fatalf("the root's read-only flag not lifted: out %q\n%s", out, errs)
	}
	if strings.Contains(out, "size 200000000") {
		t.Errorf("200 MB written into the root's upper tmpfs under limits.memory 16M: out %q", out)
	}
	got := tarEntryNames(t, cache, filepath.Join(dir, "bare.tar"))
	want := []string{".", "bin", "bin/busybox", "bin/head", "bin/mount", "bin/sh", "bin/wc", "bin/yes"}
	if !slices.Equal(got, want) {
		t.Errorf("the cache entry holds %q after the apply, want the archive's names %q", got, want)
	}
}

// tarEntryNames lists the cache entry (below cache) of the archive at
// path, which its sha256 names: every name in it, the root's ".",
// relative to the entry, in lexical order.
func tarEntryNames(t *testing.T, cache, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(cache, "tar", fmt.Sprintf("%x", sha256.Sum256(b)))
	var list []string
	filepath.Walk(entry, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			r, _ := filepath.Rel(entry, p)
			list = append(list, r)
		}
		return nil
	})
	return list
}
