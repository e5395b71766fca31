package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestBuildTreeContent: a file of nsup's own is written with its content
// from the plan, checked against the plan's digest: a content that does
// not match it builds nothing.
func TestBuildTreeContent(t *testing.T) {
	content := "root:x:0:0:root:/root:/bin/sh\n"
	sum := sha256.Sum256([]byte(content))
	good := planner.File{Path: "/etc/passwd", Type: "file", Mode: 0o644, Content: content, Size: int64(len(content)), Digest: "sha256:" + hex.EncodeToString(sum[:])}
	etc := planner.File{Path: "/etc", Type: "dir", Mode: 0o755}
	dir := t.TempDir()
	if err := BuildTree(context.Background(), dir, []planner.File{etc, good}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "etc", "passwd")); err != nil || string(b) != content {
		t.Errorf("content: %q %v", b, err)
	}
	bad := good
	bad.Content = "evil:x:0:0::/:/bin/sh\n"
	dir2 := t.TempDir()
	if err := BuildTree(context.Background(), dir2, []planner.File{etc, bad}); err == nil || !strings.Contains(err.Error(), "a file of nsup's own") {
		t.Errorf("a content that is not the plan's digest: %v", err)
	}
}

// TestBuildTreeSourceSwapped: a file of a closure is copied from its
// source path, real as the plan lists it, refusing a symlink in it now:
// a folder of a closure that someone else may write, swapped for a link
// to a folder only root may read, would copy a file the plan did not
// name, whose bytes an attacker timed to match (found by this stop's
// attacker review; the digest alone did not refuse it).
func TestBuildTreeSourceSwapped(t *testing.T) {
	content := "only root\n"
	sum := sha256.Sum256([]byte(content))
	host := t.TempDir()
	secret := filepath.Join(host, "secret")
	if err := os.MkdirAll(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secret, "f"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// The plan listed <host>/tools/f; tools is a link to secret now.
	if err := os.Symlink("secret", filepath.Join(host, "tools")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(host, "tools", "f")
	f := planner.File{Path: "/f", Type: "file", Mode: 0o644, Source: src, Size: int64(len(content)), Digest: "sha256:" + hex.EncodeToString(sum[:])}
	dir := t.TempDir()
	err := BuildTree(context.Background(), dir, []planner.File{f})
	if err == nil || !strings.Contains(err.Error(), "a symlink is in this path now") {
		t.Errorf("a source through a symlink: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) == content {
		t.Error("the file was copied")
	}
}

// TestBuildTreeNameQuoted: an error about a file of a closure quotes its
// names, the tree's and the host's: a host file named with a line break
// ("f\nnsup: ...", which another user may make in a folder a closure
// lists) printed a line that read as nsup's own.
func TestBuildTreeNameQuoted(t *testing.T) {
	host := t.TempDir()
	name := "f\nnsup: all good"
	src := filepath.Join(host, name)
	if err := os.WriteFile(src, []byte("grown since planned\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("x"))
	for _, f := range []planner.File{
		{Path: "/" + name, Type: "file", Mode: 0o644, Source: src, Size: 1, Digest: "sha256:" + hex.EncodeToString(sum[:])},
		{Path: "/" + name, Type: "file", Mode: 0o644, Source: src + "\ngone", Size: 1, Digest: "sha256:" + hex.EncodeToString(sum[:])},
	} {
		err := BuildTree(context.Background(), t.TempDir(), []planner.File{f})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("BuildTree: %q, want an error of one line", err)
		}
	}
}
