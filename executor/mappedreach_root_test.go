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

// An idmap that maps root inside to host uid 100000, as root: the child
// stage walks nsup's cache (a closure root) and volume folders by path as
// that uid. Found by helper-105's review: both were 0700, the host root's,
// and nsup plan printed a plan that nsup apply failed at the child's
// open_tree with EACCES. The plan is the truth: it refuses what apply
// cannot do, and what it plans, apply does.
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

// truthOf checks that a plan of yaml is refused with want (a plan error
// at FILE:LINE:COL), or else that apply does what it planned: on the code
// before the fix, the plan was made and apply failed.
func truthOf(t *testing.T, dir, yaml, want string) {
	t.Helper()
	p, err := compileErr(t, dir, yaml)
	if err == nil {
		st, out, errOut, err := run(t, p, executor.Options{})
		t.Fatalf("the plan was made, and apply: %d %v %q %q: want the plan refused with %s", st, err, out, errOut, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("plan: %v\nwant %s", err, want)
	}
}

// TestRootIdmapClosureRoot: a closure root in a cache of 0700 folders is
// refused; in one whose folders uid 100000 may search, it runs.
func TestRootIdmapClosureRoot(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	cache := filepath.Join(dir, "cache")
	os.Mkdir(cache, 0o700)
	yaml := `version: 1
environments:
  c:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [user, mnt, pid]` + mappedIDs + `
    processes:
      - {name: main, command: [/bin/busybox, id, -u]}
`
	truthOf(t, dir, yaml, fmt.Sprintf("test.yaml:4:13: environments.c.rootfs: the root's tree (nsup's cache) %s/closure/", cache))
	truthOf(t, dir, yaml, fmt.Sprintf("host uid 100000 (gid 100000) through the id maps, which may not search %s (mode 0700, owner 0:0): apply would fail with EACCES; give nsup a cache", cache))
	os.Chmod(cache, 0o711)
	os.Mkdir(filepath.Join(cache, "closure"), 0o711)
	p, err := compileErr(t, dir, yaml)
	if err != nil {
		t.Fatalf("plan, the cache searchable: %v", err)
	}
	if out := runOK(t, p); out != "0\n" {
		t.Errorf("id -u inside: %q, want 0", out)
	}
}

// TestRootIdmapVolume: a volume in 0700 folders is refused; in folders
// uid 100000 may search, it is made root inside's (host 100000), who
// writes in it.
func TestRootIdmapVolume(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	os.Mkdir(filepath.Join(root, "data"), 0o755)
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
      - {name: main, command: [/bin/sh, -c, "echo kept > /data/x && cat /data/x"]}
`
	vol := filepath.Join(vols, "proj", "data")
	truthOf(t, dir, yaml, fmt.Sprintf("test.yaml:13:9: environments.v.mounts[0]: volume data's folder %s is opened by the environment's child stage inside its user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search %s (mode 0700, owner 0:0): apply would fail with EACCES; give nsup volumes", vol, vols))
	if _, err := os.Lstat(vol); err == nil {
		t.Errorf("%s made by a refused plan", vol)
	}
	os.Chmod(vols, 0o711)
	truthOf(t, dir, yaml, fmt.Sprintf("may not search %s (missing now: apply makes it 0700, uid 0's)", filepath.Dir(vol)))
	os.Mkdir(filepath.Join(vols, "proj"), 0o711)
	p, err := compileErr(t, dir, yaml)
	if err != nil {
		t.Fatalf("plan, the folders searchable: %v", err)
	}
	if want := fmt.Sprintf(`mkdir(%q, 0755), chown(100000, 100000) if missing: volume "data"`, vol); !strings.Contains(planText(p), want) {
		t.Errorf("plan lacks %s:\n%s", want, planText(p))
	}
	if st, out, errOut, err := run(t, p, executor.Options{}); err != nil || st != 0 || out != "kept\n" {
		t.Errorf("apply: %d %v %q %q", st, err, out, errOut)
	}
	var st unix.Stat_t
	if err := unix.Lstat(vol, &st); err != nil || st.Mode&0o7777 != 0o755 || st.Uid != 100000 || st.Gid != 100000 {
		t.Errorf("volume: %v mode %o owner %d:%d, want 0755 100000:100000", err, st.Mode&0o7777, st.Uid, st.Gid)
	}
}
