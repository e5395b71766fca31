package executor

// The host steps that make folders to be bound: a named volume's
// (planner.Volume) and a bind's source with create: true
// (planner.MkdirAll). What an apply made is removed, if still empty, when
// the apply fails (removeState).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/internal/owndir"
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
	if filepath.Dir(op.Lock) != filepath.Dir(op.Path) {
		return fmt.Errorf("volume %s: its lock %s is not beside it: %w", op.Name, op.Lock, unix.EINVAL)
	}
	// The parents (nsup's volume folder, the project's) are recorded as
	// made, for a rollback to remove (found by a review: a failed apply
	// left an empty /var/lib/nsup/volumes/PROJECT behind).
	if err := r.mkdirParents(filepath.Dir(op.Path)); err != nil {
		return err
	}
	// nsup's volume folder and the project's are this user's alone:
	// whoever else could write either could swap a volume for theirs.
	if err := lifecycle.CheckVolumeProjectDir(filepath.Dir(op.Path)); err != nil {
		return fmt.Errorf("volume %s: %w", op.Name, err)
	}
	if err := r.lockVolume(op); err != nil {
		return err
	}
	err := unix.Mkdir(op.Path, op.Mode)
	if err != nil && err != unix.EEXIST {
		return err
	}
	made := err == nil
	fd, err := unix.Open(op.Path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("volume %s: %s is not a folder (a symlink is refused): %w", op.Name, op.Path, err)
	}
	defer unix.Close(fd)
	if !made {
		return nil
	}
	if r.recordMade(op.Path, fd) {
		r.madeDirs[len(r.madeDirs)-1].lock = op.Lock
	}
	if err := unix.Fchmod(fd, op.Mode); err != nil { // whatever the umask made of it
		return err
	}
	if op.UID >= 0 || op.GID >= 0 {
		return unix.Fchown(fd, op.UID, op.GID)
	}
	return nil
}

// lockVolume opens (makes) the volume's lock file and locks it shared,
// held in r.volLocks until the environment ends (closeVolLocks): while
// it is held, nsup volume rm and down --volumes, which lock it
// exclusive, refuse the volume. Found by a review: they removed a volume
// a foreground environment was using (only detached ones are recorded).
// A lock file unlinked meanwhile (the volume removed) fails the apply.
// A lock file this apply made is recorded, for a rollback to remove if
// the volume's folder is not there (found by a review: a step that
// failed between the two left the lock, and so the project's folder).
func (r *envRun) lockVolume(op planner.Volume) error {
	f, err := os.OpenFile(op.Lock, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err == nil {
		if r.recordMade(op.Lock, int(f.Fd())) {
			r.madeDirs[len(r.madeDirs)-1].volume = op.Path
		}
	} else if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(op.Lock, os.O_RDWR|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return fmt.Errorf("volume %s: %w", op.Name, err)
	}
	if err := LockVolume(f, false); err != nil {
		f.Close()
		return fmt.Errorf("volume %s: %w", op.Name, err)
	}
	r.volLocks = append(r.volLocks, f)
	if r.env != nil {
		recordVolumeUser(f, r.env.Name)
	}
	return nil
}

// LockVolume locks a volume's lock file, open as f, shared or exclusive,
// without waiting; and checks that it is still the file at its path (not
// one a volume rm unlinked while this nsup waited for it).
func LockVolume(f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		if err == unix.EWOULDBLOCK {
			what := "being removed (nsup volume rm)"
			if exclusive {
				what = "in use"
			}
			return fmt.Errorf("%s is %s: %w", f.Name(), what, err)
		}
		return err
	}
	var held, now unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &held); err != nil {
		return err
	}
	if err := unix.Lstat(f.Name(), &now); err != nil || now.Dev != held.Dev || now.Ino != held.Ino {
		return fmt.Errorf("%s was removed meanwhile (nsup volume rm): %w", f.Name(), unix.ESTALE)
	}
	return nil
}

// closeVolLocks lets go of the volumes' locks: the environment has ended
// (or is taken back, or left to its record: detached).
func (r *envRun) closeVolLocks() {
	for _, f := range r.volLocks {
		f.Close()
	}
	r.volLocks = nil
}

// mkdirParents makes dir and its missing parents, 0700, recording those
// it made (top first) for a rollback to remove, if still empty.
func (r *envRun) mkdirParents(dir string) error {
	var missing []string
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		err := unix.Mkdir(d, 0o700)
		if err == unix.EEXIST {
			continue // made meanwhile by someone else: theirs
		}
		if err != nil {
			return &os.PathError{Op: "mkdir", Path: d, Err: err}
		}
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: d, Err: err}
		}
		r.recordMade(d, fd)
		unix.Close(fd)
	}
	return nil
}

// mkdirAll makes a bind's source folder and its missing parents, as
// mkdir -p does, and records those it made. Each folder is made in, and
// opened beneath, the fd of its parent, with no symlink followed
// (RESOLVE_NO_SYMLINKS, as the bind that follows resolves the path): a
// folder on the way swapped for a symlink (by root inside another
// environment whose tree the path crosses) would otherwise lead the mkdir
// anywhere on the host.
func (r *envRun) mkdirAll(op planner.MkdirAll) error {
	if err := absolute(op.Path); err != nil {
		return err
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer func() { unix.Close(fd) }()
	at := "/"
	for _, name := range strings.Split(strings.Trim(op.Path, "/"), "/") {
		if name == "" || name == "." || name == ".." {
			return fmt.Errorf("%s: not a clean path: %w", op.Path, unix.EINVAL)
		}
		if err := nonSticky(fd, at); err != nil {
			return err
		}
		at = filepath.Join(at, name)
		how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_BENEATH}
		next, err := unix.Openat2(fd, name, how)
		made := false
		if err == unix.ENOENT {
			switch err := unix.Mkdirat(fd, name, op.Mode); err {
			case nil:
				made = true
			case unix.EEXIST: // made meanwhile by someone else: theirs
			default:
				return &os.PathError{Op: "mkdir", Path: at, Err: err}
			}
			next, err = unix.Openat2(fd, name, how)
		}
		if err == unix.ELOOP {
			return symlinkNow(at)
		}
		if err != nil {
			return &os.PathError{Op: "open", Path: at, Err: err}
		}
		if !made {
			if err := othersFolder(fd, next, at); err != nil {
				unix.Close(next)
				return err
			}
		}
		if made {
			r.recordMade(at, next)
			// Its mode whatever the umask made of it: under umask 077 a
			// folder made 0700 was one root inside, mapped to another
			// uid, could not open (helper-122's review: planned, then
			// EACCES at open_tree). Through the O_PATH fd's magic link:
			// that very folder.
			if err := unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(next), op.Mode, 0); err != nil {
				unix.Close(next)
				return &os.PathError{Op: "chmod", Path: at, Err: err}
			}
		}
		unix.Close(fd)
		fd = next
	}
	return nil
}

// othersFolder refuses the folder at (open as fd, in its parent's fd
// parent) that stood before apply, made by a uid other than root, nsup's
// own, under sudo the caller's (SUDO_UID, whose spec and .env nsup
// trusts: spec.Untrusted; a project checked out in /tmp) and the
// parent's owner (whose folder it is to give), in a folder another user
// may write to (othersWrite: every user, as /tmp; a group with another
// member; one its ACL names). One not sticky is refused before, by
// nonSticky. Whoever made it first, where create: true said apply would,
// chose what the environment sees there and reads what it writes
// (helper-131's review: a root environment sourced a script the other
// user had put in such a folder, as root inside, and wrote its token
// there for them).
func othersFolder(parent, fd int, at string) error {
	var st, pst unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: at, Err: err}
	}
	if trusted(st.Uid) {
		return nil
	}
	if err := unix.Fstat(parent, &pst); err != nil {
		return &os.PathError{Op: "fstat", Path: filepath.Dir(at), Err: err}
	}
	if st.Uid == pst.Uid {
		return nil // its owner's to give, as the folder it is in
	}
	who, err := othersWrite(parent, &pst, filepath.Dir(at))
	if err != nil || who == "" {
		return err // its owner's to give, where only they may make it
	}
	return explained{fmt.Sprintf("%s stands already, made by uid %d in %s, which %s may write to: whoever made it first chooses what the environment sees there and reads what it writes; remove it, or bind a folder of your own", at, st.Uid, filepath.Dir(at), who), unix.EPERM}
}

// nonSticky refuses a folder on the way (dir, open as fd) that another
// user may write to (othersWrite) and is not sticky: they may rename
// what is in it, root's too, and put their own folder in its place
// between the mkdir and the bind's open_tree, which resolves the path
// again (helper-134's review: another uid did so in a 0777 folder, and
// 28 of 40 root applies bound its folder and read its file). A group's
// members may as others do: a folder 2775 of a group another user is in
// (a team's), or one whose ACL lets another user or such a group write
// (setfacl -m u:bob:rwx), is refused as a 0777 one is (helper-150).
func nonSticky(fd int, dir string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: dir, Err: err}
	}
	if st.Mode&unix.S_ISVTX != 0 {
		return nil
	}
	who, err := othersWrite(fd, &st, dir)
	if err != nil || who == "" {
		return err
	}
	if who == "every user" {
		return explained{fmt.Sprintf("%s, on the way, is a folder every user may write to, not sticky (mode %04o): anyone may put another folder in the place of the one apply makes or finds there before it is bound; make it sticky (chmod +t %s), or bind a folder of your own", dir, st.Mode&0o7777, dir), unix.EPERM}
	}
	return explained{fmt.Sprintf("%s, on the way, is a folder %s may write to, not sticky (mode %04o): they may put another folder in the place of the one apply makes or finds there before it is bound; make it sticky (chmod +t %s), take their write away (chmod g-w %s, which also masks an ACL's entries), or bind a folder of your own", dir, who, st.Mode&0o7777, dir, dir), unix.EPERM}
}

// trusted says whether uid is root, nsup's own, or (under sudo) the
// caller's: the uids whose folders apply takes as its own.
func trusted(uid uint32) bool {
	return uid == 0 || int(uid) == os.Geteuid() || uid == planner.CallerUID()
}

// othersWrite says who, but the folder's owner, root, nsup's uid and the
// sudo caller (trusted), may write to the folder dir, open as fd, with
// st its stat: "" if nobody (owndir.OthersWrite: every user; a group,
// unless it is the private group of one of them, its only member in the
// account files; a user or group its ACL names, through its mask). Its
// ACL is read through the fd's magic link: that very folder.
func othersWrite(fd int, st *unix.Stat_t, dir string) (string, error) {
	who, err := owndir.OthersWrite("/proc/self/fd/"+strconv.Itoa(fd), st, 0, uint32(os.Geteuid()), planner.CallerUID())
	if err != nil {
		return "", &os.PathError{Op: "getxattr", Path: dir, Err: err}
	}
	return who, nil
}

// madeDir is a folder this apply made: its path, and what it is (device
// and inode), so that a rollback removes that very folder and no other
// that a symlink swapped in on the way since leads to.
type madeDir struct {
	path     string
	dev, ino uint64
	lock     string // a volume's lock file, removed with it
	// volume: path is not a folder but the lock file of the volume at
	// volume, removed if no folder is there.
	volume string
}

// recordMade records the folder at path, open as fd, as made by this
// apply; false if it could not be.
func (r *envRun) recordMade(path string, fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	r.madeDirs = append(r.madeDirs, madeDir{path: path, dev: st.Dev, ino: st.Ino})
	return true
}

// removeMadeDirs removes the folders this apply made, deepest first, each
// only if empty; a volume only if nobody else uses it (its lock taken
// exclusive, this apply's own let go first), with its lock file; a lock
// file it made, so, if its volume's folder is not there.
func (r *envRun) removeMadeDirs() {
	r.closeVolLocks()
	for i := len(r.madeDirs) - 1; i >= 0; i-- {
		d := r.madeDirs[i]
		if d.volume != "" {
			removeMadeLock(d)
			continue
		}
		var lock *os.File
		if d.lock != "" {
			f, err := os.OpenFile(d.lock, os.O_RDWR|unix.O_NOFOLLOW, 0)
			if err != nil {
				continue
			}
			if LockVolume(f, true) != nil {
				f.Close()
				continue // used by another environment meanwhile: theirs now
			}
			lock = f
		}
		// In its parent's fd, and only if it is still the folder made
		// (found by a review: by path, a rollback removed an empty host
		// folder a symlink swapped into the path led to, and left its own).
		pfd, err := unix.Open(filepath.Dir(d.path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			var st unix.Stat_t
			name := filepath.Base(d.path)
			if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Dev == d.dev && st.Ino == d.ino &&
				unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR) == nil && lock != nil {
				unix.Unlinkat(pfd, filepath.Base(d.lock), 0)
			}
			unix.Close(pfd)
		}
		if lock != nil {
			lock.Close()
		}
	}
	r.madeDirs = nil
}

// removeMadeLock removes the lock file d of a volume, made by this apply,
// if it is still the file made, nobody holds it (taken exclusive, as
// volume rm does) and its volume has no folder: the step failed before
// it made one, or a rollback removed it.
func removeMadeLock(d madeDir) {
	f, err := os.OpenFile(d.path, os.O_RDWR|unix.O_NOFOLLOW, 0)
	if err != nil {
		return
	}
	defer f.Close()
	var st, vol unix.Stat_t
	if LockVolume(f, true) != nil || unix.Fstat(int(f.Fd()), &st) != nil || st.Dev != d.dev || st.Ino != d.ino {
		return
	}
	if err := unix.Lstat(d.volume, &vol); err == nil && vol.Mode&unix.S_IFMT == unix.S_IFDIR {
		return // the volume's: kept
	}
	os.Remove(d.path) // the lock held: LockVolume's check at path holds
}
