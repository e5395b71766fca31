package regfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A FIFO, a device and a folder are refused at once (a FIFO's open would
// block); a regular file, also through a symlink, is read, at most max
// bytes of it.
func TestOpenRegularOnly(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "f")
	os.WriteFile(reg, []byte("12345"), 0o644)
	os.Symlink(reg, filepath.Join(dir, "link"))
	os.Symlink("/dev/zero", filepath.Join(dir, "zero"))
	unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, bad := range []string{"fifo", "zero", "."} {
			if _, err := ReadBounded(filepath.Join(dir, bad), 10); !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s: %v", bad, err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("blocked in the open of a FIFO")
	}
	for _, ok := range []string{"f", "link"} {
		if b, err := ReadBounded(filepath.Join(dir, ok), 5); err != nil || string(b) != "12345" {
			t.Errorf("%s: %q %v", ok, b, err)
		}
	}
	if _, err := ReadBounded(reg, 4); err == nil || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Errorf("over the bound: %v", err)
	}
	if _, err := OpenNoSymlinks(filepath.Join(dir, "link")); err == nil || !strings.Contains(err.Error(), "a symlink is in this path") {
		t.Errorf("OpenNoSymlinks of a symlink: %v", err)
	}
	// OpenNoFollow: the last component's link is not followed, one on the
	// way is.
	os.Symlink(dir, filepath.Join(dir, "dirlink"))
	if _, err := OpenNoFollow(filepath.Join(dir, "link")); !errors.Is(err, ErrNotRegular) {
		t.Errorf("OpenNoFollow of a symlink: %v", err)
	}
	if f, err := OpenNoFollow(filepath.Join(dir, "dirlink", "f")); err != nil {
		t.Errorf("OpenNoFollow through a folder's symlink: %v", err)
	} else {
		f.Close()
	}
}
