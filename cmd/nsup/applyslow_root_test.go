package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRootApplySlowReaderKeepsOutput: the prefixed lines of a process
// that has ended reach a slow reader of nsup apply's output whole. Init's
// copy, stuck writing to the reader, had not taken the last of its pipe
// when the drain's deadline passed (200 ms), and that was lost:
// nsup apply | slow got 44,859 of 50,000 lines.
func TestRootApplySlowReaderKeepsOutput(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	bin := buildNsup(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "nsup.yaml")
	if err := os.WriteFile(f, []byte(`version: 1
environments:
  e:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    processes:
      - {name: a, command: [/bin/busybox, seq, "1", "50000"]}
      - {name: b, command: [/bin/busybox, "true"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan []byte, 1)
	go func() {
		// About 200 KB/s: the last 128 KB the copies hold take longer
		// than the drain's 200 ms.
		var all bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			all.Write(buf[:n])
			if err == io.EOF {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		got <- all.Bytes()
	}()
	cmd := exec.Command(bin, "apply", f)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NSUP_CACHE_DIR="+filepath.Join(dir, "cache"), "NO_COLOR=1")
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	w.Close()
	out := <-got
	if n := bytes.Count(out, []byte("e/a | ")); err != nil || n != 50000 {
		t.Fatalf("apply: %v %s; the reader got %d of 50000 lines", err, stderr.String(), n)
	}
}
