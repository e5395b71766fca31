package planner

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestRootOverlayShowsSpec (helper-65's review, helper-67's fix): real
// overlays, mounted by this test's binary run again in a mount namespace
// of its own (gone with it: the host's mounts are left as they were,
// which the test checks), one with mount(2)'s options (lowerdir's ':'
// list, folders named with ',', ':' and '\' escaped), one with the new
// mount API's (lowerdir+=, datadir+=). The spec in an upper folder and
// the merged folder bound writable, or the spec read through the merged
// folder and its upper or lower folder bound writable, were planned, and
// a write there (which the test makes, as root inside would) changed
// what nsup reads; each is refused now. The spec of a lower folder, read
// by its own path, with the merged folder writable, is planned: the
// test's write through the merged folder copies it up and leaves it as
// it was. A plan saved (plan -o) in the upper folder is refused too.
// Root only.
func TestRootOverlayShowsSpec(t *testing.T) {
	requireOverlay(t)
	if d, inner := ownMountNS(t, "NSUP_TEST_OVERLAY_DIR", nil); inner {
		overlayShowsSpec(t, d)
	}
}

// overlayShowsSpec is TestRootOverlayShowsSpec in its own mount
// namespace, in the folder d.
func overlayShowsSpec(t *testing.T, d string) {
	upper, lower, work, merged := d+`/up,p\er:x`, d+"/lo:w,er", d+"/work", d+"/merged"
	upper2, lower2, data2, work2, merged2 := d+"/upper2", d+"/lower2", d+"/data2", d+"/work2", d+"/merged2"
	for _, p := range []string{upper + "/proj", upper + "/proj3", lower + "/proj2", lower + "/proj4", work, merged,
		upper2 + "/proj", lower2, data2, work2, merged2, d + "/root/bin", upper + "/x", d + "/plain"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!/bin/sh\n"), 0o755)
	text := func(mounts string) string {
		return "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [" + mounts + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	bind := func(src string) string { return "{type: bind, source: '" + src + "', target: /w}" }
	// Each spec's file is there before the overlay is mounted (a layer
	// changed below a mounted overlay is the kernel's undefined case).
	for _, p := range []string{upper + "/proj", upper + "/proj3", lower + "/proj2", lower + "/proj4", upper2 + "/proj"} {
		os.WriteFile(p+"/nsup.yaml", []byte(text("")), 0o644)
	}
	esc := func(p string, colon bool) string {
		var b strings.Builder
		for _, r := range p {
			if r == '\\' || r == ',' || colon && r == ':' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	if err := unix.Mount("overlay", merged, "overlay", 0, "lowerdir="+esc(lower, true)+",upperdir="+esc(upper, false)+",workdir="+esc(work, false)); err != nil {
		t.Fatalf("overlay at %s: %v", merged, err)
	}
	// The new mount API's lowerdir+= and datadir+= (Linux 6.8).
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		os.WriteFile(d+"/skip", []byte("fsopen overlay: "+err.Error()), 0o644)
		return
	}
	for _, kv := range [][2]string{{"lowerdir+", lower2}, {"datadir+", data2}, {"upperdir", upper2}, {"workdir", work2}, {"metacopy", "on"}, {"redirect_dir", "on"}} {
		if err := unix.FsconfigSetString(fd, kv[0], kv[1]); err != nil {
			os.WriteFile(d+"/skip", []byte("overlay's "+kv[0]+": "+err.Error()+" (Linux 6.8 or later)"), 0o644)
			return
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		t.Fatal(err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, merged2, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		t.Fatal(err)
	}
	unix.Close(mfd)
	unix.Close(fd)
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if !bytes.Contains(mi, []byte("lowerdir+=")) {
		t.Fatalf("no lowerdir+= in mountinfo:\n%s", mi)
	}

	compile := func(specDir, mounts string) error {
		file := filepath.Join(specDir, "nsup.yaml")
		s, err := spec.ParseBytes(file, specDir, []byte(text(mounts)))
		if err != nil {
			t.Fatal(err)
		}
		// The host's mounts, this namespace's, as they are; the
		// cgroup layout the test data's.
		return compileOnView(s, hostView(t, ownMountinfo(t), false))
	}
	// appended writes through the path in (as root inside would, there)
	// and says whether the spec nsup reads, at spec, changed.
	appended := func(in, spec string) bool {
		was, _ := os.ReadFile(spec)
		f, err := os.OpenFile(in, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("# root inside was here\n")
		f.Close()
		now, _ := os.ReadFile(spec)
		return !bytes.Equal(was, now)
	}
	for _, c := range []struct {
		name, spec, bound, in string // in: the spec's file in the bound folder ("": planned)
	}{
		{"the spec in the upper folder, the merged one bound", upper + "/proj", merged, merged + "/proj/nsup.yaml"},
		{"the spec read through the merged folder, the upper one bound", merged + "/proj3", upper, upper + "/proj3/nsup.yaml"},
		{"the spec read through the merged folder, the lower one bound", merged + "/proj2", lower, lower + "/proj2/nsup.yaml"},
		{"the spec in the upper folder (lowerdir+=), the merged one bound", upper2 + "/proj", merged2, merged2 + "/proj/nsup.yaml"},
		{"the spec read through the merged folder (lowerdir+=), the data layer bound", merged2 + "/proj", data2, data2 + "/proj/nsup.yaml"},
		{"the spec in the lower folder, the merged one bound", lower + "/proj4", merged, ""},
	} {
		err := compile(c.spec, bind(c.bound))
		refused := err != nil && strings.Contains(err.Error(), "which nsup reads to plan this spec")
		switch {
		case c.in != "" && (!refused || !strings.Contains(err.Error(), "shows at "+c.in+" too")):
			t.Errorf("%s: %v, want refused, shown at %s", c.name, err, c.in)
		case c.in == "" && refused:
			t.Errorf("%s: %v, want planned", c.name, err)
		}
		// What root inside could do with the bind: the spec changed,
		// or (the lower folder's, copied up) left as it was.
		in, f := c.in, c.spec+"/nsup.yaml"
		if in == "" {
			in = merged + "/proj4/nsup.yaml"
		}
		if c.bound == data2 {
			continue // a data layer shows through metacopy files only
		}
		if changed := appended(in, f); changed != (c.in != "") {
			t.Errorf("%s: a write through %s changed %s: %v, want %v", c.name, in, f, changed, c.in != "")
		}
	}
	saved := &Plan{Writable: []WritableFolder{{Path: merged, Field: "environments.dev.mounts[0]"}}}
	if folder, _ := saved.WritableHolding(upper + "/proj/plan.json"); folder != merged {
		t.Errorf("a plan saved in %s/proj, shown through the writable overlay %s: not refused (%q)", upper, merged, folder)
	}
	// A host mount on an entry of the upper folder, the merged folder
	// bound writable: a rename through the merged folder renames the
	// upper folder's entry, and the host's mount moves with it (the
	// kernel refuses to rename a mount point, but the merged folder's
	// entry is none). Planned before (aliasBelow took the overlay for a
	// filesystem of its own); refused now.
	if err := unix.Mount("tmpfs", upper+"/x", "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	err = compile(d+"/plain", bind(merged))
	if err == nil || !strings.Contains(err.Error(), "rename the folder of the host's mount at "+upper+"/x,") {
		t.Errorf("a host tmpfs at %s/x, %s bound writable: %v, want refused, naming it", upper, merged, err)
	}
	// Root inside's rename, from a mount namespace where the tmpfs is not
	// (here the kernel refuses it: EBUSY).
	mv := exec.Command("/bin/sh", "-c", `umount -l "$1" && mv "$2" "$3"`, "sh", upper+"/x", merged+"/x", merged+"/y")
	mv.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if out, err := mv.CombinedOutput(); err != nil {
		t.Fatalf("rename through the merged folder: %v %s", err, out)
	}
	mi, _ = os.ReadFile("/proc/self/mountinfo")
	if mounts := cgroup.Mounts(mi); !slices.ContainsFunc(mounts, func(m cgroup.Mount) bool { return m.Point == upper+"/y" }) {
		t.Errorf("the rename through %s did not move the tmpfs to %s/y: the case is not what the check is for", merged, upper)
	}
	os.WriteFile(d+"/done", nil, 0o644)
}
