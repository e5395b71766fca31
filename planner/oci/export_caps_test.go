package oci

import (
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// TestExportCapsAll: OCI has no ALL, so a bundle lists what the plan
// resolved `add: [ALL]` to on the host where it is made, and runs there
// (runc refuses a capability its bounding set lacks): on a host without
// CAP_SYS_RESOURCE, every capability but that one, with a note at ALL.
func TestExportCapsAll(t *testing.T) {
	s, err := spec.ParseBytes("all.yaml", "/tmp", []byte(`version: 1
environments:
  all:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    security: {capabilities: {add: [ALL]}}
    processes: [{name: main, command: [/bin/sh]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	caller := rootCaller
	caller.CapsNotHeld = []string{"CAP_SYS_RESOURCE"}
	p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Closure: fixedClosure, Caller: &caller, Seccomp: fixedSeccomp, HostPath: fixedHostPath})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Export(s, p, "all")
	if err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(spec.Capabilities), func(n string) bool { return n == "CAP_SYS_RESOURCE" })
	c := b.Config.Process.Capabilities
	for k, got := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if n := notesText(b.Notes); !strings.Contains(n, "all.yaml:6:37: environments.all.security.capabilities.add[0]: translated: OCI has no ALL") {
		t.Errorf("notes:\n%s\nwant one at ALL", n)
	}
}
