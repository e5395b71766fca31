package planner

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadBelow: a rootfs's passwd is read through its folder, never out
// of it: a link that leads out, at its place or on the way, is refused; a
// special file or one too large is refused.
func TestReadBelow(t *testing.T) {
	h := t.TempDir()
	root := filepath.Join(h, "root")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	secret := filepath.Join(h, "secret")
	os.WriteFile(secret, []byte("TOPSECRET\n"), 0o600)
	os.Symlink(secret, filepath.Join(root, "etc", "passwd"))
	if got, err := readBelow(root, "/etc/passwd"); err == nil || strings.Contains(got, "TOPSECRET") {
		t.Errorf("a link at the file's place: %q %v", got, err)
	}
	os.MkdirAll(filepath.Join(root, "inner"), 0o755)
	os.WriteFile(filepath.Join(root, "inner", "secret"), []byte("inside\n"), 0o644)
	os.Symlink(h, filepath.Join(root, "up")) // an absolute link out of the root
	if got, err := readBelow(root, "/up/secret"); err == nil && strings.Contains(got, "TOPSECRET") {
		t.Errorf("a link on the way left the root: %q", got)
	}
	os.WriteFile(filepath.Join(root, "etc", "group"), []byte(strings.Repeat("x", maxIDFile+1)), 0o644)
	if _, err := readBelow(root, "/etc/group"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an oversized file: %v", err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "etc", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readBelow(root, "/etc/fifo"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO (must not block): %v", err)
	}
	if got, err := readBelow(root, "/inner/secret"); err != nil || got != "inside\n" {
		t.Errorf("a plain file: %q %v", got, err)
	}
}

// TestIdentityGids: each added user's group is its process's, the first
// one it runs with.
func TestIdentityGids(t *testing.T) {
	p, err := compileLimits(t, `version: 1
environments:
  box:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    processes:
      - {name: a, command: [/bin/sh], user: "2000:5"}
      - {name: b, command: [/bin/sh], user: "2000:6"}
      - {name: c, command: [/bin/sh], user: "2001:7"}
`, rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	// A closure: the file is nsup's tree's, with its content.
	var passwd string
	for _, st := range p.Environments[0].Steps {
		if r, ok := st.Op.(Rootfs); ok {
			for _, f := range r.Files {
				if f.Path == "/etc/passwd" {
					passwd = f.Content
				}
			}
		}
		if _, ok := st.Op.(EtcFile); ok {
			t.Errorf("a file mounted over a tree of nsup's own: %s", FormatOp(st.Op))
		}
	}
	for _, w := range []string{":2000:5:", ":2001:7:", "root:x:0:0:", "nobody:x:65534:65534:"} {
		if !strings.Contains(passwd, w) {
			t.Errorf("no %q in:\n%s", w, passwd)
		}
	}
}
