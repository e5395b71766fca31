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
// over, what its tree has at tarEtcPaths. The zero value is ready.
type TarEtc struct {
	nodes map[string]tarEtcNode // by name, as TarMember.Name
}

type tarEtcNode struct{ typ, link string }

// Add takes one member handed over by WalkTar (a later one of a name
// replaces the earlier, as in the tree).
func (t *TarEtc) Add(m TarMember) {
	if m.Name == "" {
		return
	}
	if t.nodes == nil {
		t.nodes = map[string]tarEtcNode{}
	}
	typ := m.Type
	if typ == TarHardlink {
		typ = TarFile
	}
	n := tarEtcNode{typ: typ}
	if typ == TarSymlink {
		n.link = m.Link
	}
	t.nodes[m.Name] = n
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

// hashTar returns the sha256 of the archive at p (hashFile's way) and
// what its tree has at tarEtcPaths (TarEtc.String): from the index
// under key when the archive is unchanged and its entry says both, else
// by reading it once, walked (WalkTar) as it is hashed. For an archive
// the walk refuses the second is "" (nothing known), and nothing is
// recorded: apply's rootfs step, which walks it the same way, refuses it
// before anything is put over its files.
func (x *Index) hashTar(key, p string, real bool) (string, string, error) {
	f, before, err := openHashed(p, real)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	if e, ok := x.lookup(key, p, &before); ok && validTarEtc(e.etc) {
		return e.digest, e.etc, nil
	}
	h := sha256.New()
	r := io.TeeReader(f, h)
	var etc TarEtc
	walkErr := WalkTar(r, func(m TarMember, _ io.Reader) error {
		etc.Add(m)
		return nil
	})
	// The digest covers every byte of the file, past the tar stream too
	// (and past where a refused one stopped the walk).
	if _, err := io.Copy(io.Discard, r); err != nil {
		return "", "", fmt.Errorf("read %s: %w", p, err)
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if walkErr != nil {
		return d, "", nil
	}
	var after syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &after) == nil {
		x.ObserveTar(p, &before, &after, d, etc.String())
	}
	return d, etc.String(), nil
}
