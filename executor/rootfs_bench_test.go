package executor_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// The rootfs benchmarks time what nsup plan and the rootfs step of nsup
// apply do for a root tree: resolving it (the planner: closure, digests)
// and making it the root (the executor: build the cache entry, or find and
// lock it). Cold: an empty cache and no digest index, everything hashed
// and copied or unpacked. Warm: the entry and the index are there.

// benchSpec plans yaml (written as dir/bench.yaml) with the cache at
// cache and a fresh view of its index; it returns the rootfs step.
func benchPlan(b *testing.B, dir, cache, yaml string) (planner.Rootfs, *planner.Index) {
	b.Helper()
	s, err := spec.ParseBytesVars("bench.yaml", dir, []byte(yaml), asWritten)
	if err != nil {
		b.Fatal(err)
	}
	idx := planner.NewIndex(cache)
	p, err := planner.Compile(s, planner.Options{CacheDir: cache, Index: idx})
	if err != nil {
		b.Fatal(err)
	}
	return p.Environments[0].Steps[0].Op.(planner.Rootfs), idx
}

func benchRootfs(b *testing.B, op planner.Rootfs, idx *planner.Index) {
	b.Helper()
	release, err := executor.Rootfs(context.Background(), op, idx)
	if err != nil {
		b.Fatal(err)
	}
	release()
}

const bashSpec = `version: 1
environments:
  bash:
    rootfs: {closure: [/bin/bash]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/bash, -c, ":"]}
`

func tarSpec(archive string) string {
	return `version: 1
environments:
  tarred:
    rootfs: {tar: ` + archive + `}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [sh, -c, ":"]}
`
}

// benchArchive writes a gzip'd tar of about 5 MB (compressed): 400 files
// of 12 KiB of random bytes in 20 folders, a few symlinks.
func benchArchive(b *testing.B, dir string) string {
	b.Helper()
	p := filepath.Join(dir, "bench.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	z := gzip.NewWriter(f)
	tw := tar.NewWriter(z)
	r := rand.New(rand.NewSource(1))
	buf := make([]byte, 12<<10)
	for d := 0; d < 20; d++ {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/lib/d%02d/", d), Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(1700000000, 0)})
		for i := 0; i < 20; i++ {
			r.Read(buf)
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/lib/d%02d/f%02d.so", d, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(buf)), ModTime: time.Unix(1700000000, 0)})
			tw.Write(buf)
		}
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/lib/link%02d", d), Typeflag: tar.TypeSymlink, Linkname: fmt.Sprintf("d%02d/f00.so", d)})
	}
	tw.Close()
	z.Close()
	f.Close()
	return p
}

func requireBash(b *testing.B) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		b.Skip(err)
	}
}

// BenchmarkClosureBashCold: plan the closure of /bin/bash with no index
// (every file hashed) and build its entry into an empty cache.
func BenchmarkClosureBashCold(b *testing.B) {
	requireBash(b)
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		cache := filepath.Join(dir, fmt.Sprint(i))
		op, idx := benchPlan(b, dir, cache, bashSpec)
		benchRootfs(b, op, idx)
	}
}

// BenchmarkTarCold: hash a 5 MB .tar.gz at plan time and unpack it into
// an empty cache.
func BenchmarkTarCold(b *testing.B) {
	dir := b.TempDir()
	archive := benchArchive(b, dir)
	if fi, _ := os.Stat(archive); fi.Size() < 4<<20 {
		b.Fatalf("archive of %d bytes", fi.Size())
	}
	for i := 0; b.Loop(); i++ {
		cache := filepath.Join(dir, fmt.Sprint(i))
		op, idx := benchPlan(b, dir, cache, tarSpec(archive))
		benchRootfs(b, op, idx)
	}
}

// warm runs one cold pass with files old enough for the index (the racy
// window is 2 s: the archive is backdated by its ctime... which cannot be
// set, so the benchmark waits it out once).
func warm(b *testing.B, dir, cache, yaml string, wait bool) {
	b.Helper()
	if wait {
		time.Sleep(2100 * time.Millisecond)
	}
	op, idx := benchPlan(b, dir, cache, yaml)
	benchRootfs(b, op, idx)
}

// BenchmarkClosureBashWarm: the warm lookup of nsup plan + apply's rootfs
// step for the closure of /bin/bash: resolve the closure (ELF headers,
// library search) with every digest from the index, then find the entry
// and take its lock. Target: well under 1 ms.
func BenchmarkClosureBashWarm(b *testing.B) {
	requireBash(b)
	dir := b.TempDir()
	cache := filepath.Join(dir, "cache")
	warm(b, dir, cache, bashSpec, false)
	b.ResetTimer()
	for b.Loop() {
		op, idx := benchPlan(b, dir, cache, bashSpec)
		benchRootfs(b, op, idx)
	}
}

// BenchmarkTarWarm: the same for a 5 MB archive: its digest from the
// index, the entry found and locked.
func BenchmarkTarWarm(b *testing.B) {
	dir := b.TempDir()
	archive := benchArchive(b, dir)
	cache := filepath.Join(dir, "cache")
	warm(b, dir, cache, tarSpec(archive), true)
	b.ResetTimer()
	for b.Loop() {
		op, idx := benchPlan(b, dir, cache, tarSpec(archive))
		benchRootfs(b, op, idx)
	}
}
