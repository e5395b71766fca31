package oci

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// TestExportNofileRaised: a RLIMIT_NOFILE hard limit above the caller's
// is two steps (raised first, soft and hard; the soft limit set last):
// the bundle lists it once, as the process gets it.
func TestExportNofileRaised(t *testing.T) {
	s, err := spec.ParseBytes("raise.yaml", t.TempDir(), []byte(`version: 1
environments:
  e:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    rlimits: {nofile: "8:600000"}
    processes:
      - {name: main, command: [/bin/sh]}
`))
	if err != nil {
		t.Fatal(err)
	}
	caller := rootCaller
	caller.RaiseLimits, caller.HardLimits = true, map[string]uint64{"nofile": 4096}
	p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Closure: fixedClosure, Caller: &caller, Seccomp: fixedSeccomp, HostPath: fixedHostPath})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Export(s, p, "e")
	if err != nil {
		t.Fatal(err)
	}
	var got []specs.POSIXRlimit
	for _, r := range b.Config.Process.Rlimits {
		if r.Type == "RLIMIT_NOFILE" {
			got = append(got, r)
		}
	}
	if want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 8, Hard: 600000}}; !cmp.Equal(got, want) {
		t.Errorf("process.rlimits' RLIMIT_NOFILE %+v, want %+v", got, want)
	}
}
