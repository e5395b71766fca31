package image

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWriteTreeNameQuoted: an error about a file of the tree names it
// quoted (%q): the name is the tree's, and its line break split the
// error into lines, the second of which read as nsup's own. A folder
// deeper than PATH_MAX, made by mkdirat from its parent's fd, has a path
// the layer's walk cannot lstat (ENAMETOOLONG).
func TestWriteTreeNameQuoted(t *testing.T) {
	tree, l := t.TempDir(), t.TempDir()
	fd, err := unix.Open(tree, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("d", 235) + "\nnsup: exported"
	for range 20 {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	unix.Close(fd)
	_, err = Write(l, Image{Ref: "x", Tree: tree, Created: time.Unix(0, 0)})
	if err == nil {
		t.Fatal("a tree deeper than PATH_MAX: no error")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasSuffix(msg, `\nnsup: exported": file name too long`) || !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("error %q: want the name quoted, on one line, and ENAMETOOLONG", msg)
	}
	// t.TempDir's RemoveAll takes a tree of any depth.
}
