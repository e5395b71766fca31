package planner

import (
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestCapabilitiesAllHeld: `add: [ALL]` is resolved when planned into
// what nsup can give on its host: outside a user namespace, without what
// nsup's bounding set lacks (this test's host: CAP_SYS_RESOURCE, as the
// machine these tests were written on) and what the kernel does not know
// (CAP_CHECKPOINT_RESTORE, an older kernel); in a user namespace, whose
// first process has every capability, without the unknown only. The plan
// notes what it left out and why. Capset used to keep every name nsup
// knows, and apply failed there (EPERM).
func TestCapabilitiesAllHeld(t *testing.T) {
	caller := rootCaller
	caller.CapsNotHeld = []string{"CAP_SYS_RESOURCE"}
	caller.CapsUnknown = []string{"CAP_CHECKPOINT_RESTORE"}
	for _, c := range []struct {
		ns  string
		out []string
	}{
		{"[mnt, pid]", []string{"CAP_SYS_RESOURCE", "CAP_CHECKPOINT_RESTORE"}},
		{"[user, mnt, pid]", []string{"CAP_CHECKPOINT_RESTORE"}},
	} {
		p, err := compileText(t, `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs, overlay: true}
    namespaces: `+c.ns+`
    security: {capabilities: {add: [ALL]}}
    processes: [{name: main, command: [/bin/sh]}]
`, Options{Caller: &caller})
		if err != nil {
			t.Fatal(err)
		}
		want := slices.DeleteFunc(slices.Clone(spec.Capabilities), func(n string) bool { return slices.Contains(c.out, n) })
		n := 0
		for _, st := range ops(p, "a") {
			var keep []string
			switch op := st.Op.(type) {
			case Capset:
				keep = op.Keep
			case CapbsetDrop:
				keep = op.Keep
			default:
				continue
			}
			n++
			if got := strings.Join(keep, "|"); got != strings.Join(want, "|") {
				t.Errorf("%s: %s keeps %s, want %s", c.ns, FormatOp(st.Op)[:12], got, strings.Join(want, "|"))
			}
		}
		if n != 2 {
			t.Errorf("%s: %d capability steps, want 2 (bounding set, capset)", c.ns, n)
		}
		var note string
		for _, n := range p.Environments[0].Notes {
			if strings.Contains(n, "ALL is every capability") {
				note = n
			}
		}
		for _, o := range c.out {
			if !strings.Contains(note, o+" (") {
				t.Errorf("%s: no note of %s left out of ALL: %q", c.ns, o, note)
			}
		}
		if c.ns != "[mnt, pid]" && strings.Contains(note, "CAP_SYS_RESOURCE") {
			t.Errorf("%s: CAP_SYS_RESOURCE left out in a user namespace: %q", c.ns, note)
		}
	}
}

// TestCapabilitiesNotHeldRefused: a capability `add` names that root
// inside cannot hold on this host is refused at its position: one
// nsup's bounding set lacks, outside a user namespace (capset failed at
// apply, EPERM), and one the kernel does not know (capset left it out,
// unsaid), anywhere.
func TestCapabilitiesNotHeldRefused(t *testing.T) {
	caller := rootCaller
	caller.CapsNotHeld = []string{"CAP_SYS_RESOURCE"}
	caller.CapsUnknown = []string{"CAP_CHECKPOINT_RESTORE"}
	for _, c := range []struct{ ns, add, want string }{
		{"[mnt, pid]", "SYS_RESOURCE", "t.yaml:7:37: environments.a.security.capabilities.add: CAP_SYS_RESOURCE is not in nsup's bounding or permitted set"},
		{"[user, mnt, pid]", "SYS_RESOURCE", ""},
		{"[user, mnt, pid]", "CHECKPOINT_RESTORE", "t.yaml:7:37: environments.a.security.capabilities.add: CAP_CHECKPOINT_RESTORE is unknown to this kernel"},
	} {
		_, err := compileText(t, `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs, overlay: true}
    namespaces: `+c.ns+`
    security: {capabilities: {add: [`+c.add+`]}}
    processes: [{name: main, command: [/bin/sh]}]
`, Options{Caller: &caller})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %s: %v", c.ns, c.add, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %s: %v, want %s", c.ns, c.add, err, c.want)
		}
	}
}
