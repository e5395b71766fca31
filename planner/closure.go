package planner

// ELF closure resolution for rootfs.closure: which host files a tree needs
// so that the named programs run in it. Read-only: files are opened and
// read, never executed (no ldd, no ld.so --list), never written. The host
// files and folders are listed by closurefiles.go, the libraries found by
// closureloader.go.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Closure resolves the host paths into the full file list of a rootfs tree.
//
// Each path must be absolute. A symlink is kept as a symlink and followed;
// every folder on the way is listed, and a folder that is a symlink on the
// host (/lib -> usr/lib) is listed as that symlink plus its target, so the
// tree mirrors the host's layout. A directory is copied whole (its symlinks
// are kept, not followed). Each ELF file brings its program interpreter and
// its shared libraries, transitively. Devices, sockets and FIFOs are
// errors. The root folder itself is not listed: it is the tree's folder.
//
// The result is sorted by Path, one File per path; files carry their size
// and sha256 digest. Nothing is executed or written.
func Closure(paths []string) ([]File, error) {
	files, _, err := closure(paths, nil, false)
	return files, err
}

// ClosureFrom is Closure with the digests of unchanged files taken from idx
// (nil: every file is read) and, for each file of the tree, the paths of
// paths that need it: the path itself, the program whose loader maps it,
// or the folder that holds it, in the order of paths.
func ClosureFrom(paths []string, idx *Index) ([]File, map[string][]string, error) {
	return closure(paths, idx, true)
}

func closure(paths []string, idx *Index, track bool) ([]File, map[string][]string, error) {
	c := &closureBuilder{
		files: map[string]File{},
		elfs:  map[string]*elfObjectInfo{},
		index: idx,
		key:   IndexKey("closure", paths),
	}
	if track {
		c.from = map[string][]string{}
	}
	for _, p := range paths {
		c.cur = p
		if err := c.addPath(p); err != nil {
			return nil, nil, fmt.Errorf("closure %s: %w", p, err)
		}
	}
	out := make([]File, 0, len(c.files))
	for _, f := range c.files {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, c.from, nil
}

// TreeDigest returns "sha256:HEX" over a canonical form of files: one line
// per file, sorted by path, with its path, type, mode, link target and
// content digest. It is the cache key of a closure tree, so it changes
// whenever anything the built tree is made of changes.
func TreeDigest(files []File) string {
	sorted := slices.Clone(files)
	slices.SortStableFunc(sorted, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	h := sha256.New()
	io.WriteString(h, "nsup-tree-v1\n")
	for _, f := range sorted {
		fmt.Fprintf(h, "%s %s %04o %s %s\n",
			strconv.Quote(f.Path), f.Type, f.Mode, strconv.Quote(f.Link), f.Digest)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// closureBuilder holds one Closure call's state; nothing outlives the call.
type closureBuilder struct {
	files map[string]File
	// elfs caches parsed ELF files by real path; nil means "not ELF".
	elfs map[string]*elfObjectInfo

	ldCache       *ldsoCache
	ldCacheLoaded bool

	// index gives the digests of unchanged files, under key.
	index *Index
	key   string
	// from records, when not nil, which requested path (cur) needs each
	// listed path.
	from map[string][]string
	cur  string
}

// mark notes that the requested path being added needs p.
func (c *closureBuilder) mark(p string) {
	if c.from == nil {
		return
	}
	if l := c.from[p]; len(l) == 0 || l[len(l)-1] != c.cur {
		c.from[p] = append(l, c.cur)
	}
}

// addPath adds one path of the spec: the path, followed; a folder whole;
// the libraries of every ELF file.
func (c *closureBuilder) addPath(p string) error {
	if !filepath.IsAbs(p) {
		return errors.New("not an absolute path")
	}
	real, mode, err := c.resolve(p)
	if err != nil {
		return err
	}
	if mode.IsDir() {
		return c.addDir(real)
	}
	return c.addObject(real, true)
}
