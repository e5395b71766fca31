package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestSpecThroughOverlayRedirect (helper-70): a folder renamed through
// an overlay's merged folder (redirect_dir=on) is an upper folder whose
// redirect xattr names the lower folder it shows; a file of a lower
// folder's metacopy file takes its data from a data-only folder's file
// its redirect names. The spec read through such a folder or file was
// matched in the lower (and data) folders by its merged path, and a
// writable bind of the folder it is read from was planned
// (TestRootOverlayRedirect wrote it so). Refused now. The mountinfo is a
// fixture, the redirects user.overlay.redirect xattrs (as with
// userxattr) set by the test.
func TestSpecThroughOverlayRedirect(t *testing.T) {
	d := t.TempDir()
	hybrid, err := filepath.Abs("cgroup/testdata/hybrid")
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.ReadFile(hybrid + "/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d + "/up/new/proj", d + "/up/abs", d + "/low/old/proj", d + "/low/elsewhere/deep/proj", d + "/low/meta/proj", d + "/data/ab/proj",
		d + "/work", d + "/merged/new/proj", d + "/merged/abs/proj", d + "/merged/meta/proj", d + "/root/bin"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!"), 0o755)
	os.WriteFile(d+"/low/meta/proj/nsup.yaml", nil, 0o644)
	for p, r := range map[string]string{d + "/up/new": "old", d + "/up/abs": "/elsewhere/deep", d + "/low/meta/proj/nsup.yaml": "/ab/proj/nsup.yaml"} {
		if err := unix.Lsetxattr(p, "user.overlay.redirect", []byte(r), 0); err != nil {
			skipOrFail(t, "user xattrs in "+d+": "+err.Error())
		}
	}
	lines := "970 27 0:970 / " + d + "/merged rw,relatime - overlay overlay rw,lowerdir=" + d + "/low::" + d + "/data,upperdir=" + d + "/up,workdir=" + d + "/work,redirect_dir=on,metacopy=on,userxattr\n"
	fsys := hostView(t, append(append([]byte{}, mi...), lines...), false)
	compile := func(specDir, bound string) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [{type: bind, source: '" + bound + "', target: /w}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		file := filepath.Join(specDir, "nsup.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		s, err := spec.ParseBytes(file, specDir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return compileOnView(s, fsys)
	}
	for _, c := range []struct {
		name, spec, bound, shown string
	}{
		{"a folder renamed in its folder", d + "/merged/new/proj", d + "/low/old", d + "/low/old/proj/nsup.yaml"},
		{"a folder moved elsewhere (an absolute redirect)", d + "/merged/abs/proj", d + "/low/elsewhere", d + "/low/elsewhere/deep/proj/nsup.yaml"},
		{"a metacopy file's data in a data-only folder", d + "/merged/meta/proj", d + "/data/ab", d + "/data/ab/proj/nsup.yaml"},
	} {
		err := compile(c.spec, c.bound)
		if err == nil || !strings.Contains(err.Error(), "shows at "+c.shown+" too") {
			t.Errorf("%s: %v, want the spec refused, shown at %s", c.name, err, c.shown)
		}
	}
}
