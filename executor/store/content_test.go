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
