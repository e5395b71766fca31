package planner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// hybridTestdata is the cgroup package's test data of a hybrid host,
// found before any test changes its working folder.
var hybridTestdata, _ = filepath.Abs("cgroup/testdata/hybrid")

// hostView is a file tree to plan against (compileOnView): mountinfo as
// the host's /proc/self/mountinfo, the cgroup layout of the test data's
// hybrid host, and its /sys; with devs, its /sys/fs only, beside the
// host's /sys/dev and /dev (for the loop devices a test attached).
func hostView(t *testing.T, mountinfo []byte, devs bool) string {
	t.Helper()
	hybrid := hybridTestdata
	cg, err := os.ReadFile(hybrid + "/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	fsys := t.TempDir()
	os.MkdirAll(fsys+"/proc/self", 0o755)
	os.WriteFile(fsys+"/proc/self/mountinfo", mountinfo, 0o644)
	os.WriteFile(fsys+"/proc/self/cgroup", cg, 0o644)
	if !devs {
		os.Symlink(hybrid+"/sys", fsys+"/sys")
		return fsys
	}
	os.MkdirAll(fsys+"/sys", 0o755)
	os.Symlink(hybrid+"/sys/fs", fsys+"/sys/fs")
	os.Symlink("/sys/dev", fsys+"/sys/dev")
	os.Symlink("/dev", fsys+"/dev")
	return fsys
}

// ownMountinfo is this mount namespace's mountinfo, for hostView.
func ownMountinfo(t *testing.T) []byte {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return mi
}

// compileOnView plans s as root with the host seen through fsys
// (hostView).
func compileOnView(s *spec.Spec, fsys string) error {
	o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller})
	o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS(fsys)) }
	_, err := Compile(s, o)
	return err
}
