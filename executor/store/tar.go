package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// tarLimits bound what one archive may unpack into (planner.TarMax*);
// tests lower them.
var tarLimits = planner.TarDefaultLimits

// errTarRefused is an archive nsup will not unpack: planner.WalkTar's
// refusals, and what the unpacker itself refuses should the walk ever let
// it through.
var errTarRefused = planner.ErrTarRefused

// beneath resolves a path inside the tree being unpacked and nowhere else:
// no symlink is followed at all (the tree's own symlinks point where they
// point once it is an environment's root, never while nsup writes it), no
// "..", no magic link, no other mount (openat2(2)).
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// extractTar unpacks the archive at archive into the empty folder dir,
// refusing it unless its sha256 is want (it is read once, hashed as it is
// unpacked: an archive replaced since the plan cannot slip into the cache
// under the old digest).
//
// What the tree holds is what planner.WalkTar hands over, the very members
// planner.TarFiles lists for nsup lock: the walker applies every rule
// (names, modes, skipped types, bounds, hard links, duplicates, a member
// replacing a folder) and every refusal; the unpacker only creates what it
// is handed, and creates it safely: every name relative to a folder fd
// resolved with beneath, so that no member can write outside dir whatever
// the archive holds, and a folder is never removed. Extended attributes
// (file capabilities among them) are not restored. Owners are restored
// when nsup runs as root (the cache is root's alone).
//
// It returns the number of files written and their bytes.
//
// The archive is opened only if it is a regular file (planner.OpenFile,
// as the plan hashed it): one in a folder an environment may write (a dev
// box's project) may be swapped, after the plan, for a FIFO (whose open
// blocked apply for good) or a link to a device (/dev/zero was read for
// good; a watchdog arms when opened).
func extractTar(ctx context.Context, archive, want, dir string, idx *planner.Index) (int, int64, error) {
	f, err := planner.OpenFile(archive)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var before syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &before); err != nil {
		return 0, 0, err
	}
	h := sha256.New()
	r := io.TeeReader(f, h)
	rootfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	u := &unpacker{rootfd: rootfd, lastFd: -1, chown: os.Geteuid() == 0, rootMode: 0o755}
	defer u.close()
	// What the tree has at the files of /etc the plan may generate or
	// read, recorded with the digest: the plan's next look at the
	// archive.
	var etc planner.TarEtc
	err = tarLimits.Walk(r, func(m planner.TarMember, content io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		content, err := etc.Add(m, content)
		if err != nil {
			return err
		}
		return u.member(m, content)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", archive, err)
	}
	// Every byte of the file counts in its digest, past the tar stream's
	// end too; the rest is read raw (not decompressed: it cannot be a bomb).
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, 0, err
	}
	got := digest(h)
	if got != want {
		return 0, 0, fmt.Errorf("%w: %s is now %s, the plan has %s", errRootfsChanged, archive, got, want)
	}
	if err := u.finish(); err != nil {
		return 0, 0, err
	}
	var after syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &after) == nil {
		idx.ObserveTar(archive, &before, &after, got, &etc)
	}
	// One flush of the filesystem rather than an fsync(2) per member: a
	// crash must not leave a complete-looking entry with empty files.
	if err := unix.Syncfs(rootfd); err != nil {
		return 0, 0, err
	}
	return u.files, u.bytes, nil
}

// unpacker is one archive being unpacked.
type unpacker struct {
	rootfd int
	// lastDir/lastFd: the folder of the previous member, held open, since
	// members of one folder come together.
	lastDir string
	lastFd  int
	chown   bool
	// dirs get their modes, owners and times once everything is in them
	// (a read-only folder must be filled first).
	dirs     []planner.TarMember
	dirAt    map[string]int // name -> index in dirs: a later member replaces
	rootMode uint32
	files    int
	bytes    int64
}

func (u *unpacker) close() {
	if u.lastFd >= 0 {
		unix.Close(u.lastFd)
	}
	unix.Close(u.rootfd)
}

// member creates one member the walker handed over.
func (u *unpacker) member(m planner.TarMember, r io.Reader) error {
	if m.Name == "" { // the root folder itself
		if m.Type == planner.TarDir {
			u.rootMode = m.Mode
			m.Name = "."
			u.addDir(m)
		}
		return nil
	}
	pfd, name, err := u.parent(m.Name)
	if err != nil {
		return err
	}
	switch m.Type {
	case planner.TarDir:
		// Unless there already (listed before, or implicit).
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := u.clear(pfd, name); err != nil {
				return err
			}
			if err := unix.Mkdirat(pfd, name, 0o700); err != nil {
				return err
			}
			if m.Implicit {
				// 0755 whatever the umask, as the walker says.
				return unix.Fchmodat(pfd, name, m.Mode, 0)
			}
		}
		if !m.Implicit {
			u.addDir(m)
		}
		return nil
	case planner.TarSymlink:
		if err := u.clear(pfd, name); err != nil {
			return err
		}
		if err := unix.Symlinkat(m.Link, pfd, name); err != nil {
			return err
		}
	case planner.TarHardlink:
		return u.hardlink(m, pfd, name)
	case planner.TarFile:
		if err := u.clear(pfd, name); err != nil {
			return err
		}
		fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), name)
		n, err := io.Copy(f, r)
		if err == nil && n != m.Size {
			err = fmt.Errorf("%d bytes read, the header says %d: %w", n, m.Size, io.ErrUnexpectedEOF)
		}
		if err == nil {
			err = unix.Fchmod(fd, m.Mode)
		}
		f.Close()
		if err != nil {
			return err
		}
		u.files++
		u.bytes += n
	default:
		return fmt.Errorf("type %q: %w", m.Type, errTarRefused)
	}
	return u.attrs(pfd, name, m)
}

// addDir records a folder for finish; of a folder listed twice, the later
// member holds (as in planner.TarFiles), at the first's place.
func (u *unpacker) addDir(m planner.TarMember) {
	if i, ok := u.dirAt[m.Name]; ok {
		u.dirs[i] = m
		return
	}
	if u.dirAt == nil {
		u.dirAt = map[string]int{}
	}
	u.dirAt[m.Name] = len(u.dirs)
	u.dirs = append(u.dirs, m)
}

// attrs sets the owner (as root) and the modification time of pfd/name,
// never following a symlink.
func (u *unpacker) attrs(pfd int, name string, m planner.TarMember) error {
	if u.chown {
		if err := unix.Fchownat(pfd, name, m.Uid, m.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	ts := unix.NsecToTimespec(m.ModTime.UnixNano())
	return unix.UtimesNanoAt(pfd, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// clear makes room for a member: an earlier member of the same name is
// removed, unless it is a folder (the walker refuses that already; its
// contents would go with it).
func (u *unpacker) clear(pfd int, name string) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == unix.ENOENT:
		return nil
	case err != nil:
		return err
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return fmt.Errorf("replaces a folder: %w", errTarRefused)
	}
	return unix.Unlinkat(pfd, name, 0)
}

// hardlink links pfd/name to the earlier file of the archive m.Link names.
func (u *unpacker) hardlink(m planner.TarMember, pfd int, name string) error {
	if m.Link == "" || m.Link == m.Name {
		return fmt.Errorf("a hard link to %q: %w", m.Link, errTarRefused)
	}
	dir, tname := path.Split(m.Link)
	notEarlier := fmt.Errorf("a hard link to %q, which is not an earlier file of the archive: %w", m.Link, errTarRefused)
	tfd, err := u.openDir(dir)
	if err == unix.ENOENT {
		return notEarlier
	}
	if err != nil {
		return fmt.Errorf("a hard link to %q: %w", m.Link, err)
	}
	defer closeUnlessRoot(tfd, u.rootfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tname, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return notEarlier
	}
	if err := u.clear(pfd, name); err != nil {
		return err
	}
	// flags 0: linkat(2) does not follow tname, and tfd was resolved
	// beneath the root: the new name can only be one more name of a file
	// this archive made.
	return unix.Linkat(tfd, tname, pfd, name, 0)
}

// parent returns an fd of the folder holding rel (the walker has handed
// it over already) and rel's last name.
func (u *unpacker) parent(rel string) (int, string, error) {
	dir, name := path.Split(rel)
	if u.lastFd >= 0 && dir == u.lastDir {
		return u.lastFd, name, nil
	}
	fd, err := u.openDir(dir)
	if err != nil {
		return -1, "", err
	}
	if u.lastFd >= 0 {
		closeUnlessRoot(u.lastFd, u.rootfd)
	}
	u.lastDir, u.lastFd = dir, fd
	return fd, name, nil
}

func closeUnlessRoot(fd, root int) {
	if fd != root {
		unix.Close(fd)
	}
}

// openDir resolves the folder dir ("" or "a/b/") beneath the root. It
// creates nothing: the walker hands every folder over before what it
// holds.
func openDir(rootfd int, dir string) (int, error) {
	comps, err := Components("/" + dir)
	if err != nil {
		return -1, err
	}
	if len(comps) == 0 {
		return rootfd, nil
	}
	fd, err := unix.Openat2(rootfd, dir, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: beneath})
	switch err {
	case nil:
		return fd, nil
	case unix.ELOOP:
		return -1, fmt.Errorf("%q passes through a symlink, which nsup never follows while unpacking: %w", "/"+dir, errTarRefused)
	case unix.ENOTDIR:
		return -1, fmt.Errorf("%q passes through something that is not a folder: %w", "/"+dir, errTarRefused)
	case unix.EXDEV:
		return -1, fmt.Errorf("%q crosses a mount: %w", "/"+dir, errTarRefused)
	}
	return -1, err
}

func (u *unpacker) openDir(dir string) (int, error) { return openDir(u.rootfd, dir) }

// finish gives the folders their modes, owners and times, deepest (last
// seen) first, and the root its mode.
func (u *unpacker) finish() error {
	if u.lastFd >= 0 {
		closeUnlessRoot(u.lastFd, u.rootfd)
		u.lastFd = -1
	}
	for i := len(u.dirs) - 1; i >= 0; i-- {
		m := u.dirs[i]
		fd := u.rootfd
		if m.Name != "." {
			var err error
			fd, err = unix.Openat2(u.rootfd, m.Name, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: beneath})
			if err != nil {
				return fmt.Errorf("%q: %w", "/"+m.Name, err)
			}
		}
		err := u.dirAttrs(fd, m)
		closeUnlessRoot(fd, u.rootfd)
		if err != nil {
			return fmt.Errorf("%q: %w", "/"+m.Name, err)
		}
	}
	return unix.Fchmod(u.rootfd, u.rootMode)
}

func (u *unpacker) dirAttrs(fd int, m planner.TarMember) error {
	if u.chown {
		if err := unix.Fchown(fd, m.Uid, m.Gid); err != nil {
			return err
		}
	}
	if err := unix.Fchmod(fd, m.Mode); err != nil {
		return err
	}
	// futimens(3): utimensat(2) with a NULL path sets the times of fd.
	ts := [2]unix.Timespec{unix.NsecToTimespec(m.ModTime.UnixNano())}
	ts[1] = ts[0]
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		return e
	}
	return nil
}
