package planner

// What a tar root has where identityOf looks (/etc/passwd, /etc/group,
// /bin/sh), so that a tar root gets the identity lines, and HOME, a dir
// root of the same files gets: the nodes a lookup of each visits in the
// archive's tree, and the bytes of the passwd and group files it finds
// (regular, at most maxIDFile bytes, as readInTree reads a dir root's).
// TarEtc gathers them while the archive is hashed (taretc.go).
//
// They are kept in a side file of the digest index named by the
// archive's sha256, CACHE/index/HEX.etc, not in the index's line: the
// line is one per archive path, read at every plan and bounded to a
// line's length, while the files may be 2 MiB together; and what an
// archive's tree holds is a function of its bytes alone, so a record
// named by the digest is never stale (the line tells the digest while the
// fingerprint holds; the side file tells the tree of that digest), and
// two paths of one archive share it. Like the index, it is read only from
// a cache that is the caller's own, written only by apply.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/internal/regfile"
)

// tarIDPaths are the paths identityOf looks up in a root's tree; the
// first ones (identityFiles) are read.
var tarIDPaths = append(append([]string{}, identityFiles...), "/bin/sh")

// tarIDHeader starts a side file; another means another format, not read
// (v1, an older nsup's, had no shape; v2 kept names as JSON strings: the
// archive is hashed again, and apply writes its side file anew).
const tarIDHeader = "nsup-tarid-v3\n"

// maxTarIDFile bounds what is read of a side file: the two files and
// their way there, base64-encoded, then the tree's shape (tarshape.go).
const maxTarIDFile = 4*maxIDFile + 1<<16 + maxTarShape

// tarIDPartial is the type of the node, with no path, that marks a
// partial record in its side file.
const tarIDPartial = "partial"

// tarIDNode is one node of the archive's tree a lookup visits.
type tarIDNode struct {
	Path string `json:"path"` // as a treeView names it: "/etc/passwd"
	Type string `json:"type"` // TarDir, TarFile, TarSymlink
	Link string `json:"link,omitempty"`
	Size int64  `json:"size,omitempty"`
	// Content is the file's bytes when Read: a file a lookup of
	// identityFiles ends at, of at most maxIDFile bytes.
	Content []byte `json:"content,omitempty"`
	Read    bool   `json:"read,omitempty"`
}

// tarIDWire is a tarIDNode in the side file: its path and link are an
// archive's bytes, not UTF-8, and a JSON string would turn each invalid
// byte into U+FFFD (two names of the archive one name read back: the
// group file read from the passwd file's bytes); []byte is base64.
type tarIDWire struct {
	Path    []byte `json:"path"`
	Type    string `json:"type"`
	Link    []byte `json:"link,omitempty"`
	Size    int64  `json:"size,omitempty"`
	Content []byte `json:"content,omitempty"`
	Read    bool   `json:"read,omitempty"`
}

// tarIDRecord is what a tar root has where identityOf looks.
type tarIDRecord struct {
	nodes map[string]tarIDNode // by Path
	// shape is the whole tree's (tarshape.go).
	shape *lazyShape
	// partial: only the files of the lookups' ends are in nodes, the
	// way there is the shape's (trim).
	partial bool
}

// maxTarIDNodes bounds what a record's nodes take in its side file
// besides the files' bytes: the way of each lookup there. An archive
// may make that way long (links to folders 2,000 deep, each folder a
// node of up to 4 KiB of name), and a side file larger than what is read
// of it (maxTarIDFile) was no record: every plan hashed the archive
// again.
const maxTarIDNodes = 1 << 16

// trim keeps the record's files only, when their way there is longer
// than maxTarIDNodes: the lookups then walk the shape (view).
func (r *tarIDRecord) trim() {
	size := 0
	for _, n := range r.nodes {
		if !n.Read {
			size += 64 + (len(n.Path)+len(n.Link)+2)/3*4
		}
	}
	if size <= maxTarIDNodes {
		return
	}
	for p, n := range r.nodes {
		if n.Type != TarFile {
			delete(r.nodes, p)
		}
	}
	r.partial = true
}

// view is the record as a tree: the nodes recorded, nothing else (a
// lookup that only the recorded ones answer finds what the archive's
// tree has; one that a mount leads elsewhere in the tree finds nothing);
// a partial record's way is the shape's, nil if it has none (too large:
// the tree is not known).
func (r *tarIDRecord) view() treeView {
	var shape treeView
	if r.partial {
		if shape = r.shape.view(); shape == nil {
			return nil
		}
	}
	return func(p string) (File, bool) {
		n, ok := r.nodes[p]
		if !ok && shape != nil {
			return shape(p)
		}
		return File{Path: p, Type: n.Type, Link: n.Link, Size: n.Size}, ok
	}
}

// read is readInTree's for the archive's tree: the file at p (its links
// resolved), as readBelow reads a dir root's.
func (r *tarIDRecord) read(p string) (string, error) {
	n, ok := r.nodes[p]
	rel := strings.TrimPrefix(p, "/")
	switch {
	case !ok || n.Type != TarFile:
		return "", fmt.Errorf("%s: not a regular file of the archive", rel)
	case n.Size > maxIDFile:
		return "", fmt.Errorf("%s is larger than %d bytes", rel, maxIDFile)
	case !n.Read:
		return "", fmt.Errorf("%s: its bytes were not recorded when the archive was read", rel)
	}
	return string(n.Content), nil
}

// encode is the side file's content.
func (r *tarIDRecord) encode() []byte {
	var nodes []tarIDWire
	for _, p := range slices.Sorted(maps.Keys(r.nodes)) {
		n := r.nodes[p]
		nodes = append(nodes, tarIDWire{Path: []byte(n.Path), Type: n.Type, Link: []byte(n.Link), Size: n.Size, Content: n.Content, Read: n.Read})
	}
	if r.partial {
		nodes = append(nodes, tarIDWire{Type: tarIDPartial})
	}
	b, _ := json.Marshal(nodes)
	// One line of JSON (Marshal escapes a newline in a string), then the
	// shape, which is bytes after it.
	b = append(append([]byte(tarIDHeader), b...), '\n')
	if r.shape == nil {
		return append(b, tarShapeNone)
	}
	return append(b, r.shape.enc...)
}

// decodeTarID reads a side file's content (nil if it is not one).
func decodeTarID(b []byte) *tarIDRecord {
	rest, ok := bytes.CutPrefix(b, []byte(tarIDHeader))
	line, shape, ok2 := bytes.Cut(rest, []byte{'\n'})
	var nodes []tarIDWire
	if !ok || !ok2 || json.Unmarshal(line, &nodes) != nil {
		return nil
	}
	r := &tarIDRecord{nodes: map[string]tarIDNode{}, shape: &lazyShape{enc: shape}}
	for _, w := range nodes {
		if w.Type == tarIDPartial && len(w.Path) == 0 {
			r.partial = true
			continue
		}
		n := tarIDNode{Path: string(w.Path), Type: w.Type, Link: string(w.Link), Size: w.Size, Content: w.Content, Read: w.Read}
		if !strings.HasPrefix(n.Path, "/") || n.Type != TarDir && n.Type != TarFile && n.Type != TarSymlink || int64(len(n.Content)) > maxIDFile {
			return nil
		}
		r.nodes[n.Path] = n
	}
	return r
}

// tarLookup is one of tarIDPaths looked up in the tree as the walk has
// handed it over so far: where it ends (ok: at a node of the tree), and
// the names it asked for, found or not, as TarMember.Name has them (only
// a member of one of those names can change where it ends).
type tarLookup struct {
	at    string
	ok    bool
	asked map[string]bool
	// spent counts the names the lookup's walks asked for, all told;
	// past maxTarIDLook it gave up (capture).
	spent int
}

// maxTarIDLook bounds what capture's lookups ask for while the archive
// is walked: each member of a name a lookup asked walks it again, and
// an archive of a few members whose links lead through folders 2,000
// deep (each member's parent folders handed over one by one, each
// asked for by the walk before) took minutes of a plan. Past it, the
// lookup stops, and the one walk at the end (missing) finds the file
// whose bytes the second read takes (fill).
const maxTarIDLook = 1 << 14

// look looks p up in the tree so far.
func (t *TarEtc) look(p string) tarLookup {
	l := tarLookup{asked: map[string]bool{}}
	l.at, l.ok = walkIn(func(q string) (File, bool) {
		name := strings.TrimPrefix(q, "/")
		l.asked[name] = true
		l.spent++
		n, ok := t.nodes[name]
		return File{Path: q, Type: n.typ, Link: n.link}, ok
	}, p)
	return l
}

// capture takes the member m numbered i, just added: when one of
// identityFiles now ends at it, a regular file of at most maxIDFile
// bytes, its content is read (and handed on, for the caller to read).
func (t *TarEtc) capture(i int, m TarMember, content io.Reader) (io.Reader, error) {
	if t.ids == nil {
		t.ids = make([]tarLookup, len(identityFiles))
	}
	for k := range identityFiles {
		l := &t.ids[k]
		switch {
		case l.spent > maxTarIDLook:
			if l.ok || len(l.asked) > 0 {
				*l = tarLookup{asked: map[string]bool{}, spent: l.spent} // given up
			}
		case l.asked == nil || l.asked[m.Name]:
			spent := l.spent
			*l = t.look(identityFiles[k])
			l.spent += spent
		}
	}
	if m.Type != TarFile || m.Size > maxIDFile {
		return content, nil
	}
	for _, l := range t.ids {
		if l.ok && strings.TrimPrefix(l.at, "/") == m.Name {
			b, err := io.ReadAll(io.LimitReader(content, maxIDFile+1))
			if err != nil {
				return nil, err
			}
			if t.got == nil {
				t.got = map[int][]byte{}
			}
			t.got[i] = b
			// Only the files the lookups end at now are kept: an archive
			// of a thousand passwd files holds one at a time.
			for j := range t.got {
				if !t.endsAt(j) {
					delete(t.got, j)
				}
			}
			return bytes.NewReader(b), nil
		}
	}
	return content, nil
}

// endsAt says whether a lookup of identityFiles ends at a file whose
// bytes are member i's.
func (t *TarEtc) endsAt(i int) bool {
	for _, l := range t.ids {
		if n, ok := t.nodes[strings.TrimPrefix(l.at, "/")]; l.ok && ok && n.typ == TarFile && n.src == i {
			return true
		}
	}
	return false
}

// missing are the members whose bytes the record needs and the walk did
// not keep: a file the lookup ends at through a link the archive holds
// after it (only the end of the walk tells where the lookup ends).
func (t *TarEtc) missing() map[int]bool {
	out := map[int]bool{}
	for k, l := range t.ids {
		if l.spent > maxTarIDLook {
			l = t.look(identityFiles[k])
		}
		n, ok := t.nodes[strings.TrimPrefix(l.at, "/")]
		if !l.ok || !ok || n.typ != TarFile || n.size > maxIDFile {
			continue
		}
		if _, kept := t.got[n.src]; !kept {
			out[n.src] = true
		}
	}
	return out
}

// fill is a TarFunc for a second walk of the same archive: it reads into
// got the bytes of the members need numbers (missing), counting as Add
// does. The caller keeps them (TarEtc.got) only if that read was of the
// digest the first one gave.
func fill(need map[int]bool, got map[int][]byte) TarFunc {
	i := 0
	return func(m TarMember, content io.Reader) error {
		defer func() { i++ }()
		if !need[i] {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(content, maxIDFile+1))
		if err != nil {
			return err
		}
		got[i] = b
		return nil
	}
}

// record is what the walk found where identityOf looks: nil if it lacks
// a file's bytes (missing). Asked of a whole walk only.
func (t *TarEtc) record() *tarIDRecord {
	r := &tarIDRecord{nodes: map[string]tarIDNode{}, shape: &lazyShape{enc: encodeTarShape(t.nodes)}}
	for k, p := range tarIDPaths {
		at, ok := walkIn(func(q string) (File, bool) {
			n, ok := t.nodes[strings.TrimPrefix(q, "/")]
			if ok {
				r.nodes[q] = tarIDNode{Path: q, Type: n.typ, Link: n.link, Size: n.size}
			}
			return File{Path: q, Type: n.typ, Link: n.link}, ok
		}, p)
		n := t.nodes[strings.TrimPrefix(at, "/")]
		if !ok || k >= len(identityFiles) || n.typ != TarFile || n.size > maxIDFile {
			continue
		}
		b, kept := t.got[n.src]
		if !kept {
			return nil
		}
		r.nodes[at] = tarIDNode{Path: at, Type: TarFile, Size: n.size, Content: b, Read: true}
	}
	r.trim()
	return r
}

// TarIDFile is the side file of the archive of digest (its sha256).
func (x *Index) TarIDFile(digest string) string {
	return filepath.Join(x.dir, strings.TrimPrefix(digest, "sha256:")+".etc")
}

// tarID returns the record of the archive of digest: this run's, or the
// side file's if the index is trusted; nil if neither.
func (x *Index) tarID(digest string) *tarIDRecord {
	if x == nil || !isHexDigest(digest) {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if r, ok := x.ids[digest]; ok {
		return r.rec
	}
	var r *tarIDRecord
	if x.trusted() {
		if b, err := x.readSideFile(filepath.Base(x.TarIDFile(digest)), maxTarIDFile); err == nil {
			r = decodeTarID(b)
		}
	}
	x.ids[digest] = tarIDEntry{rec: r}
	return r
}

// TarIDUpdate returns the side file of digest to write, when this run
// found what the archive has and the side file does not say it yet.
func (x *Index) TarIDUpdate(digest string) ([]byte, bool) {
	if x == nil || !isHexDigest(digest) {
		return nil, false
	}
	x.mu.Lock()
	e, ok := x.ids[digest]
	x.mu.Unlock()
	if !ok || !e.fresh || e.rec == nil {
		return nil, false
	}
	b := e.rec.encode()
	if old, err := regfile.ReadBeneath(x.dir, filepath.Base(x.TarIDFile(digest)), maxTarIDFile); err == nil && bytes.Equal(old, b) {
		return nil, false
	}
	return b, true
}

// tarIDEntry is a record as this run knows it: found by this run
// (fresh), or read from the side file (nil if none).
type tarIDEntry struct {
	rec   *tarIDRecord
	fresh bool
}

// observeTarID keeps what a whole walk of the archive of digest found.
func (x *Index) observeTarID(digest string, r *tarIDRecord) {
	if x == nil || r == nil || !isHexDigest(digest) {
		return
	}
	x.mu.Lock()
	x.ids[digest] = tarIDEntry{rec: r, fresh: true}
	x.mu.Unlock()
}

func isHexDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	return ok && len(h) == 64 && strings.Trim(h, "0123456789abcdef") == ""
}
