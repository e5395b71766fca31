package planner

// The shape of a tar root's tree: what each name of the tree an archive
// unpacks into is (a folder, a file and its mode, a symlink and its
// target), so that the plan checks a tar root's mount targets, working
// directories and commands as it checks a dir root's or a closure's: a
// target that is a link of the archive (/lib64 -> usr/lib64) is mounted
// where it leads (targetLinks), a file bound over a folder of the
// archive, or a folder's mount over a file of it, is refused
// (tarTargetFits), a cwd through a file of it is refused and argv[0] is
// found in it (lookPath). Before, the tree was unknown at plan time and
// each of these failed at apply.
//
// It is gathered by TarEtc from the members WalkTar hands over, in the
// walk that hashes the archive (the plan's, and apply's, which unpacks
// it): listing, unpacker and shape take the same members. It is kept
// with the identity record in the side file named by the archive's
// digest (taridentity.go), after that record's JSON line: a function of
// the archive's bytes, never stale, read when the digest is (once per
// plan of a tar root), not in the index's lines, which every plan reads.
//
// Encoded compactly, names sorted, each as the length of the prefix it
// shares with the one before, then the rest (a distribution's root of
// 150,000 names is about 3 MB so), every length a uvarint and every
// byte of a name taken as it is: a name with a newline, a space or a
// quote (an archive is the attacker's input) is only bytes between
// lengths, and the side file's JSON line, which escapes them, comes
// before. Every shapeRestart-th name is written whole, and a table of
// where those are ends the encoding (as a LevelDB block): a lookup
// searches the table, then reads at most shapeRestart names. Nothing is
// decoded when the side file is read: a plan of a tar root costs the
// read of the file and a few hundred bytes of names per lookup.

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nsup/nsup/internal/regfile"
	"golang.org/x/sys/unix"
)

// maxTarShape bounds an encoded shape; an archive's beyond it (more than
// a distribution's root several times over) is recorded without one, and
// its tree is unknown at plan time, as before.
const maxTarShape = 16 << 20

// Markers of the shape after the side file's JSON line.
const (
	tarShapeV1   = 's' // then the encoded shape
	tarShapeNone = '-' // no shape: too large
)

// Type bytes of the encoding.
const (
	shapeDir     = 'd'
	shapeFile    = 'f'
	shapeSymlink = 'l'
)

// shapeRestart: every shapeRestart-th name is written whole.
const shapeRestart = 16

// encodeTarShape encodes the tree of nodes (TarEtc.nodes): tarShapeNone
// when it would be larger than maxTarShape. After the marker: the
// entries, then the offsets (from the first entry) of the names written
// whole, then their count and the entries', each a little-endian uint32.
func encodeTarShape(nodes map[string]tarEtcNode) []byte {
	names := slices.Sorted(maps.Keys(nodes))
	b := []byte{tarShapeV1}
	var restarts []uint32
	prev := ""
	for k, name := range names {
		n := nodes[name]
		shared := 0
		if k%shapeRestart == 0 {
			restarts = append(restarts, uint32(len(b)-1))
		} else {
			for shared < len(prev) && shared < len(name) && prev[shared] == name[shared] {
				shared++
			}
		}
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(name)-shared))
		b = append(b, name[shared:]...)
		switch n.typ {
		case TarDir:
			b = append(b, shapeDir)
		case TarSymlink:
			b = append(b, shapeSymlink)
			b = binary.AppendUvarint(b, uint64(len(n.link)))
			b = append(b, n.link...)
		default:
			b = append(b, shapeFile)
		}
		if n.typ != TarSymlink {
			b = binary.AppendUvarint(b, uint64(n.mode&0o7777))
		}
		if len(b)+4*len(restarts)+8 > maxTarShape {
			return []byte{tarShapeNone}
		}
		prev = name
	}
	for _, r := range restarts {
		b = binary.LittleEndian.AppendUint32(b, r)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(restarts)))
	return binary.LittleEndian.AppendUint32(b, uint32(len(names)))
}

// tarShape is an encoded shape (encodeTarShape's, past its marker): the
// entries, and the table of the names written whole.
type tarShape struct {
	ents     []byte
	restarts []byte       // little-endian uint32 offsets into ents
	count    int          // entries
	looked   atomic.Int64 // lookups, all told
}

// openTarShape takes b, encodeTarShape's: nil, false if it is not a
// shape; nil, true for tarShapeNone. Only the table's place is checked:
// an entry is read, bounds checked, when a lookup comes to it (a damaged
// one is not found).
func openTarShape(b []byte) (*tarShape, bool) {
	if len(b) == 1 && b[0] == tarShapeNone {
		return nil, true
	}
	if len(b) < 9 || b[0] != tarShapeV1 || len(b) > maxTarShape {
		return nil, false
	}
	b = b[1:]
	nr := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	count := int(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if nr > (len(b)-8)/4 || count > TarMaxEntries || nr != (count+shapeRestart-1)/shapeRestart {
		return nil, false
	}
	table := len(b) - 8 - 4*nr
	return &tarShape{ents: b[:table], restarts: b[table : len(b)-8], count: count}, true
}

// shapeEntry is one entry as read: its name is the reader's.
type shapeEntry struct {
	typ  byte
	mode uint32
	link string
}

// shapeReader reads entries from an offset of ents.
type shapeReader struct {
	ents []byte
	off  int
	name []byte // the last entry's
}

// next reads the entry at r.off: false if it is damaged (or past the
// end).
func (r *shapeReader) next() (shapeEntry, bool) {
	var e shapeEntry
	uv := func() (int, bool) {
		v, n := binary.Uvarint(r.ents[r.off:])
		if n <= 0 || v > TarMaxNameBytes {
			return 0, false
		}
		r.off += n
		return int(v), true
	}
	shared, ok1 := uv()
	rest, ok2 := uv()
	if !ok1 || !ok2 || shared > len(r.name) || rest > len(r.ents)-r.off-1 {
		return e, false
	}
	r.name = append(r.name[:shared], r.ents[r.off:r.off+rest]...)
	r.off += rest
	e.typ = r.ents[r.off]
	r.off++
	switch e.typ {
	case shapeSymlink:
		n, ok := uv()
		if !ok || n == 0 || n > len(r.ents)-r.off {
			return e, false
		}
		e.link, e.mode = string(r.ents[r.off:r.off+n]), 0o777
		r.off += n
	case shapeDir, shapeFile:
		m, ok := uv()
		if !ok || m > 0o7777 {
			return e, false
		}
		e.mode = uint32(m)
	default:
		return e, false
	}
	return e, true
}

// lookup is lstat(2) of p ("/etc/hosts") in the tree.
func (t *tarShape) lookup(p string) (File, bool) {
	t.looked.Add(1)
	if p == "/" {
		return File{Path: "/", Type: "dir", Mode: 0o755}, true
	}
	name, ok := strings.CutPrefix(p, "/")
	if !ok || name == "" {
		return File{}, false
	}
	var buf [256]byte
	r := shapeReader{ents: t.ents, name: buf[:0]}
	nr := len(t.restarts) / 4
	restart := func(k int) int { return int(binary.LittleEndian.Uint32(t.restarts[4*k:])) }
	// The last name written whole that is not after name.
	bad := false
	k := sort.Search(nr, func(k int) bool {
		r.off, r.name = restart(k), r.name[:0]
		if r.off >= len(t.ents) {
			bad = true
			return true
		}
		if _, ok := r.next(); !ok {
			bad = true
			return true
		}
		return string(r.name) > name
	}) - 1
	if bad || k < 0 {
		return File{}, false
	}
	r.off, r.name = restart(k), r.name[:0]
	for n := 0; n < shapeRestart && k*shapeRestart+n < t.count && r.off < len(t.ents); n++ {
		e, ok := r.next()
		if !ok {
			return File{}, false
		}
		switch c := strings.Compare(string(r.name), name); {
		case c > 0:
			return File{}, false
		case c < 0:
			continue
		}
		f := File{Path: p, Mode: e.mode}
		switch e.typ {
		case shapeDir:
			f.Type = "dir"
		case shapeFile:
			f.Type = "file"
		case shapeSymlink:
			f.Type, f.Link = "symlink", e.link
		}
		return f, true
	}
	return File{}, false
}

// lazyShape is an encoded shape, decoded when first asked for.
type lazyShape struct {
	enc  []byte
	once sync.Once
	t    *tarShape
	// seen are the lookups made, by path: each name is read in the
	// encoding once per plan (tarShape.looked counts). A lookup there
	// costs a search of names of up to 4 KiB; an archive's links may lead
	// a walk 40 times down a folder 2,000 deep, 80,000 lookups of the
	// same 2,000 names, and a plan walks /etc/passwd, /etc/group and
	// /bin/sh five times: seconds of every plan, where a record's own
	// nodes (a map) took a tenth of that.
	mu   sync.Mutex
	seen map[string]shapeSeen
}

type shapeSeen struct {
	f  File
	ok bool
}

// view is the shape as a tree, nil if there is none (too large, or not
// recorded).
func (l *lazyShape) view() treeView {
	if l == nil {
		return nil
	}
	l.once.Do(func() { l.t, _ = openTarShape(l.enc) })
	if l.t == nil {
		return nil
	}
	return l.lookup
}

// lookup is l.t.lookup, each path read once.
func (l *lazyShape) lookup(p string) (File, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.seen[p]; ok {
		return s.f, s.ok
	}
	if l.seen == nil {
		l.seen = map[string]shapeSeen{}
	}
	f, ok := l.t.lookup(p)
	l.seen[p] = shapeSeen{f, ok}
	return f, ok
}

// tarTree is the tar root's tree as its archive's shape shows it, nil
// when it is not known (no record: an archive the walk refuses; a shape
// too large to keep).
func (ec *envCompiler) tarTree() treeView {
	if ec.e.Rootfs.Tar == "" || ec.tarID == nil {
		return nil
	}
	return ec.tarID.shape.view()
}

// readSideFile reads the side file name of the index (at most max bytes)
// in one read of its size: it holds the shape, megabytes, read at each
// plan of a tar root (io.ReadAll's doubling copied it a dozen times).
func (x *Index) readSideFile(name string, max int64) ([]byte, error) {
	f, err := regfile.OpenIn(x.dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	if st.Size > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, max)
	}
	b := make([]byte, st.Size+1) // one more: a file grown since is not read whole
	n, err := io.ReadFull(f, b)
	if err != io.ErrUnexpectedEOF || int64(n) != st.Size {
		return nil, fmt.Errorf("%s changed while read", name)
	}
	return b[:n], nil
}
