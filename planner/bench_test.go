package planner

// The generated spec of many environments, and the benchmarks that parse and plan it.

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// BigSpec is a spec of n environments, each with the root tree dir, five
// namespaces, /proc, a /tmp and one process: the spec of issue 12's
// measure ("parse + plan of 1,000 environments printed as text").
func BigSpec(n int, dir string) []byte {
	var b strings.Builder
	b.WriteString("version: 1\nenvironments:\n")
	for i := range n {
		fmt.Fprintf(&b, "  env%d: {rootfs: {dir: %s}, namespaces: [mnt, pid, uts, ipc, net], "+
			"mounts: [{type: proc, target: /proc}, {type: tmpfs, target: /tmp}], "+
			"processes: [{name: main, command: [/bin/true]}]}\n", i, dir)
	}
	return []byte(b.String())
}

// writeBigSpec writes BigSpec(n) as DIR/big.yaml, with DIR/rootfs a tree
// of one executable /bin/busybox and /bin/true a link to it (the host's
// busybox if there is one, else a file of a few bytes: the planner only
// resolves the command).
func writeBigSpec(tb testing.TB, dir string, n int) string {
	tb.Helper()
	bin := filepath.Join(dir, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		tb.Fatal(err)
	}
	body := []byte("#!/bin/true\n")
	for _, p := range []string{"/usr/bin/busybox", "/bin/busybox"} {
		if b, err := os.ReadFile(p); err == nil {
			body = b
			break
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), body, 0o755); err != nil {
		tb.Fatal(err)
	}
	os.Remove(filepath.Join(bin, "true"))
	if err := os.Symlink("busybox", filepath.Join(bin, "true")); err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(file, BigSpec(n, filepath.Join(dir, "rootfs")), 0o644); err != nil {
		tb.Fatal(err)
	}
	return file
}

// TestWriteBigSpec writes the spec of 1,000 environments into
// $NSUP_BIG_SPEC (a folder), to time the command itself:
//
//	NSUP_BIG_SPEC=/tmp/big go test ./planner -run WriteBigSpec
//	CGO_ENABLED=0 go build -o /tmp/nsup ./cmd/nsup
//	hyperfine -N -w 3 '/tmp/nsup plan /tmp/big/big.yaml'
func TestWriteBigSpec(t *testing.T) {
	dir := os.Getenv("NSUP_BIG_SPEC")
	if dir == "" {
		t.Skip("NSUP_BIG_SPEC is not set")
	}
	t.Logf("wrote %s", writeBigSpec(t, dir, 1000))
}

// BenchmarkPlan1000 is what nsup plan does with the spec of 1,000
// environments: parse, compile for this host (its kernel's seccomp
// profile, its /proc), render as text.
func BenchmarkPlan1000(b *testing.B) {
	file := writeBigSpec(b, b.TempDir(), 1000)
	cache := b.TempDir()
	idx := NewIndex(cache)
	for b.Loop() {
		s, err := spec.Parse(file)
		if err != nil {
			b.Fatal(err)
		}
		p, err := Compile(s, Options{Index: idx, CacheDir: cache})
		if err != nil {
			b.Fatal(err)
		}
		if err := Render(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse1000 is the parse alone.
func BenchmarkParse1000(b *testing.B) {
	file := writeBigSpec(b, b.TempDir(), 1000)
	for b.Loop() {
		if _, err := spec.Parse(file); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile1000 is the compilation alone, of a spec parsed once.
func BenchmarkCompile1000(b *testing.B) {
	file := writeBigSpec(b, b.TempDir(), 1000)
	s, err := spec.Parse(file)
	if err != nil {
		b.Fatal(err)
	}
	cache := b.TempDir()
	idx := NewIndex(cache)
	for b.Loop() {
		if _, err := Compile(s, Options{Index: idx, CacheDir: cache}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTarWalkDeep walks an archive of 2,000 files in a folder 2,000
// deep (4 KB names): each member's parents were checked from the top,
// 4 MB of names hashed a member, before a parent already in the tree
// ended the checks.
func BenchmarkTarWalkDeep(b *testing.B) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	deep := strings.TrimSuffix(strings.Repeat("a/", 2000), "/")
	for i := range 2000 {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%s/f%05d", deep, i), Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX}); err != nil {
			b.Fatal(err)
		}
	}
	tw.Close()
	b.ResetTimer()
	for range b.N {
		var etc TarEtc
		if err := WalkTar(bytes.NewReader(buf.Bytes()), func(m TarMember, r io.Reader) error {
			_, err := etc.Add(m, r)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}
