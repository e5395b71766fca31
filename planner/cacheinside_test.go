package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestCacheInWritableFolder: a writable bind (or dir root) that holds
// nsup's cache is refused. The cache's closure and tar trees are shared
// by every environment of the same content, and its digest index is
// trusted by the next plan: root in an environment of a spec binding a
// folder that holds the cache (NSUP_CACHE_DIR's, or /var) rewrote
// /bin/echo of the closure trees there, and another spec's environment
// with that closure ran root inside's script. In a user namespace that
// maps root elsewhere root inside is not the cache's owner, and a bind
// of / itself is the host's whole tree: neither is refused.
func TestCacheInWritableFolder(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "root/bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "var/cache/nsup"), 0o700)
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	compile := func(source, readonly string) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [{type: bind, source: " + source + ", target: /x, readonly: " + readonly + "}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		s, err := spec.ParseBytes(filepath.Join(d, "nsup.yaml"), d, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o := fixedOptions(Options{CacheDir: filepath.Join(d, "var/cache/nsup"), Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
		_, err = Compile(s, o)
		return err
	}
	for _, src := range []string{d + "/var", d + "/var/cache/nsup"} {
		if err := compile(src, "false"); err == nil || !strings.Contains(err.Error(), "nsup's cache") {
			t.Errorf("writable bind of %s: %v, want refused", src, err)
		}
	}
	if err := compile(d+"/var", "true"); err != nil {
		t.Errorf("read-only bind of %s/var: %v", d, err)
	}
}

// TestCacheInWritableFolderRootless: rootless, the cache is the caller's
// (owndir.Check), and the user namespace maps root inside onto the
// caller: root inside is the cache's owner, whatever the namespace
// confines. A review of the cache's check (skipped in every user
// namespace that maps root elsewhere) found a rootless environment with
// a writable bind of a folder holding the cache (~/.cache, shared for a
// tool's own cache) planned. Refused now; root's environment mapping
// root to 100000 is not the owner of root's cache, and stays planned.
func TestCacheInWritableFolderRootless(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "root/bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "root/root/.cache"), 0o755) // the target (targetMakeable)
	os.MkdirAll(filepath.Join(d, "home/.cache/nsup"), 0o700)
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	compile := func(caller Caller, idmap string) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [user, mnt, pid]\n" + idmap + "    mounts: [{type: bind, source: " + d + "/home/.cache, target: /root/.cache}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		s, err := spec.ParseBytes(filepath.Join(d, "nsup.yaml"), d, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o := fixedOptions(Options{CacheDir: filepath.Join(d, "home/.cache/nsup"), Caller: &caller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
		_, err = Compile(s, o)
		return err
	}
	if err := compile(userCaller, ""); err == nil || !strings.Contains(err.Error(), "nsup's cache") {
		t.Errorf("rootless, a writable bind of the folder holding the cache: %v, want refused", err)
	}
	if err := compile(rootCaller, "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"); err != nil {
		t.Errorf("root's, root mapped to 100000: %v", err)
	}
}

// TestCacheThroughLinkRefused (helper-62's review of c998abf): the
// cache was matched by its real path, or, not made yet, by its path as
// written. With /var/cache a link to /data/cache: no /var/cache/nsup
// yet, a writable bind of /data was planned, and root inside could make
// the cache there (uid 0, 0700: CheckCacheDir takes it) with an index the
// next plan trusts; the cache made, a writable bind of /var was planned,
// and root inside could point the link at a cache of its own. Both are
// refused now; a bind of a folder on neither path plans.
func TestCacheThroughLinkRefused(t *testing.T) {
	d := t.TempDir()
	for _, p := range []string{"root/bin", "data/cache", "var", "other"} {
		os.MkdirAll(filepath.Join(d, p), 0o755)
	}
	os.Symlink(d+"/data/cache", d+"/var/cache")
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	compile := func(source string) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [{type: bind, source: " + source + ", target: /x}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		s, err := spec.ParseBytes(filepath.Join(d, "nsup.yaml"), d, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o := fixedOptions(Options{CacheDir: filepath.Join(d, "var/cache/nsup"), Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
		_, err = Compile(s, o)
		return err
	}
	for _, made := range []bool{false, true} {
		if made {
			os.Mkdir(d+"/data/cache/nsup", 0o700)
		}
		if err := compile(d + "/data"); err == nil || !strings.Contains(err.Error(), "nsup's cache "+d+"/data/cache/nsup") {
			t.Errorf("a writable bind of %s/data, the cache behind %s/var/cache (made: %v): %v, want refused", d, d, made, err)
		}
		if err := compile(d + "/var"); err == nil || !strings.Contains(err.Error(), "through the symlink "+d+"/var/cache") {
			t.Errorf("a writable bind of %s/var, which holds the link to the cache (made: %v): %v, want refused", d, made, err)
		}
		if err := compile(d + "/other"); err != nil {
			t.Errorf("a writable bind of %s/other (made: %v): %v", d, made, err)
		}
	}
}
