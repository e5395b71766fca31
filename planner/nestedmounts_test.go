package planner

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestNestedMountsBeneath (helper-54's review): a bind or tmpfs of the
// spec's below a bind is resolved beneath the bind's held fd, not by its
// path from the root again (a writer of the tree renamed the bind's
// folder and sent it to a folder of its own); so is one listed after a
// mount elsewhere (refused while the executor held one fd at a time:
// helper-55's review wrote a host folder bound read-only by its path).
func TestNestedMountsBeneath(t *testing.T) {
	p, err := compileText(t, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./rootfs/bin, target: /data}
      - {type: bind, source: ./rootfs/bin, target: /data/ro, readonly: true}
      - {type: tmpfs, target: /data/hide}
      - {type: tmpfs, target: /other}
      - {type: tmpfs, target: /data/late}
    processes:
      - name: main
        command: [/bin/sh]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/data": "", "/data/ro": "/data", "/data/hide": "/data", "/other": "", "/data/late": "/data"}
	checkBeneath(t, p, want, "/data")
}

// checkBeneath checks that the mounts of environment a at want's
// targets, each once, are beneath the mount want says, and that those
// at held's targets are held.
func checkBeneath(t *testing.T, p *Plan, want map[string]string, held ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, st := range ops(p, "a") {
		m, ok := st.Op.(Mount)
		if !ok || m.Confine != "" {
			continue
		}
		key := m.Target
		if m.Flags&msREMOUNT != 0 {
			key += " (remount)"
		}
		b, ok := want[key]
		if !ok {
			continue
		}
		seen[key] = true
		if m.Beneath != b {
			t.Errorf("%s: beneath %q, want %q", FormatOp(m), m.Beneath, b)
		}
		if slices.Contains(held, key) && !m.Held {
			t.Errorf("%s: not held", FormatOp(m))
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d of the %d mounts in the plan: %v", len(seen), len(want), seen)
	}
}

// TestNestedMountLateBeneath: a mount below a bind, listed after another
// mount, was refused (dc7723f: the executor no longer held the bind's fd
// then, and by its path a writer of the tree that renames the bind's
// folder sent it to a folder of its own). The executor holds one fd per
// held mount now: it is resolved beneath the bind, and the plan says so;
// so are two siblings below one bind that are both held themselves,
// which no order could plan before.
func TestNestedMountLateBeneath(t *testing.T) {
	p, err := compileText(t, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./rootfs/bin, target: /data}
      - {type: tmpfs, target: /other}
      - {type: bind, source: ./rootfs, target: /data/late, readonly: true}
      - {type: tmpfs, target: /data/late/bin}
      - {type: bind, source: ./rootfs/bin, target: /data/sib}
      - {type: tmpfs, target: /data/sib/y}
      - {type: tmpfs, target: /data/z}
    processes:
      - name: main
        command: [/bin/sh]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkBeneath(t, p, map[string]string{"/data": "", "/other": "", "/data/late": "/data", "/data/late/bin": "/data/late",
		"/data/sib": "/data", "/data/sib/y": "/data/sib", "/data/z": "/data"}, "/data", "/data/late", "/data/sib")
	var b strings.Builder
	if err := Render(&b, p); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, w := range []string{
		`move_mount(its fd, <root>/data), its fd held`,
		`move_mount(its fd, <mount at /data>/late), its fd held`,
		`mount("tmpfs", <mount at /data/late>/bin, "tmpfs"`,
		`mount("tmpfs", <mount at /data>/z, "tmpfs"`,
	} {
		if !strings.Contains(text, w) {
			t.Errorf("the plan does not show %q:\n%s", w, text)
		}
	}
}

// TestNestedTmpfsConfinedBeneath (helper-56's review): a tmpfs below a
// bind, with masked or read-only paths below it, was placed by its path
// (not beneath the bind's fd), then refused (4a13554): a writer of the
// tree that renamed the bind's folder sent the tmpfs to a folder of its
// own, and the host folder it hid showed at the bind's new name. The
// tmpfs is now resolved beneath the bind's fd, and so are its paths,
// through it.
func TestNestedTmpfsConfinedBeneath(t *testing.T) {
	for _, sec := range []string{"masked_paths: [/data/hide/x]", "readonly_paths: [/data/hide]"} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "rootfs", "bin"), 0o755)
		os.WriteFile(filepath.Join(dir, "rootfs", "bin", "sh"), []byte("#!"), 0o755)
		os.MkdirAll(filepath.Join(dir, "rootfs", "data", "hide", "x"), 0o755)
		s, err := spec.ParseBytes("t.yaml", dir, []byte(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./rootfs/bin, target: /data}
      - {type: tmpfs, target: /data/hide}
    security:
      `+sec+`
    processes:
      - name: main
        command: [/bin/sh]
`))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(s, fixedOptions(Options{Caller: &rootCaller}))
		if err != nil {
			t.Fatalf("%s: %v", sec, err)
		}
		checkBeneath(t, p, map[string]string{"/data": "", "/data/hide": "/data"}, "/data")
		confined := 0
		for _, st := range ops(p, "a") {
			if m, ok := st.Op.(Mount); ok && m.Confine != "" {
				confined++
				if m.Beneath != "/data" {
					t.Errorf("%s: %s beneath %q, want /data", sec, FormatOp(m), m.Beneath)
				}
			}
		}
		if confined != 1 {
			t.Errorf("%s: %d confining mounts, want 1", sec, confined)
		}
	}
}

// TestNestedBelowHostRootPlanned (helper-56's review of dc7723f): a
// mount below a bind of rootfs.host other than the last (they come
// first, sorted) was refused, with no order of the spec's that plans:
// an ordinary read-only bind at /etc/resolv.conf with rootfs.host
// [/usr, /etc]. Their mount points are in nsup's tree, which no
// environment writes: it plans again, each mount beneath the bind it
// lies below (the executor holds one fd per held mount).
//
// The targets are folders the host has: one it lacks is refused, as
// apply would make it in the read-only bind (TestReadonlyTargetRefused).
func TestNestedBelowHostRootPlanned(t *testing.T) {
	x, y := hostSubfolder(t, "/etc"), hostSubfolder(t, "/usr")
	p, err := compileText(t, `version: 1
environments:
  a:
    rootfs: {host: [/usr, /etc]}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /tmp}
      - {type: bind, source: ./rootfs/bin, target: `+x+`, readonly: true}
      - {type: tmpfs, target: `+y+`}
    processes:
      - name: main
        command: [/usr/bin/true]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkBeneath(t, p, map[string]string{"/tmp": "", x: "/etc", y: "/usr"}, "/etc", "/usr")
}

// hostSubfolder is a folder of the host's in dir (not a link, nor
// /usr/bin or /usr/lib*, which a command needs).
func hostSubfolder(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() && e.Name() != "bin" && !strings.HasPrefix(e.Name(), "lib") {
			return path.Join(dir, e.Name())
		}
	}
	t.Fatalf("no folder in the host's %s", dir)
	return ""
}

// TestKernelMountsBelowBindBeneath: a proc, a dev (its tmpfs, its nodes'
// binds, its devpts and shm), an mqueue below a bind were placed by
// their path, which the rename of the bind's folder by a writer of the
// tree sends elsewhere: they are resolved beneath the bind's held fd,
// the proc held itself for its masked and read-only paths, the dev's
// tmpfs held itself for the dev's own steps, its links and console too
// (helper-59's review).
func TestKernelMountsBelowBindBeneath(t *testing.T) {
	p, err := compileText(t, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, ipc]
    mounts:
      - {type: bind, source: ./rootfs/bin, target: /data}
      - {type: tmpfs, target: /other}
      - {type: proc, target: /data/proc}
      - {type: dev, target: /data/dev, readonly: true}
      - {type: mqueue, target: /data/mq}
    processes:
      - name: main
        command: [/bin/sh]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkBeneath(t, p, map[string]string{"/data": "", "/other": "", "/data/proc": "/data", "/data/dev": "/data",
		"/data/dev/null": "/data/dev", "/data/dev/pts": "/data/dev", "/data/dev/shm": "/data/dev", "/data/dev (remount)": "/data/dev",
		"/data/mq": "/data"}, "/data", "/data/proc", "/data/dev")
	links := 0
	for _, st := range ops(p, "a") {
		if l, ok := st.Op.(Symlink); ok {
			links++
			if l.Beneath != "/data/dev" {
				t.Errorf("%s: beneath %q, want /data/dev", FormatOp(l), l.Beneath)
			}
		}
	}
	if links != 5 {
		t.Errorf("%d links of the dev, want 5", links)
	}
	confined := 0
	for _, st := range ops(p, "a") {
		if m, ok := st.Op.(Mount); ok && m.Confine != "" {
			confined++
			if m.Beneath != "/data/proc" {
				t.Errorf("%s: beneath %q, want /data/proc", FormatOp(m), m.Beneath)
			}
		}
	}
	if confined == 0 {
		t.Error("no masked or read-only path of the proc below /data")
	}
}
