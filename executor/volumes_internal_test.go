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

// A Volume step that fails after it made the volume's lock file, before
// the folder (a file is where the folder goes): its rollback removes the
// lock it made, and the project's folder it made, and nothing else.
// Found by a review: both were left behind (only folders were recorded).
func TestVolumeFailedLeavesNoLock(t *testing.T) {
	vols := filepath.Join(t.TempDir(), "volumes")
	op := planner.Volume{Name: "data", Path: planner.VolumePath(vols, "proj", "data"), Lock: planner.VolumeLockPath(vols, "proj", "data"), Mode: 0o755, UID: -1, GID: -1}
	// Made and rolled back: nothing is left.
	r := &envRun{}
	if err := r.volume(op); err != nil {
		t.Fatal(err)
	}
	r.removeMadeDirs()
	if _, err := os.Lstat(vols); !os.IsNotExist(err) {
		t.Fatalf("a rollback of a volume made left %s: %v", vols, err)
	}
	// A file where the folder goes, in a project folder already there:
	// the step fails after it made the lock.
	os.MkdirAll(filepath.Dir(op.Path), 0o700)
	if err := os.WriteFile(op.Path, []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = &envRun{}
	if err := r.volume(op); err == nil {
		t.Fatal("a volume whose path is a file was made")
	}
	r.removeMadeDirs()
	if _, err := os.Lstat(op.Lock); !os.IsNotExist(err) {
		t.Errorf("a failed Volume step left the lock it made, %s: %v", op.Lock, err)
	}
	if b, err := os.ReadFile(op.Path); err != nil || string(b) != "mine\n" {
		t.Errorf("the rollback touched the file at the volume's path: %q %v", b, err)
	}
	// A lock that was there before the step is not the step's: kept.
	os.WriteFile(op.Lock, nil, 0o600)
	r = &envRun{}
	if err := r.volume(op); err == nil {
		t.Fatal("a volume whose path is a file was made")
	}
	r.removeMadeDirs()
	if _, err := os.Lstat(op.Lock); err != nil {
		t.Errorf("a failed Volume step removed a lock it did not make: %v", err)
	}
	// A volume there already, its lock made by the step: the lock stays
	// with the volume.
	os.Remove(op.Path)
	os.Remove(op.Lock)
	os.Mkdir(op.Path, 0o700)
	r = &envRun{}
	if err := r.volume(op); err != nil {
		t.Fatal(err)
	}
	r.removeMadeDirs()
	if _, err := os.Lstat(op.Lock); err != nil {
		t.Errorf("a rollback removed the lock of a volume it did not make: %v", err)
	}
}
