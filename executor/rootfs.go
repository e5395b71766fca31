package executor

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

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// errRootfsChanged is a closure input whose bytes are no longer those the
// plan recorded: the plan would not be what runs.
var errRootfsChanged = errors.New("rootfs input changed since plan")

// rootfs makes op.Path the environment's root tree.
//
// A closure tree is a cache entry named by its digest: built once, in a
// temporary sibling, then renamed into place (rename(2) is atomic), so a
// reader sees either no entry or a complete one, and concurrent nsup runs
// building the same entry both succeed with one of the two trees.
func rootfs(ctx context.Context, op planner.Rootfs) error {
	switch op.Kind {
	case "dir":
		return isDir(op.Path)
	case "closure":
		if _, err := os.Lstat(op.Path); err == nil {
			return isDir(op.Path) // built before: reuse
		}
		return buildClosure(ctx, op)
	case "tar":
		return fmt.Errorf("rootfs kind tar: not implemented yet: %w", unix.ENOTSUP)
	}
	return fmt.Errorf("unknown rootfs kind %q: %w", op.Kind, unix.EINVAL)
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

func buildClosure(ctx context.Context, op planner.Rootfs) (err error) {
	// The entry's name is the digest of its file list: a list that does
	// not hash to it (a hand-edited plan) would poison the cache.
	if d := planner.TreeDigest(op.Files); d != op.Digest {
		return fmt.Errorf("%w: the file list hashes to %s, the plan names %s", errRootfsChanged, d, op.Digest)
	}
	parent, base := filepath.Dir(op.Path), filepath.Base(op.Path)
	// The cache is nsup's alone: what it creates is 0700.
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, base+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			removeTree(tmp)
		}
	}()
	if err := fillTree(ctx, tmp, op.Files); err != nil {
		return err
	}
	if err := os.Rename(tmp, op.Path); err != nil {
		// Another nsup renamed the same entry into place first: its tree
		// has the same digest, so it is as good as ours.
		if isDir(op.Path) == nil {
			removeTree(tmp)
			return nil
		}
		return err
	}
	// The rename itself, durable (fsync(2) of the directory).
	if d, err := os.Open(parent); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fillTree creates files under the empty directory dir, each path resolved
// inside dir: a symlink of the tree (say /lib64 -> /usr/lib64) is followed
// inside the new tree, never to the host's /usr/lib64.
func fillTree(ctx context.Context, dir string, files []planner.File) error {
	rootfd, err := openRoot(dir)
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
		if err := addFile(rootfd, f); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	// Directory modes last, so a read-only directory is filled first.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := chmodIn(rootfd, dirs[i].Path, dirs[i].Mode); err != nil {
			return fmt.Errorf("%s: %w", dirs[i].Path, err)
		}
	}
	return unix.Fchmodat(unix.AT_FDCWD, dir, rootMode&0o1777, 0)
}

func addFile(rootfd int, f planner.File) error {
	dir, name := path.Split(path.Clean(f.Path))
	pfd, err := openDirInRoot(rootfd, dir, "dir")
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
		if err := copyVerified(dst, f); err != nil {
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
func copyVerified(dst io.Writer, f planner.File) error {
	src, err := os.Open(f.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), src)
	if err != nil {
		return err
	}
	if got := digest(h); got != f.Digest || n != f.Size {
		return fmt.Errorf("%w: %s is now %d bytes %s, the plan has %d bytes %s", errRootfsChanged, f.Source, n, got, f.Size, f.Digest)
	}
	return nil
}

func digest(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

func chmodIn(rootfd int, p string, mode uint32) error {
	fd, err := openInRoot(rootfd, p, "")
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// fchmod(2) refuses an O_PATH fd; its /proc/self/fd name is accepted
	// and cannot be redirected.
	return unix.Fchmodat(unix.AT_FDCWD, fdPath(fd), mode&0o1777, 0)
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
