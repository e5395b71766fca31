package executor_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// An idmap that maps root inside to host uid 100000, as root: nsup's cache
// (a closure root) and volume folders are 0700, the host root's, which
// that uid may not search. Found by helper-105's review: nsup plan printed
// a plan that nsup apply failed at the child's open_tree with EACCES (then
// the plan refused them). Now the host clones those trees before the clone
// (open_tree steps) and the child moves the clones in, walking no path.
const mappedIDs = `
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]`

// compileErr plans yaml (test.yaml in dir) with nsup's cache in dir/cache.
func compileErr(t *testing.T, dir, yaml string) (*planner.Plan, error) {
	t.Helper()
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(yaml), asWritten)
	if err != nil {
		t.Fatalf("spec:\n%v", err)
	}
	return planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
}

// mappedPlan plans yaml and checks that the plan has the host's clone of
// path for the child, and the child's bind of it.
func mappedPlan(t *testing.T, dir, yaml, path, bind string) *planner.Plan {
	t.Helper()
	p, err := compileErr(t, dir, yaml)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	text := planText(p)
	for _, want := range []string{fmt.Sprintf("open_tree(%q, OPEN_TREE_CLONE", path), fmt.Sprintf("move_mount(the host's clone of %q, %s)", path, bind)} {
		if !strings.Contains(text, want) {
			t.Fatalf("plan lacks %s:\n%s", want, text)
		}
	}
	return p
}

// TestRootIdmapClosureRoot: a closure root in a cache of 0700 folders
// runs: root inside reads the closure's files.
func TestRootIdmapClosureRoot(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	os.Mkdir(cache, 0o700)
	yaml := `version: 1
environments:
  c:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [user, mnt, pid]` + mappedIDs + `
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/busybox, sh, -c, "id -u; busybox head -c 4 /bin/busybox | busybox tail -c 3; echo; busybox head -1 /etc/passwd; busybox awk '$5 == \"/\"' /proc/self/mountinfo | busybox wc -l"]}
`
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(yaml), asWritten)
	if err != nil {
		t.Fatal(err)
	}
	root := ""
	if p, err := planner.Compile(s, planner.Options{CacheDir: cache}); err == nil {
		for _, st := range p.Environments[0].Steps {
			if r, ok := st.Op.(planner.Rootfs); ok {
				root = r.Path
			}
		}
	}
	p := mappedPlan(t, dir, yaml, root, `"/"`)
	// One mount at "/", the root's (the host's clone): the umount2 after
	// pivot_root took the old root, and the host's mounts with it (an
	// overlay root's first version left them: TestRootIdmapOverlayRoot).
	if out := runOK(t, p); out != "0\nELF\nroot:x:0:0:root:/root:/nonexistent\n1\n" {
		t.Errorf("inside: %q, want uid 0 reading the closure's files, one mount at /", out)
	}
	var st unix.Stat_t
	if err := unix.Stat(cache, &st); err != nil || st.Mode&0o777 != 0o700 || st.Uid != 0 {
		t.Errorf("cache: %v mode %o owner %d, want 0700 root's", err, st.Mode&0o777, st.Uid)
	}
}

// TestRootIdmapVolume: a volume in 0700 folders is made root inside's
// (host 100000), who writes in it.
func TestRootIdmapVolume(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	os.Chmod(filepath.Dir(dir), 0o755) // a dir root: the child walks its path
	os.Chmod(dir, 0o755)
	os.Mkdir(filepath.Join(dir, "rootfs", "data"), 0o755)
	vols := filepath.Join(dir, "volumes")
	os.Mkdir(vols, 0o700)
	t.Setenv("NSUP_VOLUME_DIR", vols)
	yaml := `version: 1
name: proj
volumes:
  data:
environments:
  v:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, pid]` + mappedIDs + `
    mounts:
      - {type: volume, source: data, target: /data}
    processes:
      - {name: main, command: [/bin/sh, -c, "echo kept > /data/x && cat /data/x && id -u"]}
`
	vol := filepath.Join(vols, "proj", "data")
	p := mappedPlan(t, dir, yaml, vol, "<root>/data")
	if want := fmt.Sprintf(`mkdir(%q, 0755), chown(100000, 100000) if missing: volume "data"`, vol); !strings.Contains(planText(p), want) {
		t.Errorf("plan lacks %s:\n%s", want, planText(p))
	}
	if st, out, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 || out != "kept\n0\n" {
		t.Errorf("apply: %d %v %q %q", st, err, out, errOut)
	}
	var st unix.Stat_t
	if err := unix.Lstat(vol, &st); err != nil || st.Mode&0o7777 != 0o755 || st.Uid != 100000 || st.Gid != 100000 {
		t.Errorf("volume: %v mode %o owner %d:%d, want 0755 100000:100000", err, st.Mode&0o7777, st.Uid, st.Gid)
	}
	if err := unix.Lstat(filepath.Join(vol, "x"), &st); err != nil || st.Uid != 100000 || st.Gid != 100000 {
		t.Errorf("volume's file: %v owner %d:%d, want 100000:100000", err, st.Uid, st.Gid)
	}
	for _, d := range []string{vols, filepath.Dir(vol)} {
		if err := unix.Lstat(d, &st); err != nil || st.Mode&0o777 != 0o700 || st.Uid != 0 {
			t.Errorf("%s: %v mode %o owner %d, want 0700 root's", d, err, st.Mode&0o777, st.Uid)
		}
	}
}
