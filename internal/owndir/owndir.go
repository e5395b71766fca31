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
	"strings"

	"golang.org/x/sys/unix"
)

// Check refuses the folder d, a what ("state directory", "cache folder"),
// unless it is a folder of the caller's uid that no other may write to,
// nor a group but the caller's private one (privateGroup), nor anyone its
// ACL names (OthersWrite), and no folder
// on the way to it (on its path as given and with its symlinks resolved)
// lets anyone but root and the caller replace it: one that others (or a
// group with another member) may write to without the sticky bit of
// /tmp, or another user's; nor is any symlink met on the way another
// user's (resolve). A missing folder is an error that errors.Is
// fs.ErrNotExist.
func Check(what, d string) error {
	d, err := filepath.Abs(d)
	if err != nil {
		return err
	}
	real, link, uid, links, err := resolve(d)
	if err != nil {
		return err
	} else if link != "" {
		return fmt.Errorf("%s %s is reached through the symlink %s of uid %d, who may point it elsewhere at any moment (everything nsup does after this check would follow it): %w",
			what, d, link, uid, unix.EPERM)
	}
	var st unix.Stat_t
	if err := unix.Lstat(real, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: real, Err: err}
	}
	who := ""
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if who, err = OthersWrite(real, &st); err != nil {
			return &os.PathError{Op: "getxattr", Path: real, Err: err}
		}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || who != "" {
		if who != "" {
			who = ", " + who + " may write to it"
		}
		return fmt.Errorf("%s %s is not a folder of uid %d that only it can write to (mode %#o, uid %d%s): %w",
			what, d, os.Geteuid(), st.Mode&0o7777, st.Uid, who, unix.EPERM)
	}
	// The folders a link met lies in too: one that another user may
	// change (not on d's path as given, nor on the resolved one) lets it
	// put a link of its own in place of root's or the caller's.
	for _, p := range append([]string{d, real}, links...) {
		for a := filepath.Dir(p); ; a = filepath.Dir(a) {
			if err := unix.Stat(a, &st); err != nil {
				return &os.PathError{Op: "stat", Path: a, Err: err}
			}
			who := ""
			if st.Mode&unix.S_ISVTX == 0 {
				if who, err = OthersWrite(a, &st); err != nil {
					return &os.PathError{Op: "getxattr", Path: a, Err: err}
				}
			}
			if uid := int(st.Uid); uid != 0 && uid != os.Geteuid() || who != "" {
				if who != "" {
					who = ", " + who + " may write to it"
				}
				return fmt.Errorf("%s %s is in %s, which others may change (mode %#o, uid %d%s): they could put another folder in its place: %w",
					what, d, a, st.Mode&0o7777, st.Uid, who, unix.EPERM)
			}
			if a == "/" {
				break
			}
		}
	}
	return nil
}

// resolve resolves the absolute path p as the kernel does (a link's
// target in place of its name, ".." after a link taken from its target)
// into real, and returns the first symlink met that is neither root's
// nor the caller's, and its owner (link, uid; then real is ""). links
// are the other symlinks met (root's or the caller's), whose folders
// Check checks as it does those on d's path. The folders on the way are
// checked by Check, not the links: another user's link in /tmp (the
// sticky bit lets its owner remove it, and put another in its place) was
// taken for the caller's state directory it led to when checked, and led
// to that user's own folder a moment later (found by a real run:
// TestRootCheckOthersLink). fs.protected_symlinks = 1 stops following
// such a link in a sticky folder, but it is 0 on some hosts, and a link
// of another user's elsewhere is followed whatever it says.
func resolve(p string) (real, link string, uid uint32, links []string, err error) {
	caller := uint32(os.Geteuid())
	cur, rest := "/", p
	for hops := 0; ; {
		rest = strings.TrimLeft(rest, "/")
		if rest == "" {
			return cur, "", 0, links, nil
		}
		var comp string
		comp, rest, _ = strings.Cut(rest, "/")
		switch comp {
		case ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, comp)
		var st unix.Stat_t
		if err := unix.Lstat(next, &st); err != nil {
			return "", "", 0, nil, &os.PathError{Op: "lstat", Path: next, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			cur = next
			continue
		}
		if st.Uid != 0 && st.Uid != caller {
			return "", next, st.Uid, nil, nil
		}
		if hops++; hops > 40 { // the kernel's limit (MAXSYMLINKS)
			return "", "", 0, nil, &os.PathError{Op: "resolve", Path: p, Err: unix.ELOOP}
		}
		links = append(links, next)
		target, err := os.Readlink(next)
		if err != nil {
			return "", "", 0, nil, err
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		rest = target + "/" + rest
	}
}
