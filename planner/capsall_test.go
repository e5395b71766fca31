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

// TestCapabilitiesDefaultNotHeld: a capability of the default set that
// nsup's bounding set lacks (a host, or a container nsup runs in,
// without CAP_AUDIT_WRITE) is left out of an environment outside a user
// namespace, with a note; apply failed at capset (EPERM) with the
// defaults alone. In a user namespace it is kept, and one the spec adds
// by name is refused (TestCapabilitiesNotHeldRefused), not dropped.
func TestCapabilitiesDefaultNotHeld(t *testing.T) {
	caller := rootCaller
	caller.CapsNotHeld = []string{"CAP_AUDIT_WRITE", "CAP_SYS_RESOURCE"}
	for _, c := range []struct {
		ns, sec, err string
		kept         bool
	}{
		{ns: "[mnt, pid]"},
		{ns: "[mnt, pid]", sec: "security: {capabilities: {drop: [CHOWN]}}"},
		{ns: "[user, mnt, pid]", kept: true},
		{ns: "[mnt, pid]", sec: "security: {capabilities: {add: [AUDIT_WRITE]}}", err: "CAP_AUDIT_WRITE is not in nsup's bounding or permitted set"},
	} {
		p, err := compileText(t, `
version: 1
environments:
  a:
    rootfs: {dir: ./rootfs, overlay: true}
    namespaces: `+c.ns+`
    `+c.sec+`
    processes: [{name: main, command: [/bin/sh]}]
`, Options{Caller: &caller})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %s: %v, want %s", c.ns, c.sec, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s %s: %v", c.ns, c.sec, err)
		}
		n := 0
		for _, st := range ops(p, "a") {
			if op, ok := st.Op.(Capset); ok {
				n++
				if slices.Contains(op.Keep, "CAP_AUDIT_WRITE") != c.kept {
					t.Errorf("%s %s: capset keeps %v, want CAP_AUDIT_WRITE kept: %v", c.ns, c.sec, op.Keep, c.kept)
				}
				if !slices.Contains(op.Keep, "CAP_KILL") {
					t.Errorf("%s %s: capset keeps %v, without CAP_KILL", c.ns, c.sec, op.Keep)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s %s: %d capsets", c.ns, c.sec, n)
		}
		noted := slices.ContainsFunc(p.Environments[0].Notes, func(n string) bool {
			return strings.Contains(n, "default capabilities") && strings.Contains(n, "CAP_AUDIT_WRITE (")
		})
		if noted == c.kept || strings.Contains(strings.Join(p.Environments[0].Notes, "\n"), "CAP_SYS_RESOURCE (not") {
			t.Errorf("%s %s: notes %q", c.ns, c.sec, p.Environments[0].Notes)
		}
	}
}
