package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
// folder, is moved the same way: refused too since helper-75's review,
// TestRootSubfolderMountHidesRenamed.)
func TestRootSubfolderMountRenamed(t *testing.T) {
	out := renamedAcrossRuns(t, []string{"a/b/secret"},
		"      - {type: bind, source: ./hostdata/a/b, target: /data/a/b, readonly: true}\n", "",
		"mv /data/a /data/a2 && mkdir -p /data/a/b && echo moved",
		`echo x > /data/a2/b/f && echo "written"`)
	if strings.Contains(out, "hidden") || strings.Contains(out, "written") {
		t.Errorf("root inside reached the host's folder at its parent's new name: %q", out)
	}
}

// TestRootSubfolderOwnBindRenamed (helper-69's review): the advice of
// the two refusals above, "bind the subfolder itself", held only where
// that bind is directly in the writable bind's folder. A bind of
// hostdata/a/b onto its own place /data/a/b (writable, hostdata
// writable at /data), holding masked_paths: [/data/a/b/secret] and
// readonly_paths: [/data/a/b/conf], or a read-only bind of
// hostdata/a/b/c at /data/a/b/c, was moved with /data/a: root inside
// moved /data/a to /data/a2 and made an empty /data/a/b; the next apply
// bound that empty folder at /data/a/b, skipped the missing paths, and
// root inside read the host's masked file and wrote its read-only
// folders at /data/a2/b. Such specs are refused now.
func TestRootSubfolderOwnBindRenamed(t *testing.T) {
	const own = "      - {type: bind, source: ./hostdata/a/b, target: /data/a/b}\n"
	out := renamedAcrossRuns(t, []string{"a/b/secret", "a/b/conf/"}, own,
		"    security: {masked_paths: [/data/a/b/secret], readonly_paths: [/data/a/b/conf]}\n",
		"mv /data/a /data/a2 && mkdir -p /data/a/b && echo moved",
		`cat /data/a2/b/secret; echo x > /data/a2/b/conf/f && echo "conf written"`)
	if strings.Contains(out, "hidden") || strings.Contains(out, "conf written") {
		t.Errorf("root inside reached the masked file or the read-only folder at their folder's new name: %q", out)
	}
	out = renamedAcrossRuns(t, []string{"a/b/c/"}, own+"      - {type: bind, source: ./hostdata/a/b/c, target: /data/a/b/c, readonly: true}\n", "",
		"mv /data/a /data/a2 && mkdir -p /data/a/b/c && echo moved",
		`echo x > /data/a2/b/c/f && echo "written"`)
	if strings.Contains(out, "written") {
		t.Errorf("root inside wrote the folder bound read-only at its parent's new name: %q", out)
	}
}

// TestRootSubfolderMountCreatedRenamed (helper-69's review): the
// read-only bind of TestRootSubfolderMountRenamed with create: true and
// its source spelled through another name of the host's for the folder
// bound writable (./alias/a/new/b, alias a bind mount of hostdata on the
// host) was compared as written while it was not there yet, and
// planned: root inside moved /data/a in the first run, the next apply
// made a new empty hostdata/a/new/b and bound that read-only, and root
// inside wrote the folder made and bound in the first run at
// /data/a2/new/b. Refused now: below the nearest folder that is there,
// the same folder, the names are the same.
func TestRootSubfolderMountCreatedRenamed(t *testing.T) {
	out := renamedAcrossRuns(t, []string{"a/"},
		"      - {type: bind, source: ./alias/a/new/b, target: /data/a/new/b, readonly: true, create: true}\n", "",
		"mv /data/a /data/a2 && echo moved",
		`echo x > /data/a2/new/b/f && echo "written"`, "alias = hostdata")
	if strings.Contains(out, "written") {
		t.Errorf("root inside wrote the folder bound read-only at its parent's new name: %q", out)
	}
}

// TestRootConfinedRootSubfolderRenamed (helper-69's review): in a
// writable dir root's own tree, masked_paths: [/etc/secret] and
// readonly_paths: [/etc/conf] held for one run only, as in a writable
// bind (TestRootConfinedSubfolderRenamed): root inside moved /etc to
// /etc2 and made an empty /etc, the next plan skipped the missing
// paths, and root inside read the masked file and wrote the read-only
// folder at /etc2. So did a read-only bind of the tree's own
// rootfs/srv/conf onto /srv/conf, with /srv moved. Refused now.
func TestRootConfinedRootSubfolderRenamed(t *testing.T) {
	const root = "{dir: ./rootfs, readonly: false}"
	const want = "a subfolder of the writable root"
	out := renamedAcrossRunsIn(t, root, []string{"rootfs/etc/secret", "rootfs/etc/conf/"}, "      - {type: tmpfs, target: /tmp}\n",
		"    security: {masked_paths: [/etc/secret], readonly_paths: [/etc/conf]}\n",
		"mv /etc /etc2 && mkdir /etc && echo moved",
		`cat /etc2/secret; echo x > /etc2/conf/f && echo "conf written"`, want)
	if strings.Contains(out, "hidden") || strings.Contains(out, "conf written") {
		t.Errorf("root inside reached the masked file or the read-only folder at /etc2: %q", out)
	}
	out = renamedAcrossRunsIn(t, root, []string{"rootfs/srv/conf/"}, "      - {type: bind, source: ./rootfs/srv/conf, target: /srv/conf, readonly: true}\n", "",
		"mv /srv /srv2 && mkdir -p /srv/conf && echo moved",
		`echo x > /srv2/conf/f && echo "written"`, want)
	if strings.Contains(out, "written") {
		t.Errorf("root inside wrote the folder bound read-only at /srv2: %q", out)
	}
}

// renamedAcrossRuns makes hostdata with the files (a name ending in "/"
// a folder; a file holds "hidden"), and the links (see
// renamedAcrossRunsIn), and plans an environment that binds
// it writable at /data, with the mounts after it and the lines rest.
// Refused for the subfolder, it returns ""; else it runs move (which
// must print "moved") in a first run and then in a second, planned
// again, and returns what that second run printed.
func renamedAcrossRuns(t *testing.T, files []string, mounts, rest, move, then string, links ...string) string {
	t.Helper()
	for i, f := range files {
		files[i] = filepath.Join("hostdata", f)
		if strings.HasSuffix(f, "/") {
			files[i] += "/"
		}
	}
	return renamedAcrossRunsIn(t, "{dir: ./rootfs}", append(append(files, "rootfs/data/"), links...),
		"      - {type: bind, source: ./hostdata, target: /data}\n"+mounts, rest, move, then, "a subfolder of the writable bind at /data")
}

// renamedAcrossRunsIn is renamedAcrossRuns with the rootfs, every mount,
// the files as paths from the spec's folder ("l -> t" a link, "l = f"
// a bind mount of f on the host, both after the files), and the
// refusal's words (want) given.
func renamedAcrossRunsIn(t *testing.T, rootfs string, files []string, mounts, rest, move, then, want string) string {
	t.Helper()
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, f := range files {
		p := filepath.Join(dir, f)
		if l, to, ok := strings.Cut(f, " -> "); ok {
			if err := os.Symlink(to, filepath.Join(dir, l)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if l, from, ok := strings.Cut(f, " = "); ok {
			// A bind mount on the host, gone when the test ends.
			l = filepath.Join(dir, l)
			if err := os.MkdirAll(l, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mount(filepath.Join(dir, from), l, "", syscall.MS_BIND, ""); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Unmount(l, syscall.MNT_DETACH) })
			continue
		}
		if strings.HasSuffix(f, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
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
    rootfs: `+rootfs+`
    namespaces: [mnt, pid]
    mounts:
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
		if !strings.Contains(err.Error(), want) {
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

// TestRootConfinedPidPeerRenamed (helper-69's review): b, sharing a's pid
// namespace from a mount namespace of its own (and, with its own net, in
// no Landlock domain that would keep it from a's processes), passes the
// ptrace check on a's processes and reaches a's mounts through their
// /proc/PID/root. The kernel refuses to rename a mount point of the
// caller's own mount namespace only: b moved a's masked /data/secret and
// read-only /data/conf, directly in a's writable bind, to secret2 and
// conf2, and a's next run skipped the missing paths, so root inside a
// read the host's file and wrote its folder there. Refused now.
func TestRootConfinedPidPeerRenamed(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, d := range []string{"rootfs/data", "rootfs/proc", "hostdata/conf"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "hostdata/secret"), []byte("hidden\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plan := func(a, b string) (*planner.Plan, error) {
		s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
    security: {masked_paths: [/data/secret], readonly_paths: [/data/conf]}
    processes:
      - {name: main, command: [/bin/sh, -c, '`+a+`']}
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, net]
    join: {pid: a}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/sh, -c, '`+b+`']}
`), asWritten)
		if err != nil {
			t.Fatal(err)
		}
		return planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	}
	// Run 1: b finds a's process (the one whose root shows the masked
	// file) and moves the paths; a waits for it.
	p, err := plan("while [ ! -e /data/moved ]; do sleep 0.1; done",
		`for p in /proc/[0-9]*; do [ -e $p/root/data/secret ] && P=$p; done; mv $P/root/data/secret $P/root/data/secret2 && mv $P/root/data/conf $P/root/data/conf2 && echo moved; touch $P/root/data/moved`)
	if err != nil {
		if !strings.Contains(err.Error(), "environment b shares this environment's pid namespace from a mount namespace of its own") {
			t.Fatalf("refused, but not for b: %v", err)
		}
		return
	}
	if _, out, errOut, err := run(t, p, executor.Options{}); !strings.Contains(out, "moved") {
		t.Fatalf("run 1: %q %q %v", out, errOut, err)
	}
	// Run 2: the same spec, planned again.
	if p, err = plan(`cat /data/secret2; echo x > /data/conf2/f && echo "conf written"; sleep 1`, "true"); err != nil {
		t.Fatalf("run 2 refused: %v", err)
	}
	_, out, _, _ := run(t, p, executor.Options{})
	if strings.Contains(out, "hidden") || strings.Contains(out, "conf written") {
		t.Errorf("root inside a reached the masked file or the read-only folder b moved: %q", out)
	}
}

// TestRootConfinedBelowReadonlyHeld (helper-73's review): a masked path
// below a read-only path that lies directly in a writable bind
// (masked_paths: [/data/sub/secret], readonly_paths: [/data/sub]) plans:
// /data/sub is a read-only mount point, which root inside can neither
// rename nor rename anything in, so nothing moves for the next run.
func TestRootConfinedBelowReadonlyHeld(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, d := range []string{"rootfs/data", "hostdata/sub"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "hostdata/sub/secret"), []byte("hidden\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
    security: {masked_paths: [/data/sub/secret], readonly_paths: [/data/sub]}
    processes:
      - {name: main, command: [/bin/sh, -c, 'mv /data/sub /data/sub2 && echo moved; mv /data/sub/secret /data/sub/s2 && echo moved; cat /data/sub/secret; echo x > /data/x && echo written']}
`), asWritten)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	_, out, errOut, _ := run(t, p, executor.Options{})
	if !strings.Contains(out, "written") {
		t.Fatalf("the writable bind was not written (the test proves nothing): %q %q", out, errOut)
	}
	if strings.Contains(out, "moved") || strings.Contains(out, "hidden") {
		t.Errorf("root inside moved the read-only folder or the masked file, or read it: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "hostdata/sub/secret")); err != nil {
		t.Errorf("the masked file is no longer at its place: %v", err)
	}
}
