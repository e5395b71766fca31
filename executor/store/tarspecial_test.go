package store

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTarArchiveSwappedSpecial: an archive swapped, between plan and
// apply, for a FIFO or a link to a device is refused without being
// opened for reading. A tar root in a dev box's writable project
// (rootfs: {tar: ./rootfs.tar}) is the environment's to replace: before,
// apply's os.Open of a FIFO there blocked for good, and of a link to
// /dev/zero read zeros for good (a tar stream's end, then "the rest of
// the file" to hash); a device whose open is an act of its own (a
// watchdog arms) was opened as the host's root.
func TestTarArchiveSwappedSpecial(t *testing.T) {
	c := newUnpackCase(t, makeTar(t, false, member{name: "f", typ: tar.TypeReg, body: "x"}))
	data, _ := os.ReadFile(c.archive)
	sum := sha256.Sum256(data)
	want := "sha256:" + hex.EncodeToString(sum[:])
	fifo := filepath.Join(c.dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Unblock an open that waits for a writer (the test failing).
		if fd, err := unix.Open(fifo, unix.O_RDWR|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
	})
	for _, tc := range []struct{ name, target string }{{"a FIFO", fifo}, {"a link to /dev/zero", "/dev/zero"}} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(c.archive)
			if err := os.Symlink(tc.target, c.archive); err != nil {
				t.Fatal(err)
			}
			tree := t.TempDir()
			done := make(chan error, 1)
			go func() {
				_, _, err := extractTar(context.Background(), c.archive, want, tree, nil)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("unpacked")
				}
			case <-time.After(5 * time.Second):
				t.Errorf("still unpacking after 5 s: %s opened", tc.target)
			}
		})
	}
}
