package executor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nsup/nsup/planner"
)

// The folders create: true made are removed on rollback only if they are
// still the folders made: a symlink swapped into the path since (by root
// in another environment whose tree the path crosses) led the removal by
// path to an empty host folder of the same name (found by a review).
func TestRemoveMadeDirsSwapped(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	os.Mkdir(shared, 0o755)
	host := filepath.Join(dir, "host")
	os.MkdirAll(filepath.Join(host, "data"), 0o755)
	r := &envRun{}
	if err := r.mkdirAll(planner.MkdirAll{Path: filepath.Join(shared, "app", "data"), Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if len(r.madeDirs) != 2 {
		t.Fatalf("made %v, want app and app/data", r.madeDirs)
	}
	os.Rename(filepath.Join(shared, "app"), filepath.Join(shared, "app.moved"))
	os.Symlink(host, filepath.Join(shared, "app"))
	r.removeMadeDirs()
	if _, err := os.Stat(filepath.Join(host, "data")); err != nil {
		t.Errorf("the rollback removed %s, through the symlink swapped in: %v", filepath.Join(host, "data"), err)
	}
	// Not swapped: removed, deepest first.
	r = &envRun{}
	made := filepath.Join(dir, "made", "deep")
	if err := r.mkdirAll(planner.MkdirAll{Path: made, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	r.removeMadeDirs()
	if _, err := os.Lstat(filepath.Join(dir, "made")); err == nil {
		t.Errorf("the rollback left %s", filepath.Join(dir, "made"))
	}
}
