// Package owndir checks that a folder nsup keeps what it trusts in (the
// state directory, a project's and its volumes, the cache and its index)
// is the caller's alone: whoever else could write there, or replace it,
// could plant what nsup then uses (a control socket nsup exec hands the
// caller's stdio to, a state whose pid nsup down signals, a cache entry
// that runs as root inside).
package owndir

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Check refuses the folder d, a what ("state directory", "cache folder"),
// unless it is a folder of the caller's uid that no other may write to,
// nor a group but the caller's private one (privateGroup), and no folder
// on the way to it (on its path as given and with its symlinks resolved)
// lets anyone but root and the caller replace it: one that others (or a
// group with another member) may write to without the sticky bit of
// /tmp, or another user's. A missing folder is an error that errors.Is fs.ErrNotExist.
func Check(what, d string) error {
	d, err := filepath.Abs(d)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(d)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(real, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: real, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || othersWrite(&st) {
		return fmt.Errorf("%s %s is not a folder of uid %d that only it can write to (mode %#o, uid %d): %w",
			what, d, os.Geteuid(), st.Mode&0o7777, st.Uid, unix.EPERM)
	}
	for _, p := range []string{d, real} {
		for a := filepath.Dir(p); ; a = filepath.Dir(a) {
			if err := unix.Stat(a, &st); err != nil {
				return &os.PathError{Op: "stat", Path: a, Err: err}
			}
			if uid := int(st.Uid); uid != 0 && uid != os.Geteuid() || othersWrite(&st) && st.Mode&unix.S_ISVTX == 0 {
				return fmt.Errorf("%s %s is in %s, which others may change (mode %#o, uid %d): they could put another folder in its place: %w",
					what, d, a, st.Mode&0o7777, st.Uid, unix.EPERM)
			}
			if a == "/" {
				break
			}
		}
	}
	return nil
}

// othersWrite says whether someone else than the owner of the file st
// may write to it: others, or its group unless the owner is its only
// member (a user private group with umask 002).
func othersWrite(st *unix.Stat_t) bool {
	return st.Mode&0o002 != 0 || st.Mode&0o020 != 0 && !privateGroup("/", st.Uid, st.Gid)
}
