package planner

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProfileRootRefusals: a profile of the spec's, where root inside is
// the host's root, gets what unconfined keeps (rootRefusals): its rules
// lose the keyring calls and clone3, a rule that lets clone or unshare
// run holds only without CLONE_NEWUSER (Docker's clone rule, which says
// so already, as it is), and the refusals follow. With SYS_ADMIN, the
// keyrings only; in a user namespace that maps root elsewhere, the
// profile as written (TestRootSeccompProfileHostRoot runs it).
func TestProfileRootRefusals(t *testing.T) {
	root := shRoot(t)
	const docker = `{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}`
	profile := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [`+docker+`,
		{"names": ["read", "unshare", "keyctl", "clone3"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_NE"}]}]}`), 0o644)
	const idmap = "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"
	for _, c := range []struct {
		name, ns, idmap, caps string
		want                  []string // each rule: its names, the action's first letter (Allow, Errno), its conditions on the flags
	}{
		{"root", "[mnt, pid, ipc]", "", "", []string{
			"clone A masked 7e020000=0", "read A", "unshare A masked 10000000=0",
			"add_key,keyctl,request_key E", "clone,unshare E masked 10000000=10000000", "clone3 E"}},
		{"SYS_ADMIN", "[mnt, pid, ipc]", "", "{add: [SYS_ADMIN]}", []string{
			"clone A masked 7e020000=0", "read,unshare,clone3 A", "clone A ne 1", "add_key,keyctl,request_key E"}},
		{"an idmap", "[user, mnt, pid, ipc]", idmap, "", []string{
			"clone A masked 7e020000=0", "read,unshare,keyctl,clone3 A", "clone A ne 1"}},
	} {
		caps := ""
		if c.caps != "" {
			caps = ", capabilities: " + c.caps
		}
		sp, err := spec.ParseBytes("l.yaml", t.TempDir(), []byte(`version: 1
environments:
  web:
    rootfs: {dir: `+root+`}
    namespaces: `+c.ns+`
`+c.idmap+`    security: {seccomp: `+profile+caps+`}
    processes: [{name: main, command: [/bin/sh]}]
`))
		if err != nil {
			t.Fatal(err)
		}
		caller := rootCaller
		o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &caller})
		o.Seccomp = nil // the profile read from its file
		p, err := Compile(sp, o)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, st := range p.Environments[0].Steps {
			if op, ok := st.Op.(Seccomp); ok {
				if (op.RootRefused != "") != (c.name != "an idmap") || len(op.Program) == 0 {
					t.Errorf("%s: refused %q, %d bytes of program", c.name, op.RootRefused, len(op.Program))
				}
				for _, r := range op.Rules.Syscalls {
					if slices.Contains(r.Names, "mq_open") {
						continue // (none: the environment has its own IPC namespace)
					}
					s := strings.Join(r.Names, ",") + " " + string(r.Action)[9:10]
					for _, a := range r.Args {
						switch a.Op {
						case specs.OpMaskedEqual:
							s += " masked " + hexOf(a.Value) + "=" + hexOf(a.ValueTwo)
						case specs.OpNotEqual:
							s += " ne " + hexOf(a.Value)
						}
					}
					got = append(got, s)
				}
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: rules\n%s\nwant\n%s", c.name, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

func hexOf(v uint64) string { return strconv.FormatUint(v, 16) }
