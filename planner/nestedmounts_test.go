package planner

import (
	"strings"
	"testing"
)

// TestNestedMountsBeneath (helper-54's review): a bind or tmpfs of the
// spec's below a bind is resolved beneath the bind's held fd, not by its
// path from the root again (a writer of the tree renamed the bind's
// folder and sent it to a folder of its own), and the plan is one the
// executor takes; one listed after a step that is not beneath the bind
// would be placed by its path (helper-55's review wrote a host folder
// bound read-only so): refused.
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
    processes:
      - name: main
        command: [/bin/sh]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/data": "", "/data/ro": "/data", "/data/hide": "/data", "/other": ""}
	for _, st := range ops(p, "a") {
		m, ok := st.Op.(Mount)
		if !ok {
			continue
		}
		b, ok := want[m.Target]
		if !ok {
			continue
		}
		if m.Beneath != b {
			t.Errorf("%s: beneath %q, want %q", FormatOp(m), m.Beneath, b)
		}
		if m.Target == "/data" && !m.Held {
			t.Errorf("%s: not held", FormatOp(m))
		}
	}
}

// TestNestedMountLateRefused: a mount below a bind, listed after another
// mount, is refused with where to list it.
func TestNestedMountLateRefused(t *testing.T) {
	_, err := compileText(t, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./rootfs/bin, target: /data}
      - {type: tmpfs, target: /other}
      - {type: bind, source: ./rootfs/bin, target: /data/late, readonly: true}
    processes:
      - name: main
        command: [/bin/sh]
`, Options{})
	want := "environments.a.mounts[2]: /data/late lies below the bind at /data (environments.a.mounts[0]), but another mount comes between them"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%v, want %q", err, want)
	}
}

// TestNestedTmpfsConfinedRefused (helper-56's review): a tmpfs below a
// bind, with a masked path below it, was placed by its path (not beneath
// the bind's fd) and not refused: a writer of the tree that renamed the
// bind's folder sent the tmpfs to a folder of its own, and the host
// folder it hid showed at the bind's new name.
func TestNestedTmpfsConfinedRefused(t *testing.T) {
	for _, sec := range []string{"masked_paths: [/data/hide/x]", "readonly_paths: [/data/hide]"} {
		p, err := compileText(t, `version: 1
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
`, Options{})
		want := "environments.a.mounts[1]: /data/hide lies below the bind at /data (environments.a.mounts[0]), and masked or read-only paths lie below it"
		if err == nil || !strings.Contains(err.Error(), want) {
			for _, st := range ops(p, "a") {
				if m, ok := st.Op.(Mount); ok && m.Target != "" {
					t.Logf("%s beneath %q", m.Target, m.Beneath)
				}
			}
			t.Errorf("%s: %v, want %q", sec, err, want)
		}
	}
}

// TestNestedBelowHostRootPlanned (helper-56's review of dc7723f): a
// mount below a bind of rootfs.host other than the last (they come
// first, sorted) was refused, with no order of the spec's that plans:
// an ordinary read-only bind at /etc/resolv.conf with rootfs.host
// [/usr, /etc]. Their mount points are in nsup's tree, which no
// environment writes: it plans again.
func TestNestedBelowHostRootPlanned(t *testing.T) {
	_, err := compileText(t, `version: 1
environments:
  a:
    rootfs: {host: [/usr, /etc]}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /tmp}
      - {type: bind, source: ./rootfs/bin, target: /etc/x, readonly: true}
      - {type: tmpfs, target: /usr/y}
    processes:
      - name: main
        command: [/usr/bin/true]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
}
