package planner

// What a tar root has at the files of /etc nsup may generate for it
// (/etc/resolv.conf and /etc/hosts: put read-only over the root's own,
// which must be a file). The plan does not list a tar's files at each
// plan: the archive is read once, when its digest is not in the index
// (one read, hashed and walked together), and what the walk found is kept
// with the digest in the index, served with it while the archive's
// fingerprint is unchanged. apply, which walks the archive to unpack it,
// records the same.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"strings"
	"syscall"
)

// tarEtcPaths are the files of a tar root the plan asks about, in the
// order TarEtc.String gives their letters.
var tarEtcPaths = []string{"/etc/resolv.conf", "/etc/hosts"}

// tarEtcPrefix starts the index's word for them; another list of paths
// would be another prefix (an entry with an old one is hashed again).
const tarEtcPrefix = "etc1="

// TarEtc gathers, from the members of an archive as WalkTar hands them
// over, what its tree has at tarEtcPaths, and where identityOf looks
// (taridentity.go). The zero value is ready.
type TarEtc struct {
	nodes map[string]tarEtcNode // by name, as TarMember.Name
	n     int                   // the members handed over so far
	// ids are the lookups of identityFiles in the tree so far; got the
	// bytes of the files they end at, by member number.
	ids []tarLookup
	got map[int][]byte
}

// tarEtcNode is a name of the tree: a hard link is the file it is one
// more name of (src, the number of the member whose bytes it has).
type tarEtcNode struct {
	typ, link string
	size      int64
	src       int
	mode      uint32 // the shape's (tarshape.go)
}

// Add takes one member handed over by WalkTar, with its content (a later
// one of a name replaces the earlier, as in the tree), and returns the
// reader the caller reads that content from: content, or the bytes Add
// read of a file identityOf will read.
func (t *TarEtc) Add(m TarMember, content io.Reader) (io.Reader, error) {
	i := t.n
	t.n++
	if m.Name == "" {
		return content, nil
	}
	if t.nodes == nil {
		t.nodes = map[string]tarEtcNode{}
	}
	n := tarEtcNode{typ: m.Type, size: m.Size, src: i, mode: m.Mode}
	switch m.Type {
	case TarHardlink:
		n.typ, n.src = TarFile, t.nodes[m.Link].src
	case TarSymlink:
		n.link = m.Link
	}
	t.nodes[m.Name] = n
	return t.capture(i, m, content)
}

// String is the index's word for what the tree has at tarEtcPaths: the
// prefix, then for each path "f" if it resolves (the tree's symlinks
// followed inside it, as resolveIn does) to a regular file, else "-".
func (t *TarEtc) String() string {
	view := func(p string) (File, bool) {
		n, ok := t.nodes[strings.TrimPrefix(p, "/")]
		return File{Path: p, Type: n.typ, Link: n.link}, ok
	}
	var b strings.Builder
	b.WriteString(tarEtcPrefix)
	for _, p := range tarEtcPaths {
		if f, ok := resolveIn(view, p); ok && f.Type == TarFile {
			b.WriteByte('f')
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// validTarEtc says whether s is a word TarEtc.String gives.
func validTarEtc(s string) bool {
	w, ok := strings.CutPrefix(s, tarEtcPrefix)
	return ok && len(w) == len(tarEtcPaths) && strings.Trim(w, "f-") == ""
}

// tarEtcHas says whether etc (TarEtc.String) has a regular file at p,
// one of tarEtcPaths.
func tarEtcHas(etc, p string) bool {
	w := strings.TrimPrefix(etc, tarEtcPrefix)
	for i, q := range tarEtcPaths {
		if q == p {
			return i < len(w) && w[i] == 'f'
		}
	}
	return false
}

// hashTar returns the sha256 of the archive at p (hashFile's way), what
// its tree has at tarEtcPaths (TarEtc.String) and where identityOf looks
// (TarEtc.record): from the index under key when the archive is
// unchanged and its entry and side file say them, else by reading it,
// walked (WalkTar) as it is hashed. A second read, as the first, is
// needed only when a file identityOf reads is reached through a link
// that the archive holds after it. For an archive the walk refuses the
// second is "" and the third nil (nothing known), and nothing is
// recorded: apply's rootfs step, which walks it the same way, refuses it
// before anything is put over its files.
func (x *Index) hashTar(key, p string, real bool) (string, string, *tarIDRecord, error) {
	f, before, err := openHashed(p, real)
	if err != nil {
		return "", "", nil, err
	}
	defer f.Close()
	if e, ok := x.lookup(key, p, &before); ok && validTarEtc(e.etc) {
		if r := x.tarID(e.digest); r != nil {
			return e.digest, e.etc, r, nil
		}
	}
	var etc TarEtc
	d, walkErr, err := hashWalk(f, func(m TarMember, content io.Reader) error {
		_, err := etc.Add(m, content)
		return err
	})
	if err != nil {
		return "", "", nil, fmt.Errorf("read %s: %w", p, err)
	}
	if walkErr != nil {
		return d, "", nil, nil
	}
	if need := etc.missing(); len(need) > 0 {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", "", nil, fmt.Errorf("read %s: %w", p, err)
		}
		got := map[int][]byte{}
		if d2, walkErr, err := hashWalk(f, fill(need, got)); err == nil && walkErr == nil && d2 == d {
			if etc.got == nil {
				etc.got = map[int][]byte{}
			}
			maps.Copy(etc.got, got)
		}
	}
	rec := etc.record() // once: it sorts the tree's names for its shape
	var after syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &after) == nil {
		x.observe(p, &before, &after, indexEntry{digest: d, etc: etc.String()})
		x.observeTarID(d, rec)
	}
	return d, etc.String(), rec, nil
}

// hashWalk reads r to its end, hashed, and walks it (WalkTar) with fn: the
// digest covers every byte, past the tar stream too (and past where a
// refused one stopped the walk); walkErr is the walk's error, err a
// read's.
func hashWalk(r io.Reader, fn TarFunc) (d string, walkErr, err error) {
	h := sha256.New()
	tr := io.TeeReader(r, h)
	walkErr = WalkTar(tr, fn)
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return "", nil, err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), walkErr, nil
}
