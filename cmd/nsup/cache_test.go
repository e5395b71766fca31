package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCachePruneNegativeAge: --older-than with a negative duration is a
// usage error, not "every tree" (any last use is older than -1h).
func TestCachePruneNegativeAge(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	t.Setenv("NSUP_STATE_DIR", filepath.Join(dir, "state"))
	entry := filepath.Join(dir, "cache", "closure", strings.Repeat("ab", 32))
	if err := os.MkdirAll(entry, 0o700); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"cache", "prune", "--older-than", "-1h"}, nil, &out, &errb)
	if code != 2 {
		t.Errorf("exit %d, want 2; stdout %q, stderr %q", code, out.String(), errb.String())
	}
	if _, err := os.Stat(entry); err != nil {
		t.Errorf("the tree was removed: %v", err)
	}
}
