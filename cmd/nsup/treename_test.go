package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportTreeNameQuoted: an error of the operating system about a
// file of the tree export copies names it quoted (%q): the name is the
// tree's, and its line break split the error into two lines, the second
// of which read as a message of nsup's own. The error it holds is kept.
func TestExportTreeNameQuoted(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	name := "d\nnsup: export: done"
	if err := os.MkdirAll(filepath.Join(src, name), 0o755); err != nil {
		t.Fatal(err)
	}
	// Already there: the copy's mkdir fails (EEXIST), naming the folder.
	if err := os.Mkdir(filepath.Join(dst, name), 0o755); err != nil {
		t.Fatal(err)
	}
	err := copyTree(src, dst)
	if err == nil {
		t.Fatal("copyTree over a folder of the same name: no error")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, `"d\nnsup: export: done"`) || !errors.Is(err, fs.ErrExist) {
		t.Errorf("error %q: want the name quoted, on one line, and fs.ErrExist", msg)
	}
}
