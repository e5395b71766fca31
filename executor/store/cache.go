package store

// The cache of root trees (design.md, "Host state"): one content-addressed
// store for closure and tar trees.
//
//	CACHE/KIND/HEX        a tree (KIND closure or tar; HEX its digest),
//	                      complete once there (a closure tree holds the
//	                      folders its environments mount on; in a tar
//	                      tree, the child stage makes the missing ones,
//	                      empty, as in a dir rootfs, unless under overlay)
//	CACHE/KIND/HEX.json   what it was built from; its mtime is its last use
//	CACHE/KIND/HEX.build  a lock file, held by the one process building it
//	CACHE/index/KEY       the digest index (planner.Index)
//	CACHE/index/HEX.etc   what the archive of sha256 HEX has where the
//	                      plan reads identities (planner.Index.TarIDFile)
//
// An entry is built in a temporary sibling (HEX.tmp-*) and renamed into
// place: a reader sees no entry or a complete one. Builders of one entry
// take HEX.build in turn (flock(2) LOCK_EX), and the later ones find it
// built; should two build it anyway (a lock file removed by a prune in
// between), the second rename fails and its tree, identical, is dropped.
// While an environment runs on an entry, its nsup holds a shared flock on
// the entry's folder; nsup cache prune takes it exclusively, without
// waiting, and leaves the entry alone when it cannot.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// entryMeta is HEX.json.
type entryMeta struct {
	Kind    string    `json:"kind"`
	Digest  string    `json:"digest"`
	Sources []string  `json:"sources"`
	Files   int       `json:"files"`
	Bytes   int64     `json:"bytes"`
	Built   time.Time `json:"built"`
}

// checkCache checks a kind's folder of the cache where it is
// (planner.CheckCacheDir): the caller's own, which no one else may write
// to or replace (the cache above it is one of the folders on its way).
func checkCache(kind string) error {
	if err := planner.CheckCacheDir(kind); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// usedEvery: an entry's last use is recorded at most this often (one
// utimensat(2) of its HEX.json), so that a warm apply writes nothing.
const usedEvery = time.Hour

// errGone is an entry removed (by a prune) between its lookup and its lock.
var errGone = errors.New("cache entry removed meanwhile")

// useEntry returns the cache entry at p, open and share-locked for as long
// as the caller keeps the file, building it with build first if missing.
func useEntry(ctx context.Context, p string, build func(ctx context.Context, tmp string) (entryMeta, error)) (*os.File, error) {
	// The cache and the kind's folder, made first if missing (0700), then
	// checked: the caller's own (checkCache), which no one else may write
	// to or replace from then on, so that no one else can put an entry
	// there (an entry's own folder has the owner and mode of its
	// archive's root). Checked only where they already were, a cache
	// another user made between the check and the entry's open was used
	// (found by a review, and again under load by
	// TestRootCacheMadeMeanwhile).
	kind := filepath.Dir(p)
	if err := os.MkdirAll(kind, 0o700); err != nil {
		return nil, err
	}
	if err := checkCache(kind); err != nil {
		return nil, err
	}
	for try := 0; try < 3; try++ {
		f, err := lockEntry(p, unix.LOCK_SH)
		if err == nil {
			touchUsed(p)
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errGone) {
			return nil, err
		}
		if err := buildEntry(ctx, p, build); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s: %w, again and again", p, errGone)
}

// lockEntry opens the entry's folder and flocks it (how: LOCK_SH, or
// LOCK_EX|LOCK_NB for a prune). The lock is on the folder the name held
// when it was opened: if a prune renamed it away meanwhile, errGone.
func lockEntry(p string, how int) (*os.File, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	if err := flock(fd, how); err != nil {
		f.Close()
		return nil, err
	}
	var a, b unix.Stat_t
	if unix.Fstat(fd, &a) != nil || unix.Lstat(p, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
		f.Close()
		return nil, errGone
	}
	return f, nil
}

func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// touchUsed records a use of the entry at p, at most once per usedEvery.
func touchUsed(p string) {
	var st unix.Stat_t
	if unix.Stat(p+".json", &st) != nil || time.Since(time.Unix(st.Mtim.Unix())) < usedEvery {
		return
	}
	now := time.Now()
	os.Chtimes(p+".json", now, now)
}

// buildEntry builds the entry at p unless another nsup has, holding
// p.build meanwhile.
func buildEntry(ctx context.Context, p string, build func(ctx context.Context, tmp string) (entryMeta, error)) (err error) {
	parent, base := filepath.Dir(p), filepath.Base(p)
	// The cache is nsup's alone: what it creates is 0700. MkdirAll takes
	// a folder someone else made meanwhile: checked again.
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	if err := checkCache(parent); err != nil {
		return err
	}
	lock, err := lockBuild(p)
	if err != nil {
		return err
	}
	defer lock.Close()
	defer func() {
		if err != nil {
			// Nothing of a failed build stays (a builder waiting on this
			// lock file builds anyway, and the renames settle it).
			os.Remove(p + ".build")
		}
	}()
	if _, err := os.Lstat(p); err == nil {
		return nil // built by the nsup we waited for
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
	meta, err := build(ctx, tmp)
	if err != nil {
		return err
	}
	meta.Built = time.Now().UTC().Truncate(time.Second)
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := writeAtomic(p+".json", append(b, '\n')); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		// Built by another nsup meanwhile (see the file comment): its tree
		// has the same digest, so it is as good as ours.
		if isDir(p) == nil {
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

// lockBuild opens and locks p.build, a lock that p.build still names once
// held: a lock file unlinked meanwhile (by the failed build this waited
// for, or a prune) would be no lock, and a prune would take this build's
// HEX.tmp-* for a dead one. p.build is only unlinked by its holder.
func lockBuild(p string) (*os.File, error) {
	for {
		lock, err := os.OpenFile(p+".build", os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		if err := flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
			lock.Close()
			return nil, err
		}
		var a, b unix.Stat_t
		if unix.Fstat(int(lock.Fd()), &a) == nil && unix.Lstat(p+".build", &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino {
			return lock, nil
		}
		lock.Close()
	}
}

// removeBuildLock removes p.build unless a builder holds it, holding it
// meanwhile (see lockBuild).
func removeBuildLock(p string) {
	lf, err := os.Open(p + ".build")
	if err != nil {
		return
	}
	defer lf.Close()
	if unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		os.Remove(p + ".build")
	}
}

// writeAtomic writes name through a temporary sibling and a rename.
func writeAtomic(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp-")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// saveIndex writes the digest index of a rootfs source when this run
// learnt something about its files (a warm run writes nothing).
func saveIndex(idx *planner.Index, op planner.Rootfs) error {
	if idx == nil || (op.Type != "closure" && op.Type != "tar") {
		return nil
	}
	var paths []string
	if op.Type == "tar" {
		paths = op.Sources
	} else {
		for _, f := range op.Files {
			if f.Source != "" {
				paths = append(paths, f.Source)
			}
		}
	}
	key := planner.IndexKey(op.Type, op.Sources)
	b, changed := idx.Update(key, paths)
	if !changed {
		return nil
	}
	name := idx.File(key)
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	if err := planner.CheckCacheDir(filepath.Dir(name)); err != nil {
		return err
	}
	return writeAtomic(name, b)
}

// saveTarID writes the side file of a tar rootfs's digest (what its tree
// has where the plan reads identities: planner.Index.TarIDUpdate) when
// this run found it and the file does not say it yet.
func saveTarID(idx *planner.Index, op planner.Rootfs) error {
	if op.Type != "tar" {
		return nil
	}
	b, ok := idx.TarIDUpdate(op.Digest)
	if !ok {
		return nil
	}
	name := idx.TarIDFile(op.Digest)
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	if err := planner.CheckCacheDir(filepath.Dir(name)); err != nil {
		return err
	}
	return writeAtomic(name, b)
}

// CacheEntry is one tree of the cache, as nsup cache ls shows it.
type CacheEntry struct {
	Kind    string   `json:"kind"`
	Digest  string   `json:"digest"`
	Path    string   `json:"path"`
	Sources []string `json:"sources,omitempty"`
	Files   int      `json:"files"`
	Bytes   int64    `json:"bytes"`
	// Used is the entry's last use (at most usedEvery old when in use).
	Used time.Time `json:"used"`
	// InUse: an nsup apply holds it now.
	InUse bool `json:"inUse"`
}

// cacheKinds are the folders of the cache that hold trees.
var cacheKinds = []string{"closure", "tar"}

// ListCache lists the trees of the cache at dir, by kind, then digest.
func ListCache(dir string) ([]CacheEntry, error) {
	var out []CacheEntry
	for _, kind := range cacheKinds {
		// The caller's own (planner.CheckCacheDir): an entry planted in a
		// cache others may write to is neither listed (its sources are
		// theirs to write) nor pruned (its folders theirs to swap).
		if err := checkCache(filepath.Join(dir, kind)); err != nil {
			return nil, err
		}
		ents, err := os.ReadDir(filepath.Join(dir, kind))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !isDigestName(e.Name()) || !e.IsDir() {
				continue
			}
			out = append(out, describe(filepath.Join(dir, kind, e.Name()), kind))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Digest < out[j].Digest
	})
	return out, nil
}

func isDigestName(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// describe reads an entry's HEX.json, or walks it when there is none.
func describe(p, kind string) CacheEntry {
	e := CacheEntry{Kind: kind, Digest: "sha256:" + filepath.Base(p), Path: p}
	var meta entryMeta
	if b, err := os.ReadFile(p + ".json"); err == nil && json.Unmarshal(b, &meta) == nil {
		e.Sources, e.Files, e.Bytes = meta.Sources, meta.Files, meta.Bytes
		if st, err := os.Stat(p + ".json"); err == nil {
			e.Used = st.ModTime()
		}
	} else {
		filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					e.Files++
					e.Bytes += fi.Size()
				}
			}
			return nil
		})
		if st, err := os.Stat(p); err == nil {
			e.Used = st.ModTime()
		}
	}
	if f, err := lockEntry(p, unix.LOCK_EX|unix.LOCK_NB); err == nil {
		f.Close()
	} else {
		e.InUse = errors.Is(err, unix.EWOULDBLOCK)
	}
	return e
}

// PruneOptions say which entries PruneCache removes: those not in Keep
// (cache paths) and unused for OlderThan or longer. An entry in use by a
// running environment is never removed.
type PruneOptions struct {
	Keep      map[string]bool
	OlderThan time.Duration
	DryRun    bool
	Now       time.Time
}

// PruneCache removes the trees that o selects from the cache at dir, and
// what failed builds and earlier prunes left behind; index files follow
// the same age rule. It returns the entries removed (or, with DryRun,
// those it would remove).
func PruneCache(dir string, o PruneOptions) ([]CacheEntry, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	ents, err := ListCache(dir)
	if err != nil {
		return nil, err
	}
	var removed []CacheEntry
	var errs []error
	for _, e := range ents {
		if e.InUse || o.Keep[e.Path] || o.Now.Sub(e.Used) < o.OlderThan {
			continue
		}
		if o.DryRun {
			removed = append(removed, e)
			continue
		}
		ok, err := removeEntry(e.Path)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed = append(removed, e)
		}
	}
	if !o.DryRun {
		errs = append(errs, sweep(dir, o))
	}
	return removed, errors.Join(errs...)
}

// removeEntry removes the entry at p unless an apply holds it: locked
// exclusively, renamed away (an apply that opened it meanwhile finds its
// name gone and builds it again), then deleted.
func removeEntry(p string) (bool, error) {
	f, err := lockEntry(p, unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, errGone) || errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	defer f.Close()
	trash, err := os.MkdirTemp(filepath.Dir(p), ".trash-")
	if err != nil {
		return false, err
	}
	if err := os.Rename(p, filepath.Join(trash, "tree")); err != nil {
		os.Remove(trash)
		return false, err
	}
	os.Remove(p + ".json")
	removeBuildLock(p)
	f.Close()
	removeTree(trash)
	return true, nil
}

// sweep removes the leftovers of builds that died (HEX.tmp-* whose build
// lock is free), of prunes that died (.trash-*), HEX.json and HEX.build
// without a tree, and index files unused for o.OlderThan.
func sweep(dir string, o PruneOptions) error {
	for _, kind := range cacheKinds {
		kd := filepath.Join(dir, kind)
		ents, _ := os.ReadDir(kd)
		for _, e := range ents {
			n := e.Name()
			p := filepath.Join(kd, n)
			switch {
			case strings.HasPrefix(n, ".trash-"):
				removeTree(p)
			case strings.Contains(n, ".tmp-"):
				hexName, _, _ := strings.Cut(n, ".")
				if lf, err := os.Open(filepath.Join(kd, hexName+".build")); err == nil {
					if unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
						removeTree(p)
					}
					lf.Close()
				} else if errors.Is(err, fs.ErrNotExist) {
					removeTree(p)
				}
			case strings.HasSuffix(n, ".json"), strings.HasSuffix(n, ".build"):
				base := strings.TrimSuffix(strings.TrimSuffix(n, ".json"), ".build")
				if _, err := os.Lstat(filepath.Join(kd, base)); errors.Is(err, fs.ErrNotExist) && isDigestName(base) {
					// Removed while holding the build lock (lockBuild).
					if lf, err := os.Open(filepath.Join(kd, base+".build")); err == nil {
						if unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
							os.Remove(p)
						} // else being built
						lf.Close()
					} else {
						os.Remove(p)
					}
				}
			}
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "index"))
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && !o.Keep[filepath.Join(dir, "index", e.Name())] && o.Now.Sub(fi.ModTime()) >= o.OlderThan {
			os.Remove(filepath.Join(dir, "index", e.Name()))
		}
	}
	return nil
}
