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

// TestCacheLsShowsNoTerminalEscapes: a tree's sources are paths a spec
// named, which may hold a terminal's controls (ESC, U+009B) and
// bidirectional overrides (U+202E); cache ls shows them escaped, as
// text and as JSON (encoding/json leaves C1 controls and U+202E raw).
func TestCacheLsShowsNoTerminalEscapes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	t.Setenv("NSUP_STATE_DIR", filepath.Join(dir, "state"))
	entry := filepath.Join(dir, "cache", "closure", strings.Repeat("ab", 32))
	if err := os.MkdirAll(entry, 0o700); err != nil {
		t.Fatal(err)
	}
	meta := `{"sources": ["/srv/a\u001b[8mhidden", "/srv/b\u009b8m", "/srv/\u202etxt.exe"], "files": 1, "bytes": 1}`
	if err := os.WriteFile(entry+".json", []byte(meta), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"cache", "ls"}, {"cache", "ls", "--json"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errb.String())
		}
		if !strings.Contains(out.String(), "/srv/") {
			t.Fatalf("%v: the sources are not listed: %q", args, out.String())
		}
		for _, bad := range []string{"\x1b", "\u009b", "\u202e"} {
			if strings.Contains(out.String(), bad) {
				t.Errorf("%v: output holds %q raw: %q", args, bad, out.String())
			}
		}
	}
}
