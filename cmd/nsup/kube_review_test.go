package main

// Review of nsup import --kube: the manifest file is read whole before
// its 4 MiB bound is checked (os.ReadFile), so a manifest that is a FIFO
// (or a symlink to one, or to /dev/zero, as a repository may hold) hangs
// nsup or grows it until it is killed. It should be opened, checked to be
// a regular file, and read through a reader bounded to the limit.

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestImportKubeFIFO(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pod.yaml")
	if err := unix.Mkfifo(f, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { code, _, _ := nsup(t, "import", "--kube", f); done <- code }()
	select {
	case code := <-done:
		if code == 0 {
			t.Errorf("import --kube of a FIFO succeeded")
		}
	case <-time.After(3 * time.Second):
		t.Errorf("import --kube %s (a FIFO) still reads after 3 s", f)
		// Unblock it: a writer that closes at once.
		if w, err := os.OpenFile(f, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
	}
}
