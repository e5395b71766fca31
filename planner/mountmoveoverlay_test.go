package planner

import (
	"os"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
)

// TestAliasBelowThroughOverlay (helper-67's review): a rename through an
// overlay's merged folder renames its upper folder's entry, and a host
// mount on that entry moves with it. With a host tmpfs at upper/x and
// the merged folder bound writable, root inside renamed merged/x and the
// host's tmpfs moved to upper/y (by hand): aliasBelow took the overlay
// for a filesystem of its own. A host mount below a lower folder is no
// such alias (a rename through the merged folder copies up). The mounts
// are a fixture: the test's folders, major:minors made up.
func TestAliasBelowThroughOverlay(t *testing.T) {
	d := t.TempDir()
	upper, lower, work, merged := d+"/upper", d+"/lower", d+"/work", d+"/merged"
	for _, p := range []string{upper + "/x", lower + "/l", work, merged + "/sub"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	host := cgroup.Mount{Point: "/", FSType: "ext4", Dev: "8:1", Root: "/"}
	ovl := cgroup.Mount{Point: merged, FSType: "overlay", Dev: "0:99", Root: "/",
		Overlay: &cgroup.Overlay{Upper: upper, Work: work, Lower: []string{lower}}}
	// The test's folders may be on a filesystem of their own: the fixture
	// says they are on the host's root, whatever they are on.
	mayWrite := func(string) bool { return true }
	for _, c := range []struct {
		name   string
		mounts []cgroup.Mount
		src    string
		want   string
	}{
		{"tmpfs on the upper folder's entry, merged bound", []cgroup.Mount{host, ovl, {Point: upper + "/x", FSType: "tmpfs", Dev: "0:50", Root: "/"}}, merged, upper + "/x"},
		{"the same, a folder of the merged one bound", []cgroup.Mount{host, ovl, {Point: upper + "/sub/y", FSType: "tmpfs", Dev: "0:50", Root: "/"}}, merged + "/sub", upper + "/sub/y"},
		{"a bind of the merged folder elsewhere, bound", []cgroup.Mount{host, ovl, {Point: d + "/m2", FSType: "overlay", Dev: "0:99", Root: "/", Overlay: ovl.Overlay}, {Point: upper + "/x", FSType: "tmpfs", Dev: "0:50", Root: "/"}}, d + "/m2", upper + "/x"},
		{"tmpfs on a lower folder's entry", []cgroup.Mount{host, ovl, {Point: lower + "/l", FSType: "tmpfs", Dev: "0:50", Root: "/"}}, merged, ""},
		{"tmpfs on the upper folder itself", []cgroup.Mount{host, ovl, {Point: upper, FSType: "tmpfs", Dev: "0:50", Root: "/"}}, merged, ""},
		{"no overlay: the upper folder is another folder", []cgroup.Mount{host, {Point: merged, FSType: "tmpfs", Dev: "0:98", Root: "/"}, {Point: upper + "/x", FSType: "tmpfs", Dev: "0:50", Root: "/"}}, merged, ""},
	} {
		if got := aliasBelow(c.src, c.mounts, mayWrite); got != c.want {
			t.Errorf("%s: aliasBelow(%s) = %q, want %q", c.name, c.src, got, c.want)
		}
	}
}
