package planner

// What a rootfs.tar archive unpacks into. One walker (WalkTar) applies
// every rule to an archive's members, names, modes, skipped types,
// bounds, hard links, duplicates and members replacing a folder, and every
// refusal; both consumers take what it hands them and nothing else: nsup
// lock lists the tree (TarFiles, read-only) and the executor's store
// unpacks it into the cache (executor/store/tar.go), so the two cannot
// disagree on what an archive is.

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
	"slices"
	"strings"
	"time"
)

// Bounds on what an archive may unpack into: beyond them it is refused (a
// gzip bomb, a header claiming a huge size). A distribution's whole root
// filesystem fits well within them.
const (
	TarMaxFileSize  = 4 << 30  // bytes of one member
	TarMaxTotalSize = 16 << 30 // bytes of all members
	TarMaxEntries   = 1 << 20
	// TarMaxNameBytes bounds the bytes of every name the walk hands
	// over, the folders an archive does not list included, and of link
	// targets: what the listing keeps in memory and the unpacker resolves.
	// A distribution's root holds about 1 MiB of names.
	TarMaxNameBytes = 64 << 20
	tarMaxName      = 4096 // PATH_MAX
	tarMaxComponent = 255  // NAME_MAX
)

// ErrTarRefused is an archive nsup will not unpack (nor list): every
// refusal of WalkTar wraps it.
var ErrTarRefused = errors.New("archive refused")

// TarLimits bound one archive: bytes of one member and of all members;
// the number of members (skipped ones included) and of names in the tree
// (the folders it does not list included); and Names, the bytes of every
// name handed over and of every link's target.
type TarLimits struct {
	File, Total, Names int64
	Entries            int
}

// TarDefaultLimits are nsup's bounds (TarMax*).
var TarDefaultLimits = TarLimits{File: TarMaxFileSize, Total: TarMaxTotalSize, Names: TarMaxNameBytes, Entries: TarMaxEntries}

// The types of a TarMember.
const (
	TarDir      = "dir"
	TarFile     = "file"
	TarSymlink  = "symlink"
	TarHardlink = "hardlink"
)

// TarMember is one name of the tree an archive unpacks into, as WalkTar
// hands it over: every rule applied.
type TarMember struct {
	// Name is the path relative to the tree's root, cleaned (TarName):
	// never absolute, never with "." or "..". "" is the root folder
	// itself, handed over only for a folder member naming it.
	Name string
	// Type is TarDir, TarFile, TarSymlink or TarHardlink.
	Type string
	// Mode is the permission bits and the sticky bit (setuid and setgid
	// dropped); 0777 for a symlink. A hard link has its file's.
	Mode uint32
	// Link is a symlink's target, as the archive has it (it resolves
	// inside the environment's root, and is never followed while
	// unpacking); for a hard link, the Name of the earlier file it is one
	// more name of (never Name itself).
	Link string
	// Size is a file's length in bytes (a hard link's file's).
	Size int64
	// Uid, Gid and ModTime are the owner (restored when nsup runs as
	// root) and modification time; a hard link's are its file's.
	Uid, Gid int
	ModTime  time.Time
	// Implicit marks a folder the archive does not list, handed over
	// before the first member below it: 0755, owned by nsup, no time of
	// its own. A later folder member of that name gives it its own.
	Implicit bool
}

// TarFunc receives the members of an archive in archive order; content
// holds a file's Size bytes (it is empty for other types). A parent
// folder is always handed over before what it holds. An error stops the
// walk, and WalkTar returns it, naming the member.
type TarFunc func(m TarMember, content io.Reader) error

// WalkTar reads the archive r (a tar stream, or one compressed with gzip,
// recognised by its magic bytes; xz, zstd and bzip2 are refused by name)
// and hands fn the members of the tree it unpacks into, in order, with
// TarDefaultLimits. See TarLimits.Walk.
func WalkTar(r io.Reader, fn TarFunc) error { return TarDefaultLimits.Walk(r, fn) }

// Walk is WalkTar with the bounds l. The rules, which nothing else
// applies again:
//
//   - names: leading "/" and "./" are dropped (the tree is the archive's
//     root, as GNU tar does without -P); a ".." in a name, or in a hard
//     link's target, refuses the archive, as does a name longer than
//     PATH_MAX or with a component longer than NAME_MAX;
//   - a symlink is kept as it is, pointing wherever it points (inside an
//     environment it resolves in its root), unless its target is empty
//     or does not fit in PATH_MAX, which symlink(2) refuses: refused;
//   - types: device nodes and FIFOs are skipped (an environment's /dev
//     comes from a `type: dev` mount), as are PAX global headers; a type
//     other than a folder, file, symlink or hard link refuses the archive;
//   - modes: setuid and setgid are dropped, the sticky bit is kept;
//   - a member below something that is not a folder (a symlink, say
//     evil -> /etc then evil/passwd, or a file) refuses the archive:
//     nothing is ever followed while unpacking; the missing folders above
//     a member are handed over first, Implicit;
//   - a member of a name already there replaces it (a folder listed twice
//     gets the later member's mode and owner), except that nothing but a
//     folder may replace a folder (its contents would go with it);
//   - a hard link must name an earlier file of the archive, by a path not
//     through a symlink; a hard link to itself leaves the file as it is
//     and is not handed over;
//   - bounds: a member larger than l.File, a total beyond l.Total, more
//     than l.Entries members or names in the tree, or names and link
//     targets beyond l.Names bytes refuse the archive, before the bytes
//     are read. A name of a folder the archive does not list counts as
//     a member's: a member 2,000 folders deep is 2,000 names and about
//     4 MB of them, not one.
//
// r is read up to the end of the tar stream (plus what a buffer reads
// ahead): a caller that hashes the archive reads the rest of r itself.
func (l TarLimits) Walk(r io.Reader, fn TarFunc) error {
	s, err := tarStream(bufio.NewReaderSize(r, 1<<16))
	if err != nil {
		return err
	}
	w := tarWalk{limits: l, fn: fn, tree: map[string]tarNode{}}
	tr := tar.NewReader(s)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n >= l.Entries {
			return fmt.Errorf("more than %d members: %w", l.Entries, ErrTarRefused)
		}
		if err := w.member(h, tr); err != nil {
			return fmt.Errorf("member %q: %w", h.Name, err)
		}
	}
}

// tarNode is what a name of the tree is, so far.
type tarNode struct {
	typ      string // TarDir, TarFile or TarSymlink
	mode     uint32
	size     int64
	uid, gid int
	mtime    time.Time
}

type tarWalk struct {
	limits TarLimits
	fn     TarFunc
	tree   map[string]tarNode
	total  int64 // bytes of the files so far
	names  int64 // bytes of the names and link targets so far
}

// charge counts a name about to be handed over (and a link's target)
// against the bounds: a new name of the tree against l.Entries, its bytes
// against l.Names.
func (w *tarWalk) charge(name, link string) error {
	if _, ok := w.tree[name]; !ok && len(w.tree) >= w.limits.Entries {
		return fmt.Errorf("more than %d names in the tree: %w", w.limits.Entries, ErrTarRefused)
	}
	w.names += int64(len(name) + len(link))
	if w.names > w.limits.Names {
		return fmt.Errorf("more than %d bytes of names and link targets: %w", w.limits.Names, ErrTarRefused)
	}
	return nil
}

var noContent = bytes.NewReader(nil)

func (w *tarWalk) member(h *tar.Header, r io.Reader) error {
	if tarSkipped(h.Typeflag) {
		return nil
	}
	rel, err := TarName(h.Name)
	if err != nil {
		return fmt.Errorf("%w: %w", err, ErrTarRefused)
	}
	m := TarMember{Name: rel, Mode: uint32(h.Mode) & 0o1777, Uid: h.Uid, Gid: h.Gid, ModTime: h.ModTime}
	if rel == "" {
		// The root folder itself: its mode, owner and time; any other
		// member of that name is nothing the tree can hold.
		if h.Typeflag != tar.TypeDir {
			return nil
		}
		m.Type = TarDir
		return w.fn(m, noContent)
	}
	if err := w.parents(rel); err != nil {
		return err
	}
	if old, ok := w.tree[rel]; ok && old.typ == TarDir && h.Typeflag != tar.TypeDir {
		return fmt.Errorf("replaces a folder: %w", ErrTarRefused)
	}
	content := io.Reader(noContent)
	switch {
	case h.Typeflag == tar.TypeDir:
		m.Type = TarDir
	case h.Typeflag == tar.TypeSymlink:
		if h.Linkname == "" || len(h.Linkname) >= tarMaxName {
			// symlink(2) makes neither (ENOENT; ENAMETOOLONG: the target
			// and its NUL must fit in PATH_MAX).
			return fmt.Errorf("a symlink to a target of %d bytes: %w", len(h.Linkname), ErrTarRefused)
		}
		m.Type, m.Link, m.Mode = TarSymlink, h.Linkname, 0o777
	case h.Typeflag == tar.TypeLink:
		t, err := w.linkTarget(h.Linkname)
		if err != nil {
			return err
		}
		if t == rel {
			return nil // a link to itself: the file stays as it is
		}
		f := w.tree[t]
		m.Type, m.Link, m.Mode, m.Size, m.Uid, m.Gid, m.ModTime = TarHardlink, t, f.mode, f.size, f.uid, f.gid, f.mtime
	case tarRegular(h.Typeflag):
		if h.Size < 0 || h.Size > w.limits.File || w.total+h.Size > w.limits.Total {
			return fmt.Errorf("%d bytes, more than nsup unpacks (%d per member, %d in all): %w", h.Size, w.limits.File, w.limits.Total, ErrTarRefused)
		}
		w.total += h.Size
		m.Type, m.Size, content = TarFile, h.Size, r
	default:
		return fmt.Errorf("unsupported type %q: %w", h.Typeflag, ErrTarRefused)
	}
	if err := w.charge(rel, m.Link); err != nil {
		return err
	}
	if err := w.fn(m, content); err != nil {
		return err
	}
	typ := m.Type
	if typ == TarHardlink {
		typ = TarFile
	}
	w.tree[rel] = tarNode{typ: typ, mode: m.Mode, size: m.Size, uid: m.Uid, gid: m.Gid, mtime: m.ModTime}
	return nil
}

// parents checks the folders above rel, the highest first: each must be a
// folder of the tree or missing; the missing ones are handed over,
// Implicit.
func (w *tarWalk) parents(rel string) error {
	// Every folder of the tree has folders of the tree above it (each was
	// checked so when it came, and a folder is never replaced): a parent
	// already there ends the checks. Without this, each member below a
	// folder 2,000 deep hashed 4 MB of names (15,000 of them: 7.7 s).
	if i := strings.LastIndexByte(rel, '/'); i > 0 {
		if n, ok := w.tree[rel[:i]]; ok && n.typ == TarDir {
			return nil
		}
	}
	if err := w.through(rel); err != nil {
		return err
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		d := rel[:i]
		if _, ok := w.tree[d]; ok {
			continue
		}
		m := TarMember{Name: d, Type: TarDir, Mode: 0o755, Implicit: true}
		if err := w.charge(d, ""); err != nil {
			return err
		}
		if err := w.fn(m, noContent); err != nil {
			return err
		}
		w.tree[d] = tarNode{typ: TarDir, mode: 0o755}
	}
	return nil
}

// through refuses a path through anything of the tree that is not a
// folder: nsup never follows a symlink of the tree while unpacking it.
func (w *tarWalk) through(rel string) error {
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		if n, ok := w.tree[rel[:i]]; ok && n.typ != TarDir {
			return fmt.Errorf("%q passes through a %s, not a folder (%q): nsup never unpacks through one: %w", "/"+rel, n.typ, "/"+rel[:i], ErrTarRefused)
		}
	}
	return nil
}

// linkTarget is the name of the earlier file a hard link's target names.
func (w *tarWalk) linkTarget(link string) (string, error) {
	t, err := TarName(link)
	if err != nil {
		return "", fmt.Errorf("hard link: %w: %w", err, ErrTarRefused)
	}
	if err := w.through(t); err != nil {
		return "", fmt.Errorf("a hard link to %q: %w", link, err)
	}
	if n, ok := w.tree[t]; !ok || t == "" || n.typ != TarFile {
		return "", fmt.Errorf("a hard link to %q, which is not an earlier file of the archive: %w", link, ErrTarRefused)
	}
	return t, nil
}

// TarName is the path, relative to the tree's root, that the member name
// unpacks to: leading "/" and "./" are dropped (the tree is the archive's
// root, as GNU tar does without -P), "." is the root itself (""). A name
// with a ".." component is refused: it could only point outside; so is a
// name longer than PATH_MAX or with a component longer than NAME_MAX,
// which no folder can hold.
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
		if len(c) > tarMaxComponent {
			return "", fmt.Errorf("a name with a component of %d bytes", len(c))
		}
		parts = append(parts, c)
	}
	return strings.Join(parts, "/"), nil
}

// tarSkipped reports whether a member of type typ is left out of the tree:
// device nodes (a node of the host's disk would bypass every mount) and
// FIFOs, which no root tree needs (an environment's /dev comes from a
// `type: dev` mount); and PAX global headers, which are not members.
func tarSkipped(typ byte) bool {
	return typ == tar.TypeChar || typ == tar.TypeBlock || typ == tar.TypeFifo || typ == tar.TypeXGlobalHeader
}

// tarRegular reports whether a member of type typ is a regular file.
func tarRegular(typ byte) bool {
	return typ == tar.TypeReg || typ == tar.TypeRegA || typ == tar.TypeGNUSparse
}

// tarStream returns the tar stream of an archive read from r: r itself, or
// r through gzip when it starts with gzip's magic bytes. Other compressions
// are refused by name.
func tarStream(r *bufio.Reader) (io.Reader, error) {
	magic, _ := r.Peek(6)
	const which = "nsup reads .tar and .tar.gz (.tgz) archives"
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return z, nil
	case bytes.HasPrefix(magic, []byte("\xfd7zXZ\x00")):
		return nil, fmt.Errorf("compressed with xz: %s: %w", which, ErrTarRefused)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return nil, fmt.Errorf("compressed with zstd: %s: %w", which, ErrTarRefused)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return nil, fmt.Errorf("compressed with bzip2: %s: %w", which, ErrTarRefused)
	}
	return r, nil
}

// TarFiles lists the tree the archive at p unpacks into, as nsup apply
// unpacks it (both take WalkTar's members): each member by its cleaned
// path, with its mode and, for files, size and sha256 (a hard link has its
// target's); implicit folders are listed 0755; skipped members are not
// listed; the root itself is not listed. It also returns the archive's own
// digest. Only reads; an archive that apply would refuse is an error here
// too, the same.
func TarFiles(p string) ([]File, string, error) {
	f, err := OpenFile(p)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	ah := sha256.New()
	r := io.TeeReader(f, ah)
	files := map[string]File{}
	err = WalkTar(r, func(m TarMember, content io.Reader) error {
		if m.Name == "" {
			return nil
		}
		e := File{Path: "/" + m.Name, Type: m.Type, Mode: m.Mode}
		switch m.Type {
		case TarSymlink:
			e.Link = m.Link
		case TarHardlink:
			e = files["/"+m.Link]
			e.Path = "/" + m.Name
		case TarFile:
			fh := sha256.New()
			n, err := io.Copy(fh, content)
			if err != nil {
				return err
			}
			e.Size, e.Digest = n, "sha256:"+hex.EncodeToString(fh.Sum(nil))
		}
		files[e.Path] = e
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p, err)
	}
	// The archive's digest covers every byte of the file, past the end of
	// the tar stream too.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, "", err
	}
	out := make([]File, 0, len(files))
	for _, f := range files {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, "sha256:" + hex.EncodeToString(ah.Sum(nil)), nil
}
