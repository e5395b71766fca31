package planner

import "testing"

// TestHeldBindConfined (helper-52's review): a bind that holds masked or
// read-only paths of the spec's is held, and those paths are resolved
// beneath its fd, not by path from the root again (a writer of the tree
// renamed the bind's folder and sent them to a folder of its own); a
// bind that holds none is not held.
func TestHeldBindConfined(t *testing.T) {
	p, err := compileText(t, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./rootfs/bin, target: /data}
      - {type: bind, source: ./rootfs/bin, target: /other}
    security:
      masked_paths: [/data/sh]
      readonly_paths: [/data]
    processes:
      - name: main
        command: [/bin/sh]
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var held, beneath []string
	for _, st := range ops(p, "a") {
		m, ok := st.Op.(Mount)
		if !ok {
			continue
		}
		if m.Held {
			held = append(held, m.Target)
		}
		if m.Confine != "" {
			if m.Beneath != "/data" {
				t.Errorf("%s: beneath %q, want /data", FormatOp(m), m.Beneath)
			}
			beneath = append(beneath, m.Target)
		}
	}
	if len(held) != 1 || held[0] != "/data" {
		t.Errorf("held: %q, want only /data", held)
	}
	if len(beneath) != 2 {
		t.Errorf("confined: %q, want /data and /data/sh", beneath)
	}
}
