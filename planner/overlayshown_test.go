package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// ovlEscape is a folder as an overlay option names it (the kernel's own
// escapes: a backslash before '\', ',' and, in lowerdir, ':'), then as
// mountinfo shows the option (octal for ',', '=', ' ', '\t', '\n', '\').
func ovlEscape(p string, colon bool) string {
	var b strings.Builder
	for _, r := range p {
		if r == '\\' || r == ',' || colon && r == ':' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return strings.NewReplacer(`\`, `\134`, ",", `\054`, "=", `\075`, " ", `\040`).Replace(b.String())
}

// TestSpecShownThroughOverlay (helper-65's review, helper-67's fix): an
// overlay's merged folder shows its upper folder's files, writable, and
// its lower folders', read, under a major:minor of its own, linked to
// them only by the upperdir=/lowerdir= of its mountinfo line, which the
// host's mounts as read did not keep. With the spec in the upper folder
// and the merged folder bound writable, root inside appended to the
// spec through the merged path; with the spec read through the merged
// folder and the upper (or a lower) bound writable, the same. Each is
// refused now, whatever the folder's name holds (',', ':', '\', a space:
// the kernel's escapes and mountinfo's undone), in each form of the
// options (lowerdir's ':' and '::' data layers, lowerdir+= and
// datadir+= of the new mount API). A lower folder's file, read by its
// own path, is no alias: a write through the merged folder copies it up
// and leaves the lower file as it was. The mountinfo here is a fixture
// (folders of the test's, the overlay's major:minor made up);
// TestRootOverlayShowsSpec mounts a real one. A bind across btrfs
// subvolumes, which shares the major:minor, is matched as before.
func TestSpecShownThroughOverlay(t *testing.T) {
	d := t.TempDir()
	// The test data's mount that holds d.
	hybrid, err := filepath.Abs("cgroup/testdata/hybrid")
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.ReadFile(hybrid + "/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	upper := d + `/uparent/up,p\er:x =y`
	lower, lower2, data, work := d+"/low:er", d+"/lower2", d+"/data", d+"/work"
	merged, above := d+"/merged", d+"/above"
	for _, p := range []string{upper + "/proj", lower + "/proj", lower2 + "/proj", data + "/proj", work, merged + "/proj", above + "/m/proj", d + "/root/bin", d + "/other", d + "/home/u/proj", d + "/top"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!"), 0o755)
	opts := "lowerdir=" + ovlEscape(lower, true) + ":" + ovlEscape(lower2, true) + "::" + ovlEscape(data, true) +
		",upperdir=" + ovlEscape(upper, false) + ",workdir=" + ovlEscape(work, false)
	newAPI := "lowerdir+=" + ovlEscape(lower, false) + ",lowerdir+=" + ovlEscape(lower2, false) + ",datadir+=" + ovlEscape(data, false) +
		",upperdir=" + ovlEscape(upper, false) + ",workdir=" + ovlEscape(work, false)
	line := func(point, o string) string {
		return "999 27 0:999 / " + strings.ReplaceAll(point, " ", `\040`) + " rw,relatime - overlay overlay rw," + o + ",uuid=on\n"
	}
	cache := "/var/cache/nsup"
	compile := func(specDir, mounts, extra string) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [" + mounts + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		file := filepath.Join(specDir, "nsup.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		s, err := spec.ParseBytes(file, specDir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		fsys := hostView(t, append(append([]byte{}, mi...), extra...), false)
		o := fixedOptions(Options{CacheDir: cache, Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS(fsys)) }
		_, err = Compile(s, o)
		return err
	}
	bind := func(src, opts string) string { return "{type: bind, source: '" + src + "', target: /w" + opts + "}" }
	for _, c := range []struct {
		name, spec, mounts, extra, shown string // shown: "" if planned
	}{
		// The spec in the upper folder, the merged one bound writable:
		// the merged folder, a folder below it, a folder above it
		// (recursive, the overlay brought along).
		{"upper, merged bound", upper + "/proj", bind(merged, ""), line(merged, opts), merged + "/proj/nsup.yaml"},
		{"upper, merged bound (lowerdir+=)", upper + "/proj", bind(merged, ""), line(merged, newAPI), merged + "/proj/nsup.yaml"},
		{"upper, below merged bound", upper + "/proj", bind(merged+"/proj", ""), line(merged, opts), merged + "/proj/nsup.yaml"},
		{"upper, above merged bound", upper + "/proj", bind(above, ""), line(above+"/m", opts), above + "/m/proj/nsup.yaml"},
		{"upper, above merged bound, not recursive", upper + "/proj", bind(above, ", recursive: false"), line(above+"/m", opts), ""},
		{"upper, merged bound read-only", upper + "/proj", bind(merged, ", readonly: true"), line(merged, opts), ""},
		// The spec read through the merged folder, its upper or a lower
		// (a data layer too) bound writable: what nsup reads there
		// changes.
		{"merged, upper bound", merged + "/proj", bind(upper, ""), line(merged, opts), upper + "/proj/nsup.yaml"},
		{"merged, upper bound (lowerdir+=)", merged + "/proj", bind(upper, ""), line(merged, newAPI), upper + "/proj/nsup.yaml"},
		{"merged, lower bound", merged + "/proj", bind(lower, ""), line(merged, opts), lower + "/proj/nsup.yaml"},
		{"merged, second lower bound", merged + "/proj", bind(lower2, ""), line(merged, opts), lower2 + "/proj/nsup.yaml"},
		{"merged, data layer bound", merged + "/proj", bind(data, ""), line(merged, opts), data + "/proj/nsup.yaml"},
		{"merged, data layer bound (datadir+=)", merged + "/proj", bind(data, ""), line(merged, newAPI), data + "/proj/nsup.yaml"},
		{"merged, above upper bound", merged + "/proj", bind(d+"/uparent", ""), line(merged, opts), upper + "/proj/nsup.yaml"},
		// A lower folder's file read by its own path: a write through
		// the merged folder copies it up, the lower file stays.
		{"lower, merged bound", lower + "/proj", bind(merged, ""), line(merged, opts), ""},
		// Folders named relative to the mounter's working folder, which
		// mountinfo does not say, and not where a container engine
		// names them from: not placed (docs/design.md;
		// TestOverlayRelativeLayers places the engines').
		{"relative upper, merged bound", upper + "/proj", bind(merged, ""), line(merged, "lowerdir=low,upperdir=up,workdir=work"), ""},
		// Not an overlay: btrfs subvolumes of one filesystem share its
		// superblock, so mountinfo gives them one major:minor, and the
		// subvolume as the root (as Linux 6.18 showed a subvolume
		// mounted with subvol=/@home and the top one with subvolid=5).
		{"btrfs subvolume, the top one bound", d + "/home/u/proj", bind(d+"/top", ""),
			"997 27 0:77 /@home " + d + "/home rw,relatime - btrfs /dev/loop0 rw,space_cache=v2,subvolid=256,subvol=/@home\n" +
				"998 27 0:77 / " + d + "/top rw,relatime - btrfs /dev/loop0 rw,space_cache=v2,subvolid=5,subvol=/\n",
			d + "/top/@home/u/proj/nsup.yaml"},
	} {
		err := compile(c.spec, c.mounts, c.extra)
		refused := err != nil && strings.Contains(err.Error(), "which nsup reads to plan this spec")
		switch {
		case c.shown != "" && (!refused || !strings.Contains(err.Error(), "shows at "+c.shown+" too")):
			t.Errorf("%s: %v, want the spec refused, shown at %s", c.name, err, c.shown)
		case c.shown == "" && refused:
			t.Errorf("%s: %v, want planned", c.name, err)
		}
	}

	// nsup's cache in the upper folder (not made yet), the merged one
	// bound writable: root inside would make it, as it would through
	// the upper folder.
	cache = upper + "/cache/nsup"
	if err := compile(d+"/other", bind(merged, ""), line(merged, opts)); err == nil || !strings.Contains(err.Error(), "holds nsup's cache "+cache) {
		t.Errorf("the cache in the upper folder, the merged one bound: %v, want refused", err)
	}
}
