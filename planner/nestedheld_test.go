package planner

import "testing"

// TestNestedHeldMountBeneath (helper-55's review): a bind below an
// earlier bind that is held itself (a mount of the spec's lies below it,
// or masked paths do) was resolved by path from the root again, not
// beneath the earlier bind's fd: another environment that may write the
// tree renamed the earlier bind's folder and put a folder of its own in
// its place, the read-only bind went there, and at the earlier bind's
// new name root inside wrote the host's folder it was to make read-only.
// It is now resolved beneath the earlier bind's fd and held itself.
func TestNestedHeldMountBeneath(t *testing.T) {
	p, err := compileText(t, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./rootfs/bin, target: /data}
      - {type: bind, source: ./rootfs, target: /data/ro, readonly: true}
      - {type: tmpfs, target: /data/ro/bin}
    processes:
      - name: main
        command: [/bin/sh]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/data": "", "/data/ro": "/data", "/data/ro/bin": "/data/ro"}
	seen := 0
	for _, st := range ops(p, "a") {
		m, ok := st.Op.(Mount)
		if !ok {
			continue
		}
		b, ok := want[m.Target]
		if !ok {
			continue
		}
		seen++
		if m.Beneath != b {
			t.Errorf("%s: beneath %q, want %q", FormatOp(m), m.Beneath, b)
		}
		if (m.Target == "/data" || m.Target == "/data/ro") && !m.Held {
			t.Errorf("%s: not held", FormatOp(m))
		}
	}
	if seen != len(want) {
		t.Errorf("%d of the %d mounts in the plan", seen, len(want))
	}
}
