package spec

import (
	"errors"
	"slices"
	"testing"
)

// TestReadable: what of an invalid spec the host checks take: the
// environments with no error of their own, nor one in an environment
// they join or depend on; none after an error of the whole file, of its
// name or of its volumes; all after one of version.
func TestReadable(t *testing.T) {
	const envs = `environments:
  bad: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], procesess: []}
  joins: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], join: {net: bad}, processes: [{name: m, command: [/bin/sh]}]}
  waits: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], depends_on: [joins], processes: [{name: m, command: [/bin/sh]}]}
  cyc1: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], join: {net: cyc2}, processes: [{name: m, command: [/bin/sh]}]}
  cyc2: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], join: {ipc: cyc1}, processes: [{name: m, command: [/bin/sh]}]}
  good: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], processes: [{name: m, command: [/bin/sh]}]}
  good2: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], depends_on: [good], processes: [{name: m, command: [/bin/sh]}]}
`
	for _, c := range []struct {
		name, head string
		want       []string // nil: no spec
	}{
		{"envs", "version: 1\n", []string{"good", "good2"}},
		{"version", "version: 2\n", []string{"good", "good2"}},
		{"unknown key", "version: 1\nvolumez: {}\n", []string{"good", "good2"}},
		{"name", "version: 1\nname: Bad_Name\n", nil},
		{"volumes", "version: 1\nvolumes: {v: {mode: x}}\n", nil},
		{"alias", "version: 1\nx-a: &a 1\nx-b: *a\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseBytesVarsReadable("t.yaml", "/", []byte(c.head+envs), Vars{Off: true})
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("got %v, want errors", err)
			}
			var got []string
			if s != nil {
				for _, e := range s.Environments {
					got = append(got, e.Name)
				}
			}
			if !slices.Equal(got, c.want) || (s == nil) != (c.want == nil) {
				t.Errorf("readable: %q, want %q (errors:\n%v)", got, c.want, err)
			}
		})
	}
	// A valid spec is what ParseBytes makes of it.
	s, err := ParseBytesVarsReadable("t.yaml", "/", []byte("version: 1\nenvironments:\n  good: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt], processes: [{name: m, command: [/bin/sh]}]}\n"), Vars{Off: true})
	if err != nil || len(s.Environments) != 1 {
		t.Errorf("valid: %v, %v", s, err)
	}
}
