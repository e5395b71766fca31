package planner

// What a rootfs.tar archive unpacks into: the rules for its members'
// names, modes and types, shared by the executor (which unpacks it into the
// cache) and by nsup lock (which lists it, read-only, with TarFiles).

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
)

// Bounds on what an archive may unpack into: beyond them it is refused (a
// gzip bomb, a header claiming a huge size). A distribution's whole root
// filesystem fits well within them.
const (
	TarMaxFileSize  = 4 << 30  // bytes of one member
	TarMaxTotalSize = 16 << 30 // bytes of all members
	TarMaxEntries   = 1 << 20
	tarMaxName      = 4096 // PATH_MAX
)

// TarName is the path, relative to the tree's root, that the member name
// unpacks to: leading "/" and "./" are dropped (the tree is the archive's
// root, as GNU tar does without -P), "." is the root itself (""). A name
// with a ".." component is refused: it could only point outside.
func TarName(name string) (string, error) {
	if len(name) > tarMaxName {
		return "", fmt.Errorf("a name of %d bytes", len(name))
	}
	var parts []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return "", fmt.Errorf("%q: a \"..\" in a member name", name)
		}
		parts = append(parts, c)
	}
	return strings.Join(parts, "/"), nil
}

// TarMode is the mode a member gets: its permission bits and the sticky
// bit; setuid and setgid are dropped (a tree never grants privileges).
func TarMode(h *tar.Header) uint32 { return uint32(h.Mode) & 0o1777 }

// TarSkipped reports whether a member of type typ is left out of the tree:
// device nodes (a node of the host's disk would bypass every mount) and
// FIFOs, which no root tree needs (an environment's /dev comes from a
// `type: dev` mount); and PAX global headers, which are not members.
func TarSkipped(typ byte) bool {
	return typ == tar.TypeChar || typ == tar.TypeBlock || typ == tar.TypeFifo || typ == tar.TypeXGlobalHeader
}

// TarRegular reports whether a member of type typ is a regular file.
func TarRegular(typ byte) bool {
	return typ == tar.TypeReg || typ == tar.TypeRegA || typ == tar.TypeGNUSparse
}

// TarStream returns the tar stream of an archive read from r: r itself, or
// r through gzip when it starts with gzip's magic bytes. Other compressions
// are refused by name.
func TarStream(r *bufio.Reader) (io.Reader, error) {
	magic, _ := r.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return z, nil
	case bytes.HasPrefix(magic, []byte("\xfd7zXZ\x00")):
		return nil, errors.New("compressed with xz: nsup reads .tar and .tar.gz (.tgz) archives")
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, errors.New("compressed with zstd: nsup reads .tar and .tar.gz (.tgz) archives")
	case bytes.HasPrefix(magic, []byte("BZh")):
		return nil, errors.New("compressed with bzip2: nsup reads .tar and .tar.gz (.tgz) archives")
	}
	return r, nil
}

// TarFiles lists the tree the archive at p unpacks into, as nsup apply
// unpacks it: each member by its cleaned path, with its mode and, for
// files, size and sha256 (a hard link has its target's); implicit folders
// are listed 0755; skipped members (TarSkipped) are not listed; the root
// itself is not listed. It also returns the archive's own digest. Only
// reads; an archive that apply would refuse is an error here too.
func TarFiles(p string) ([]File, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	ah := sha256.New()
	br := bufio.NewReader(io.TeeReader(f, ah))
	s, err := TarStream(br)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p, err)
	}
	files := map[string]File{}
	// dirs lists the missing folders above rel, refusing a path through
	// anything that is not a folder (apply never follows a symlink of the
	// tree while unpacking it).
	dirs := func(rel string) error {
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			f, ok := files["/"+d]
			if !ok {
				files["/"+d] = File{Path: "/" + d, Type: "dir", Mode: 0o755}
			} else if f.Type != "dir" {
				return fmt.Errorf("/%s is a %s, not a folder: nsup never unpacks through it", d, f.Type)
			}
		}
		return nil
	}
	tr := tar.NewReader(s)
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", p, err)
		}
		if n >= TarMaxEntries {
			return nil, "", fmt.Errorf("%s: more than %d members", p, TarMaxEntries)
		}
		if TarSkipped(h.Typeflag) {
			continue
		}
		rel, err := TarName(h.Name)
		if err != nil {
			return nil, "", fmt.Errorf("%s: member %q: %w", p, h.Name, err)
		}
		if rel == "" {
			continue
		}
		if err := dirs(rel); err != nil {
			return nil, "", fmt.Errorf("%s: member %q: %w", p, h.Name, err)
		}
		if old, ok := files["/"+rel]; ok && old.Type == "dir" && h.Typeflag != tar.TypeDir {
			return nil, "", fmt.Errorf("%s: member %q: replaces a folder", p, h.Name)
		}
		e := File{Path: "/" + rel, Mode: TarMode(h)}
		switch {
		case h.Typeflag == tar.TypeDir:
			e.Type = "dir"
		case h.Typeflag == tar.TypeSymlink:
			e.Type, e.Link, e.Mode = "symlink", h.Linkname, 0o777
		case h.Typeflag == tar.TypeLink:
			t, err := TarName(h.Linkname)
			if err != nil {
				return nil, "", fmt.Errorf("%s: member %q: hard link: %w", p, h.Name, err)
			}
			target, ok := files["/"+t]
			if !ok || target.Type != "file" {
				return nil, "", fmt.Errorf("%s: member %q: a hard link to %q, which is not an earlier file of the archive", p, h.Name, h.Linkname)
			}
			e = target
			e.Path = "/" + rel
		case TarRegular(h.Typeflag):
			if h.Size > TarMaxFileSize || total+h.Size > TarMaxTotalSize {
				return nil, "", fmt.Errorf("%s: member %q: %d bytes, more than nsup unpacks (%d per file, %d in all)", p, h.Name, h.Size, int64(TarMaxFileSize), int64(TarMaxTotalSize))
			}
			total += h.Size
			fh := sha256.New()
			n, err := io.Copy(fh, tr)
			if err != nil {
				return nil, "", fmt.Errorf("%s: member %q: %w", p, h.Name, err)
			}
			e.Type, e.Size, e.Digest = "file", n, "sha256:"+hex.EncodeToString(fh.Sum(nil))
		default:
			return nil, "", fmt.Errorf("%s: member %q: unsupported type %q", p, h.Name, h.Typeflag)
		}
		files[e.Path] = e
	}
	// The archive's digest covers every byte of the file, past the end of
	// the tar stream too.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, "", err
	}
	out := make([]File, 0, len(files))
	for _, f := range files {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, "sha256:" + hex.EncodeToString(ah.Sum(nil)), nil
}
