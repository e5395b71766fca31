package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nsup/nsup/internal/fserr"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// errRootfsChanged is a closure input whose bytes are no longer those the
// plan recorded: the plan would not be what runs.
var errRootfsChanged = errors.New("rootfs input changed since plan")

// Rootfs performs the plan's rootfs step (executor.Apply calls it): it
// makes op.Path the environment's root tree. A closure or tar tree is a
// cache entry (cache.go): used as it is when there, else built (a closure
// from op.Files, a tar tree by unpacking the archive, tar.go) and renamed
// into place. The entry stays share-locked, so that no prune removes it,
// for as long as the caller keeps the returned file open (nil for a dir):
// until the environment ends. The digest index learns what this run
// hashed.
func Rootfs(ctx context.Context, op planner.Rootfs, idx *planner.Index) (*os.File, error) {
	var build func(ctx context.Context, tmp string) (entryMeta, error)
	switch op.Type {
	case "dir":
		return nil, isDir(op.Path)
	case "closure":
		build = func(ctx context.Context, tmp string) (entryMeta, error) {
			return buildClosure(ctx, op, tmp, idx)
		}
	case "tar":
		if len(op.Sources) != 1 {
			return nil, fmt.Errorf("a tar rootfs has one archive, the plan names %d: %w", len(op.Sources), unix.EINVAL)
		}
		build = func(ctx context.Context, tmp string) (entryMeta, error) {
			n, size, err := extractTar(ctx, op.Sources[0], op.Digest, tmp, idx)
			return entryMeta{Kind: op.Type, Digest: op.Digest, Sources: op.Sources, Files: n, Bytes: size}, err
		}
	default:
		return nil, fmt.Errorf("unknown rootfs kind %q: %w", op.Type, unix.EINVAL)
	}
	// The entry's name is its digest: a plan that says otherwise (edited
	// by hand) must not make nsup use or fill another folder.
	if want := strings.TrimPrefix(op.Digest, "sha256:"); filepath.Base(op.Path) != want || !isDigestName(want) {
		return nil, fmt.Errorf("rootfs path %s is not named by its digest %s: %w", op.Path, op.Digest, unix.EINVAL)
	}
	f, err := useEntry(ctx, op.Path, build)
	if err != nil {
		return nil, err
	}
	// Only a cache: a failure to record digests costs a later plan a hash.
	saveIndex(idx, op)
	saveTarID(idx, op)
	return f, nil
}

func isDir(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %w", p, unix.ENOTDIR)
	}
	return nil
}

// buildClosure fills tmp with the tree op.Files lists.
func buildClosure(ctx context.Context, op planner.Rootfs, tmp string, idx *planner.Index) (entryMeta, error) {
	// The entry's name is the digest of its file list: a list that does
	// not hash to it (a hand-edited plan) would poison the cache.
	if d := planner.TreeDigest(op.Files); d != op.Digest {
		return entryMeta{}, fmt.Errorf("%w: the file list hashes to %s, the plan names %s", errRootfsChanged, d, op.Digest)
	}
	if err := fillTree(ctx, tmp, op.Files, idx); err != nil {
		return entryMeta{}, err
	}
	meta := entryMeta{Kind: op.Type, Digest: op.Digest, Sources: op.Sources}
	for _, f := range op.Files {
		if f.Type == "file" {
			meta.Files++
			meta.Bytes += f.Size
		}
	}
	return meta, nil
}

// fillTree creates files under the empty directory dir, each path resolved
// inside dir: a symlink of the tree (say /lib64 -> /usr/lib64) is followed
// inside the new tree, never to the host's /usr/lib64.
func fillTree(ctx context.Context, dir string, files []planner.File, idx *planner.Index) error {
	rootfd, err := OpenRoot(dir)
	if err != nil {
		return err
	}
	defer unix.Close(rootfd)
	rootMode := uint32(0o755)
	var dirs []planner.File
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if path.Clean(f.Path) == "/" {
			rootMode = f.Mode
			continue
		}
		if f.Type == "dir" {
			dirs = append(dirs, f)
		}
		if err := addFile(rootfd, f, idx); err != nil {
			return fserr.Named(f.Path, err)
		}
	}
	// Directory modes last, so a read-only directory is filled first.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := chmodIn(rootfd, dirs[i].Path, dirs[i].Mode); err != nil {
			return fserr.Named(dirs[i].Path, err)
		}
	}
	return unix.Fchmodat(unix.AT_FDCWD, dir, rootMode&0o1777, 0)
}

func addFile(rootfd int, f planner.File, idx *planner.Index) error {
	dir, name := path.Split(path.Clean(f.Path))
	pfd, err := OpenDirInRoot(rootfd, dir, "dir")
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	switch f.Type {
	case "dir":
		if err := unix.Mkdirat(pfd, name, 0o700); err != nil && err != unix.EEXIST {
			return err
		}
		return nil
	case "symlink":
		return unix.Symlinkat(f.Link, pfd, name)
	case "file":
		fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		dst := os.NewFile(uintptr(fd), f.Path)
		defer dst.Close()
		if f.Source == "" {
			// A file of nsup's own: its content in the plan (its
			// /etc/passwd), or none (a placeholder a generated file is
			// put over), checked against the plan's digest.
			h := sha256.Sum256([]byte(f.Content))
			if got := "sha256:" + hex.EncodeToString(h[:]); got != f.Digest || int64(len(f.Content)) != f.Size {
				return fmt.Errorf("a file of nsup's own: %d bytes %s, the plan has %d bytes %s: %w", len(f.Content), got, f.Size, f.Digest, unix.EINVAL)
			}
			if _, err := io.WriteString(dst, f.Content); err != nil {
				return err
			}
		} else if err := copyVerified(dst, f, idx); err != nil {
			return err
		}
		// Durable before the entry is published: a crash must not leave
		// a complete-looking entry with empty files (the journal commits
		// the entry's names in order; the data is each file's own).
		if err := dst.Sync(); err != nil {
			return err
		}
		// setuid and setgid bits are never kept (planner.File.Mode).
		return dst.Chmod(os.FileMode(f.Mode & 0o777))
	}
	return fmt.Errorf("unknown file type %q: %w", f.Type, unix.EINVAL)
}

// copyVerified copies f.Source into dst, hashing what it copies: the tree
// holds exactly the bytes the plan's digest names, or nothing.
func copyVerified(dst io.Writer, f planner.File, idx *planner.Index) error {
	// The source's path is real (planner.OpenReal): a symlink in it now is
	// refused, whatever the bytes it would lead to.
	src, err := planner.OpenReal(f.Source)
	if err != nil {
		return fserr.Quoted(err)
	}
	defer src.Close()
	var before, after syscall.Stat_t
	if err := syscall.Fstat(int(src.Fd()), &before); err != nil {
		return err
	}
	h := sha256.New()
	// One byte more than the plan's size at the most: a file grown since
	// it was hashed is refused below without being copied whole.
	n, err := io.CopyN(io.MultiWriter(dst, h), src, f.Size+1)
	if err != nil && err != io.EOF {
		return err
	}
	if got := digest(h); got != f.Digest || n != f.Size {
		return fmt.Errorf("%w: %q is now %d bytes %s, the plan has %d bytes %s", errRootfsChanged, f.Source, n, got, f.Size, f.Digest)
	}
	if syscall.Fstat(int(src.Fd()), &after) == nil {
		idx.Observe(f.Source, &before, &after, f.Digest)
	}
	return nil
}

func digest(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

func chmodIn(rootfd int, p string, mode uint32) error {
	fd, err := OpenInRoot(rootfd, p, "")
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// fchmod(2) refuses an O_PATH fd; its /proc/self/fd name is accepted
	// and cannot be redirected.
	return unix.Fchmodat(unix.AT_FDCWD, FdPath(fd), mode&0o1777, 0)
}

// removeTree removes a partial tree, making directories writable first so
// that a read-only one does not keep its contents.
func removeTree(dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// BuildTree fills the empty directory dir with files, exactly as a
// closure's cache entry is built: every path resolved inside dir, every
// byte checked against the plan's digest, setuid and setgid bits dropped.
// nsup export uses it to put a closure's tree into an OCI bundle.
func BuildTree(ctx context.Context, dir string, files []planner.File) error {
	return fillTree(ctx, dir, files, nil)
}

// PrepareRootfs makes op.Path the environment's root tree, as apply's
// rootfs step does: a closure or tar tree is built into the cache unless
// it is there. The entry is not held afterwards: a concurrent nsup cache
// prune may remove it.
func PrepareRootfs(ctx context.Context, op planner.Rootfs) error {
	f, err := Rootfs(ctx, op, nil)
	if f != nil {
		f.Close()
	}
	return err
}
