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

// The same for a bundle's config.json (nsup import BUNDLE): a FIFO is
// refused at once, not waited on, and a symlink to /dev/zero is not read
// without end (found by a review).
func TestImportBundleNotRegular(t *testing.T) {
	for _, target := range []string{"fifo", "/dev/zero"} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config.json")
		if target == "fifo" {
			if err := unix.Mkfifo(cfg, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Symlink(target, cfg); err != nil {
			t.Fatal(err)
		}
		done := make(chan int, 1)
		go func() { code, _, _ := nsup(t, "import", dir); done <- code }()
		select {
		case code := <-done:
			if code == 0 {
				t.Errorf("import of a bundle whose config.json is %s succeeded", target)
			}
		case <-time.After(5 * time.Second):
			if w, err := os.OpenFile(cfg, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			t.Fatalf("import of a bundle whose config.json is %s: still reading after 5 s", target)
		}
	}
}
