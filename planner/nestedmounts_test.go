package planner

import "testing"

// TestNestedMountsBeneath (helper-54's review): a bind or tmpfs of the
// spec's below a bind is resolved beneath the bind's held fd, not by its
// path from the root again (a writer of the tree renamed the bind's
// folder and sent it to a folder of its own); one after a step that is
// not beneath it is not, and the plan is one the executor takes.
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
	want := map[string]string{"/data": "", "/data/ro": "/data", "/data/hide": "/data", "/other": "", "/data/late": ""}
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
