package planner

// The digest index: which sha256 a host file had, by its fingerprint, so
// that a warm plan does not read again every byte of a closure's files or
// of a tar archive (hashing the closure of /bin/bash reads 3.5 MB; looking
// its files up here costs one lstat(2) each, which resolving them does
// anyway).
//
// The index lives in the cache, CACHE/index/KEY, one small text file per
// rootfs source (a closure's path list, an archive's path), written by
// nsup apply (the executor's rootfs step) with what this package observed,
// never by the planner, which only reads it. A file's entry holds when its
// device, inode, size, mtime and ctime are all unchanged: any write changes
// ctime, which user space cannot set back. An entry is recorded only when
// the file did not change while it was read and its ctime is older than
// racyWindow, so that a write in the same clock tick as the hashing (file
// timestamps are only as fine as the kernel's coarse clock) cannot hide
// behind an identical fingerprint, as git's "racily clean" entries.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nsup/nsup/internal/owndir"
	"github.com/nsup/nsup/internal/regfile"
	"golang.org/x/sys/unix"
)

// racyWindow: a file changed this recently is hashed every time.
var racyWindow = 2 * time.Second

// indexHeader starts every index file; another first line means another
// format, read as empty.
const indexHeader = "nsup-index-v1\n"

// fingerprint is what tells that a file is unchanged.
type fingerprint struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

func fingerprintOf(st *syscall.Stat_t) fingerprint {
	return fingerprint{
		dev: st.Dev, ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec,
		ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
	}
}

type indexEntry struct {
	fp     fingerprint
	digest string
	// etc is what a tar archive's tree has at the files of /etc the plan
	// may generate (tarEtc): "" for a closure's file, or an entry written
	// before it was recorded.
	etc string
}

// Index is the digest index of one cache, as one nsup run sees it: the
// entries it read and those it observed itself. Its methods are safe for
// concurrent use. A nil *Index knows nothing and records nothing.
type Index struct {
	dir    string
	mu     sync.Mutex
	loaded map[string]map[string]indexEntry // by key, then path: as read
	fresh  map[string]indexEntry            // by path: hashed by this run
	// ids are tar archives' records (taridentity.go), by digest.
	ids map[string]tarIDEntry
	// trusted says whether the index and the cache it is in are the
	// caller's own (CheckCacheDir), asked once; an index that is not is
	// not read: it is only a cache, whose lines a plan would otherwise
	// take as digests.
	trusted func() bool
}

// NewIndex returns the index of the cache at cacheDir. It reads nothing
// until asked.
func NewIndex(cacheDir string) *Index {
	x := &Index{dir: filepath.Join(cacheDir, "index"), loaded: map[string]map[string]indexEntry{}, fresh: map[string]indexEntry{}, ids: map[string]tarIDEntry{}}
	x.trusted = sync.OnceValue(func() bool {
		return CheckCacheDir(x.dir) == nil // the cache is on its way
	})
	return x
}

// IndexKey names the index file of a rootfs source: its kind ("closure",
// "tar") and the paths the spec named.
func IndexKey(kind string, sources []string) string {
	h := sha256.New()
	io.WriteString(h, kind)
	for _, s := range sources {
		h.Write([]byte{0})
		io.WriteString(h, s)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// CheckCacheDir refuses a cache folder (the cache itself, one of its
// kinds, its index) that is not the caller's alone (owndir.Check):
// another user who could write there, or replace it, could plant an entry
// or an index line under a digest a plan will name, and choose what runs,
// as root, inside (a shared NSUP_CACHE_DIR on a CI box).
func CheckCacheDir(d string) error {
	if err := owndir.Check("cache folder", d); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("%w; whoever may write there chooses what runs inside: use a cache of your own (NSUP_CACHE_DIR)", err)
		}
		return err
	}
	return nil
}

// read reads key's index file, if the index is trusted.
func (x *Index) read(key string) map[string]indexEntry {
	if !x.trusted() {
		return map[string]indexEntry{}
	}
	return readIndexFile(x.File(key))
}

// File is the index file of key.
func (x *Index) File(key string) string { return filepath.Join(x.dir, key) }

// lookup returns the entry recorded for p if st (its lstat or fstat now)
// shows the same file, unchanged.
func (x *Index) lookup(key, p string, st *syscall.Stat_t) (indexEntry, bool) {
	if x == nil {
		return indexEntry{}, false
	}
	fp := fingerprintOf(st)
	x.mu.Lock()
	defer x.mu.Unlock()
	if e, ok := x.fresh[p]; ok && e.fp == fp {
		return e, true
	}
	m, ok := x.loaded[key]
	if !ok {
		m = x.read(key)
		x.loaded[key] = m
	}
	if e, ok := m[p]; ok && e.fp == fp {
		return e, true
	}
	return indexEntry{}, false
}

// Observe records that the file at p has digest, read through an fd whose
// fstat(2) was before when the reading started and after when it ended.
// Nothing is recorded if the file changed meanwhile or too recently.
func (x *Index) Observe(p string, before, after *syscall.Stat_t, digest string) {
	x.observe(p, before, after, indexEntry{digest: digest})
}

// ObserveTar is Observe for a tar archive, with what a whole walk of it
// found: what its tree has at the files of /etc the plan may generate
// (TarEtc.String, in the entry), and where identityOf looks (its record,
// kept whatever the fingerprint says: it is of the digest, which the
// walk's own read gave; TarIDUpdate).
func (x *Index) ObserveTar(p string, before, after *syscall.Stat_t, digest string, etc *TarEtc) {
	x.observe(p, before, after, indexEntry{digest: digest, etc: etc.String()})
	x.observeTarID(digest, etc.record())
}

func (x *Index) observe(p string, before, after *syscall.Stat_t, e indexEntry) {
	if x == nil {
		return
	}
	fp := fingerprintOf(before)
	if fp != fingerprintOf(after) || time.Now().UnixNano()-fp.ctime < racyWindow.Nanoseconds() {
		return
	}
	e.fp = fp
	x.mu.Lock()
	x.fresh[p] = e
	x.mu.Unlock()
}

// Update returns the content of key's index file covering paths, from what
// this run observed and what the file held, and whether it says anything
// the file does not (false: there is nothing to write).
func (x *Index) Update(key string, paths []string) ([]byte, bool) {
	if x == nil {
		return nil, false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	old, ok := x.loaded[key]
	if !ok {
		old = x.read(key)
		x.loaded[key] = old
	}
	changed := false
	for _, p := range paths {
		if e, ok := x.fresh[p]; ok && old[p] != e {
			changed = true
			break
		}
	}
	if !changed {
		return nil, false // the usual warm run: nothing to format
	}
	paths = slices.Clone(paths)
	slices.Sort(paths)
	paths = slices.Compact(paths)
	var b bytes.Buffer
	b.WriteString(indexHeader)
	for _, p := range paths {
		e, ok := x.fresh[p]
		if ok {
			old[p] = e // what the file will hold once the caller writes it
		} else {
			if e, ok = old[p]; !ok {
				continue
			}
		}
		etc := ""
		if e.etc != "" {
			etc = e.etc + " " // before the path, which is quoted: never taken for it
		}
		fmt.Fprintf(&b, "%s %d %d %d %d %d %s%s\n", e.digest, e.fp.size, e.fp.mtime, e.fp.ctime, e.fp.dev, e.fp.ino, etc, strconv.Quote(p))
	}
	return b.Bytes(), true
}

// readIndexFile reads an index file; a missing or damaged one is empty (it
// is only a cache: a wrong line costs a hash, never a wrong digest, since
// an entry holds only for its exact fingerprint).
func readIndexFile(name string) map[string]indexEntry {
	m := map[string]indexEntry{}
	b, err := os.ReadFile(name)
	if err != nil || !bytes.HasPrefix(b, []byte(indexHeader)) {
		return m
	}
	sc := bufio.NewScanner(bytes.NewReader(b[len(indexHeader):]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 7)
		if len(f) != 7 || !strings.HasPrefix(f[0], "sha256:") {
			continue
		}
		var n [5]int64
		bad := false
		for i := range n {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			n[i], bad = v, bad || err != nil
		}
		etc, quoted := "", f[6]
		if !strings.HasPrefix(quoted, `"`) {
			// A tar archive's: what its tree has in /etc, then the path.
			etc, quoted, _ = strings.Cut(quoted, " ")
			if !validTarEtc(etc) {
				continue
			}
		}
		p, err := strconv.Unquote(quoted)
		if bad || err != nil {
			continue
		}
		m[p] = indexEntry{fingerprint{dev: uint64(n[3]), ino: uint64(n[4]), size: n[0], mtime: n[1], ctime: n[2]}, f[0], etc}
	}
	return m
}

// hashFile returns the sha256 of the file at p (following symlinks), from
// the index under key when the file is unchanged, else by reading it (and
// recording what it read in the index).
func (x *Index) hashFile(key, p string, real bool) (string, int64, error) {
	f, before, err := openHashed(p, real)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if e, ok := x.lookup(key, p, &before); ok {
		return e.digest, before.Size, nil
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", p, err)
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	var after syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &after) == nil {
		x.Observe(p, &before, &after, d)
	}
	return d, n, nil
}

// openHashed opens the regular file at p to hash it (OpenReal if real,
// else OpenFile), and returns its fstat(2).
func openHashed(p string, real bool) (*os.File, syscall.Stat_t, error) {
	var st syscall.Stat_t
	var f *os.File
	var err error
	if real {
		f, err = OpenReal(p)
	} else {
		f, err = OpenFile(p)
	}
	if err != nil {
		return nil, st, err
	}
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, st, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		f.Close()
		return nil, st, fmt.Errorf("%s: not a regular file", p)
	}
	return f, st, nil
}

// OpenFile opens the regular file at p (following symlinks) for
// reading, and nothing else (regfile.Open): a FIFO or a device named by
// a spec, an ELF file's DT_NEEDED or RUNPATH, or a symlink in a
// repository, is never opened.
func OpenFile(p string) (*os.File, error) { return regfile.Open(p) }

// OpenReal opens p for reading, p a real path (a closure lists its files
// so: every symlink on the way resolved), refusing a symlink anywhere in
// it (RESOLVE_NO_SYMLINKS): one put there since, a folder of the path
// swapped for a link, would lead to a file the plan did not name, one
// only root may read, say (a closure's folder that someone else may
// write). Non-blocking, so that a fifo put there does not hang the open.
func OpenReal(p string) (*os.File, error) { return regfile.OpenNoSymlinks(p) }
