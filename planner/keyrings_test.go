package planner

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestUnconfinedKeyrings: `seccomp: unconfined` outside a user namespace
// that maps root elsewhere keeps a filter refusing the keyring calls and
// new user namespaces: root inside is the host's root to the kernel's
// keyrings, and a review read a key of the host root's user keyring
// (TestRootSessionKeyring), and from a user namespace of its own mounted
// its cgroups and lifted its pids.max (TestRootSeccompDefault). In such a
// user namespace, no filter at all.
func TestUnconfinedKeyrings(t *testing.T) {
	root := shRoot(t)
	const idmap = "    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}\n"
	const filter = "unconfined, but the host root's keyrings and new user namespaces"
	// (With its own IPC namespace: in the host's, the filter refuses its
	// calls too: TestHostIPCFilter.)
	for _, c := range []struct {
		name, ns, idmap, security string
		want                      string
		rules                     int // the filter's rules: the keyrings', then clone and unshare's, clone3's
	}{
		{"root", "[mnt, pid, ipc]", "", "{seccomp: unconfined}", filter, 3},
		// SYS_ADMIN mounts cgroups without a user namespace (noted).
		{"SYS_ADMIN: the keyrings only", "[mnt, pid, ipc]", "", "{seccomp: unconfined, capabilities: {add: [SYS_ADMIN]}}", filter, 1},
		{"an idmap", "[user, mnt, pid, ipc]", idmap, "{seccomp: unconfined}", "", 0},
	} {
		p, err := compileLimits(t, `version: 1
environments:
  web:
    rootfs: {dir: `+root+`}
    namespaces: `+c.ns+`
`+c.idmap+`    security: `+c.security+`
    processes: [{name: main, command: [/bin/sh]}]
`, rootCaller, "hybrid")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := ""
		for _, st := range p.Environments[0].Steps {
			if op, ok := st.Op.(Seccomp); ok {
				got = op.Profile
				if op.Rules == nil || op.Rules.DefaultAction != specs.ActAllow || len(op.Rules.Syscalls) != c.rules || !slices.Equal(op.Rules.Syscalls[0].Names, []string{"add_key", "keyctl", "request_key"}) {
					t.Errorf("%s: %+v", c.name, op.Rules)
				}
			}
		}
		if got != c.want {
			t.Errorf("%s: filter %q, want %q", c.name, got, c.want)
		}
	}
}
