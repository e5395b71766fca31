package executor_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// TestRootCapabilitiesAll: `add: [ALL]` applies on a host whose root
// lacks capabilities in its bounding set (this one has no
// CAP_SYS_RESOURCE), where capset failed (EPERM): the plan resolves ALL
// into the capabilities nsup can give, and root inside holds exactly
// those, outside a user namespace (nsup's own) and in one (every one the
// kernel knows).
func TestRootCapabilitiesAll(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, c := range []struct{ name, ns string }{
		{"host", "[mnt, pid]"},
		{"userns", "[user, mnt, pid]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			busyboxRoot(t, dir)
			p := compile(t, dir, `version: 1
environments:
  all:
    rootfs: {dir: ./rootfs}
    namespaces: `+c.ns+`
    security: {capabilities: {add: [ALL]}}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/sh, -c, 'echo "== status"; grep -E "^Cap(Eff|Prm|Bnd):" /proc/self/status']}
`)
			var keep []string
			for _, st := range p.Environments[0].Steps {
				if op, ok := st.Op.(planner.Capset); ok {
					keep = op.Keep
				}
			}
			if keep == nil {
				t.Fatalf("no capset in the plan:\n%s", planText(p))
			}
			var want uint64
			for _, n := range keep {
				i := slices.Index(spec.Capabilities, n)
				if i < 0 {
					t.Fatalf("plan keeps %s, not a capability", n)
				}
				want |= 1 << i
			}
			out := runOK(t, p)
			got := map[string]uint64{}
			for _, l := range sections(out)["status"] {
				f := strings.Fields(l)
				v, err := strconv.ParseUint(f[1], 16, 64)
				if err != nil {
					t.Fatal(l)
				}
				got[strings.TrimSuffix(f[0], ":")] = v
			}
			for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
				if got[k] != want {
					t.Errorf("%s = %#x, the plan lists %#x (%s)", k, got[k], want, strings.Join(keep, "|"))
				}
			}
		})
	}
}
