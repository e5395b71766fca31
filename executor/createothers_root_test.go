package executor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootCreateOthersFolderRefused (helper-131's review): a bind's
// source with create: true that already stands, made by another uid in
// a folder every user may write to (/tmp), is not taken: whoever made it
// first chose what the environment sees there (by hand, a root
// environment sourced the attacker's init.sh from it, as root inside)
// and reads what it writes (the environment's token). A folder of root's
// or of the caller's there is taken, as one apply makes; another user's
// in a folder only its owner may write is that owner's to give.
func TestRootCreateOthersFolderRefused(t *testing.T) {
	needsChown(t)
	dir := t.TempDir()
	shared := filepath.Join(dir, "tmp")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, os.ModeSticky|0o777) // as /tmp
	const other = 54321
	mk := func(p string, uid int) {
		t.Helper()
		if err := os.MkdirAll(p, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	// Another uid's, in the shared folder: refused, itself or on the way.
	mk(filepath.Join(shared, "cache"), other)
	mk(filepath.Join(shared, "app"), other)
	for _, p := range []string{filepath.Join(shared, "cache"), filepath.Join(shared, "app", "data")} {
		r := &envRun{}
		err := r.mkdirAll(planner.MkdirAll{Path: p, Mode: 0o755})
		if err == nil || !strings.Contains(err.Error(), "uid 54321") {
			t.Errorf("%s, in another uid's folder of a folder every user may write: %v, want refused", p, err)
		}
		if _, err := os.Lstat(filepath.Join(shared, "app", "data")); err == nil {
			t.Errorf("%s was made in another uid's folder", filepath.Join(shared, "app", "data"))
		}
		r.removeMadeDirs()
	}
	// Root's or the caller's there, or another uid's where only its
	// owner may write: taken.
	mk(filepath.Join(shared, "mine"), os.Geteuid())
	own := filepath.Join(dir, "own")
	mk(own, other)
	os.Chmod(own, 0o755)
	for _, p := range []string{filepath.Join(shared, "mine", "data"), filepath.Join(shared, "fresh", "data"), filepath.Join(own, "data")} {
		r := &envRun{}
		if err := r.mkdirAll(planner.MkdirAll{Path: p, Mode: 0o755}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		r.madeDirs = nil // kept: the test's folder goes with it
	}
}

// TestRootCreateSudoCallersFolder: under sudo, a folder of the user who
// ran sudo nsup (SUDO_UID) in a folder every user may write to is that
// user's, as its spec and .env are (spec.Untrusted): a project checked
// out in /tmp, `sudo nsup apply` with `./cache` and create: true, was
// refused ("/tmp/proj stands already, made by uid 1006 ...; remove it").
// Another uid's folder there is still refused under sudo.
func TestRootCreateSudoCallersFolder(t *testing.T) {
	needsChown(t)
	dir := t.TempDir()
	shared := filepath.Join(dir, "tmp")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	const caller, other = 54322, 54323
	for uid, name := range map[int]string{caller: "proj", other: "theirs"} {
		p := filepath.Join(shared, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SUDO_UID", strconv.Itoa(caller))
	r := &envRun{}
	if err := r.mkdirAll(planner.MkdirAll{Path: filepath.Join(shared, "proj", "cache"), Mode: 0o755}); err != nil {
		t.Errorf("the sudo caller's own folder: %v", err)
	}
	r.madeDirs = nil // kept: the test's folder goes with it
	r = &envRun{}
	err := r.mkdirAll(planner.MkdirAll{Path: filepath.Join(shared, "theirs", "cache"), Mode: 0o755})
	if err == nil || !strings.Contains(err.Error(), "uid 54323") {
		t.Errorf("another uid's folder under sudo: %v, want refused", err)
	}
	r.removeMadeDirs()
}

// TestRootCreateNonStickyRefused: in a folder every user may write to
// that is not sticky, anyone may rename a folder and put their own in its
// place, root's too, between apply's mkdir and the bind's open_tree by
// path (helper-134's review: another uid renamed the cache root had
// just made in a 0777 folder and made its own; 28 of 40 root applies
// bound it and read its file). Such a folder on the way is refused, and
// nothing is made in it.
func TestRootCreateNonStickyRefused(t *testing.T) {
	needsChown(t)
	dir := t.TempDir()
	drop := filepath.Join(dir, "drop")
	if err := os.Mkdir(drop, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(drop, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(drop, "proj"), 0o755); err != nil { // root's
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(drop, "cache"), filepath.Join(drop, "proj", "data")} {
		r := &envRun{}
		err := r.mkdirAll(planner.MkdirAll{Path: p, Mode: 0o755})
		if err == nil || !strings.Contains(err.Error(), "not sticky") {
			t.Errorf("%s, in a folder every user may write to, not sticky: %v, want refused", p, err)
		}
		r.removeMadeDirs()
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was made", p)
		}
	}
}

// needsChown skips a test that chowns, as anyone but root, and fails it
// under CI=true (skipOrFail's rule; that helper is executor_test's).
func needsChown(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: needs root (chown)")
		}
		t.Skip("needs root (chown)")
	}
}
