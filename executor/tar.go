package executor

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
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
var tarLimits = struct {
	file, total int64
	entries     int
}{planner.TarMaxFileSize, planner.TarMaxTotalSize, planner.TarMaxEntries}

// errTarRefused is an archive nsup will not unpack.
var errTarRefused = errors.New("archive refused")

// beneath resolves a path inside the tree being unpacked and nowhere else:
// no symlink is followed at all (the tree's own symlinks point where they
// point once it is an environment's root, never while nsup writes it), no
// "..", no magic link, no other mount (openat2(2)).
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// extractTar unpacks the archive at archive into the empty folder dir,
// refusing it unless its sha256 is want (it is read once, hashed as it is
// unpacked: an archive replaced since the plan cannot slip into the cache
// under the old digest). Every name is created relative to a folder fd
// resolved with beneath, so no member can write outside dir, whatever it
// holds:
//
//   - absolute names are taken relative to the tree's root; a ".." in a
//     name or a hard link's target refuses the archive;
//   - a member whose path passes through a symlink (say evil -> /etc, then
//     evil/passwd) refuses the archive: nothing is ever followed;
//   - a hard link must point to an earlier file of the archive;
//   - device nodes and FIFOs are skipped; setuid and setgid bits dropped;
//     extended attributes (file capabilities among them) are not restored;
//   - a member larger than tarLimits.file, a total beyond tarLimits.total
//     or more than tarLimits.entries members refuse the archive.
//
// Owners are restored when nsup runs as root (the cache is root's alone).
// It returns the number of members written and their bytes.
func extractTar(ctx context.Context, archive, want, dir string, idx *planner.Index) (int, int64, error) {
	f, err := os.Open(archive)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var before syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &before); err != nil {
		return 0, 0, err
	}
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 1<<16)
	s, err := planner.TarStream(br)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %w", archive, errTarRefused, err)
	}
	rootfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	u := &unpacker{rootfd: rootfd, lastFd: -1, chown: os.Geteuid() == 0, rootMode: 0o755}
	defer u.close()
	tr := tar.NewReader(s)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", archive, err)
		}
		if n >= tarLimits.entries {
			return 0, 0, fmt.Errorf("%s: more than %d members: %w", archive, tarLimits.entries, errTarRefused)
		}
		if err := u.member(hdr, tr); err != nil {
			return 0, 0, fmt.Errorf("%s: member %q: %w", archive, hdr.Name, err)
		}
	}
	// Every byte of the file counts in its digest, past the tar stream's
	// end too; the rest is read raw (not decompressed: it cannot be a bomb).
	if _, err := io.Copy(io.Discard, br); err != nil {
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
		idx.Observe(archive, &before, &after, got)
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
	dirs     []*tar.Header
	dirAt    map[string]int // name -> index in dirs: a later member replaces
	rootMode uint32
	files    int
	bytes    int64
	total    int64
}

func (u *unpacker) close() {
	if u.lastFd >= 0 {
		unix.Close(u.lastFd)
	}
	unix.Close(u.rootfd)
}

func (u *unpacker) member(h *tar.Header, r io.Reader) error {
	if planner.TarSkipped(h.Typeflag) {
		return nil
	}
	rel, err := planner.TarName(h.Name)
	if err != nil {
		return fmt.Errorf("%w: %w", errTarRefused, err)
	}
	if rel == "" { // the root folder itself
		if h.Typeflag == tar.TypeDir {
			u.rootMode = planner.TarMode(h)
			hc := *h
			hc.Name = "."
			u.addDir(&hc)
		}
		return nil
	}
	pfd, name, err := u.parent(rel)
	if err != nil {
		return err
	}
	switch {
	case h.Typeflag == tar.TypeDir:
		// Unless seen before, or made for a member below it.
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := u.clear(pfd, name); err != nil {
				return err
			}
			if err := unix.Mkdirat(pfd, name, 0o700); err != nil {
				return err
			}
		}
		hc := *h
		hc.Name = rel
		u.addDir(&hc)
		return nil
	case h.Typeflag == tar.TypeSymlink:
		if err := u.clear(pfd, name); err != nil {
			return err
		}
		if err := unix.Symlinkat(h.Linkname, pfd, name); err != nil {
			return err
		}
	case h.Typeflag == tar.TypeLink:
		return u.hardlink(h, pfd, name)
	case planner.TarRegular(h.Typeflag):
		if h.Size > tarLimits.file || u.total+h.Size > tarLimits.total {
			return fmt.Errorf("%d bytes, more than nsup unpacks (%d per member, %d in all): %w", h.Size, tarLimits.file, tarLimits.total, errTarRefused)
		}
		u.total += h.Size
		if err := u.clear(pfd, name); err != nil {
			return err
		}
		fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), name)
		n, err := io.Copy(f, r)
		if err == nil {
			err = unix.Fchmod(fd, planner.TarMode(h))
		}
		f.Close()
		if err != nil {
			return err
		}
		u.files++
		u.bytes += n
	default:
		return fmt.Errorf("unsupported type %q: %w", h.Typeflag, errTarRefused)
	}
	return u.attrs(pfd, name, h)
}

// addDir records a folder's header for finish; of a folder listed twice,
// the later header holds (as in planner.TarFiles), at the first's place.
func (u *unpacker) addDir(h *tar.Header) {
	if i, ok := u.dirAt[h.Name]; ok {
		u.dirs[i] = h
		return
	}
	if u.dirAt == nil {
		u.dirAt = map[string]int{}
	}
	u.dirAt[h.Name] = len(u.dirs)
	u.dirs = append(u.dirs, h)
}

// attrs sets the owner (as root) and the modification time of pfd/name,
// never following a symlink.
func (u *unpacker) attrs(pfd int, name string, h *tar.Header) error {
	if u.chown {
		if err := unix.Fchownat(pfd, name, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	ts := unix.NsecToTimespec(h.ModTime.UnixNano())
	return unix.UtimesNanoAt(pfd, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// clear makes room for a member: an earlier member of the same name is
// removed, unless it is a folder (its contents would go with it).
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

// hardlink links pfd/name to an earlier file of the archive.
func (u *unpacker) hardlink(h *tar.Header, pfd int, name string) error {
	t, err := planner.TarName(h.Linkname)
	if err != nil {
		return fmt.Errorf("a hard link: %w: %w", errTarRefused, err)
	}
	if t == "" {
		return fmt.Errorf("a hard link to the root: %w", errTarRefused)
	}
	dir, tname := path.Split(t)
	notEarlier := fmt.Errorf("a hard link to %q, which is not an earlier file of the archive: %w", h.Linkname, errTarRefused)
	tfd, err := u.openDir(dir, false)
	if err == unix.ENOENT {
		return notEarlier
	}
	if err != nil {
		return fmt.Errorf("a hard link to %q: %w", h.Linkname, err)
	}
	defer closeUnlessRoot(tfd, u.rootfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tname, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return notEarlier
	}
	if self, _ := planner.TarName(h.Name); self == t {
		return nil // a link to itself: the file stays (planner.TarFiles)
	}
	if err := u.clear(pfd, name); err != nil {
		return err
	}
	// flags 0: linkat(2) does not follow tname, and tfd was resolved
	// beneath the root: the new name can only be one more name of a file
	// this archive made.
	return unix.Linkat(tfd, tname, pfd, name, 0)
}

// parent returns an fd of the folder holding rel (made if missing) and
// rel's last name.
func (u *unpacker) parent(rel string) (int, string, error) {
	dir, name := path.Split(rel)
	if u.lastFd >= 0 && dir == u.lastDir {
		return u.lastFd, name, nil
	}
	fd, err := u.openDir(dir, true)
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

// openDir resolves the folder dir ("" or "a/b/") beneath the root, making
// the missing ones (0755) when create is set, one name at a time relative
// to the fd of the folder above it.
func (u *unpacker) openDir(dir string, create bool) (int, error) {
	comps, err := components("/" + dir)
	if err != nil {
		return -1, err
	}
	if len(comps) == 0 {
		return u.rootfd, nil
	}
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: beneath}
	fd, err := unix.Openat2(u.rootfd, dir, how)
	if err == unix.ENOENT && create {
		cur := u.rootfd
		for _, c := range comps {
			fd, err = unix.Openat2(cur, c, how)
			if err == unix.ENOENT {
				// 0755 whatever the umask, as planner.TarFiles lists it.
				if err = unix.Mkdirat(cur, c, 0o755); err == nil {
					if err = unix.Fchmodat(cur, c, 0o755, 0); err == nil {
						fd, err = unix.Openat2(cur, c, how)
					}
				}
			}
			closeUnlessRoot(cur, u.rootfd)
			if err != nil {
				break
			}
			cur = fd
		}
	}
	switch err {
	case nil:
		return fd, nil
	case unix.ELOOP:
		return -1, fmt.Errorf("/%s passes through a symlink, which nsup never follows while unpacking: %w", dir, errTarRefused)
	case unix.ENOTDIR:
		return -1, fmt.Errorf("/%s passes through something that is not a folder: %w", dir, errTarRefused)
	case unix.EXDEV:
		return -1, fmt.Errorf("/%s crosses a mount: %w", dir, errTarRefused)
	}
	return -1, err
}

// finish gives the folders their modes, owners and times, deepest (last
// seen) first, and the root its mode.
func (u *unpacker) finish() error {
	if u.lastFd >= 0 {
		closeUnlessRoot(u.lastFd, u.rootfd)
		u.lastFd = -1
	}
	for i := len(u.dirs) - 1; i >= 0; i-- {
		h := u.dirs[i]
		fd := u.rootfd
		if h.Name != "." {
			var err error
			fd, err = unix.Openat2(u.rootfd, h.Name, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: beneath})
			if err != nil {
				return fmt.Errorf("/%s: %w", h.Name, err)
			}
		}
		err := u.dirAttrs(fd, h)
		closeUnlessRoot(fd, u.rootfd)
		if err != nil {
			return fmt.Errorf("/%s: %w", h.Name, err)
		}
	}
	return unix.Fchmod(u.rootfd, u.rootMode)
}

func (u *unpacker) dirAttrs(fd int, h *tar.Header) error {
	if u.chown {
		if err := unix.Fchown(fd, h.Uid, h.Gid); err != nil {
			return err
		}
	}
	if err := unix.Fchmod(fd, planner.TarMode(h)); err != nil {
		return err
	}
	// futimens(3): utimensat(2) with a NULL path sets the times of fd.
	ts := [2]unix.Timespec{unix.NsecToTimespec(h.ModTime.UnixNano())}
	ts[1] = ts[0]
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		return e
	}
	return nil
}
