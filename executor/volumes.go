package executor

// The host steps that make folders to be bound: a named volume's
// (planner.Volume) and a bind's source with create: true
// (planner.MkdirAll). What an apply made is removed, if still empty, when
// the apply fails (removeState).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// volume makes a named volume's folder if it is missing, with its mode
// and owner set through an fd of it (never a path that a symlink put in
// meanwhile could lead elsewhere); an existing one is used as it is, if
// it is a folder.
func (r *envRun) volume(op planner.Volume) error {
	if err := absolute(op.Path); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(op.Path), 0o700); err != nil {
		return err
	}
	// nsup's volume folder and the project's are this user's alone:
	// whoever else could write either could swap a volume for theirs.
	if err := lifecycle.CheckProjectDir(filepath.Dir(op.Path)); err != nil {
		return fmt.Errorf("volume %s: %w", op.Name, err)
	}
	err := unix.Mkdir(op.Path, op.Mode)
	if err != nil && err != unix.EEXIST {
		return err
	}
	made := err == nil
	if made {
		r.madeDirs = append(r.madeDirs, op.Path)
	}
	fd, err := unix.Open(op.Path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("volume %s: %s is not a folder (a symlink is refused): %w", op.Name, op.Path, err)
	}
	defer unix.Close(fd)
	if !made {
		return nil
	}
	if err := unix.Fchmod(fd, op.Mode); err != nil { // whatever the umask made of it
		return err
	}
	if op.UID >= 0 || op.GID >= 0 {
		return unix.Fchown(fd, op.UID, op.GID)
	}
	return nil
}

// mkdirAll makes a bind's source folder and its missing parents, as
// mkdir -p does, and records those it made.
func (r *envRun) mkdirAll(op planner.MkdirAll) error {
	if err := absolute(op.Path); err != nil {
		return err
	}
	var missing []string
	for p := op.Path; ; p = filepath.Dir(p) {
		_, err := os.Lstat(p)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		err := unix.Mkdir(missing[i], op.Mode)
		if err == unix.EEXIST {
			continue // made meanwhile by someone else: theirs
		}
		if err != nil {
			return err
		}
		r.madeDirs = append(r.madeDirs, missing[i])
	}
	return nil
}

// removeMadeDirs removes the folders this apply made, deepest first, each
// only if empty.
func (r *envRun) removeMadeDirs() {
	for i := len(r.madeDirs) - 1; i >= 0; i-- {
		unix.Rmdir(r.madeDirs[i])
	}
	r.madeDirs = nil
}
