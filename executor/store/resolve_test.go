package store

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenInRoot: symlinks of the tree, absolute or with "..", resolve
// inside the root, and created components land inside it too.
func TestOpenInRoot(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	outside := filepath.Join(dir, "outside")
	// The links' targets, read inside the root, exist there too.
	for _, d := range []string{root + "/etc", outside, root + outside} {
		os.MkdirAll(d, 0o755)
	}
	os.Symlink(outside, root+"/abs")                       // absolute, to the host
	os.Symlink("../../../../../../"+outside, root+"/dots") // dot-dot, to the host
	os.Symlink("/etc", root+"/etclink")                    // absolute, inside
	os.Symlink("/proc/self/root", root+"/magic")           // to the host's /
	os.Symlink("/nowhere", root+"/dangling")               // to nothing

	rootfd, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootfd)
	for _, p := range []string{"/abs/a/b", "/dots/c", "/etclink/d"} {
		fd, err := OpenInRoot(rootfd, p, "dir")
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		unix.Close(fd)
	}
	fd, err := OpenInRoot(rootfd, "/etclink/file", "file")
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("created outside the root: %v", ents)
	}
	for _, p := range []string{outside[1:] + "/a/b", outside[1:] + "/c", "etc/d", "etc/file"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s not created inside the root: %v", p, err)
		}
	}
	// A dangling link is not followed to the host, nor its target made.
	if fd, err := OpenInRoot(rootfd, "/dangling/x", "dir"); err == nil {
		unix.Close(fd)
		t.Errorf("/dangling/x: resolved")
	}
	if _, err := os.Lstat(root + "/nowhere"); err == nil {
		t.Errorf("/dangling's target created")
	}
	// A last component that is a symlink is not followed.
	fd, err = OpenInRoot(rootfd, "/etclink", "")
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	unix.Close(fd)
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("/etclink resolved through the link")
	}
	// Magic links are refused.
	if fd, err := OpenInRoot(rootfd, "/magic/etc", ""); err == nil {
		unix.Close(fd)
		t.Errorf("/magic/etc resolved through /proc/self/root")
	}
	// Not plain absolute paths are refused.
	for _, p := range []string{"rel", "/a/../b"} {
		if _, err := OpenInRoot(rootfd, p, ""); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}
