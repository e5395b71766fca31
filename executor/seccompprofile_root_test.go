package executor_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRootSeccompProfileHostRoot (helper-87's review of the cgroups): a
// profile of the spec's (by path) that lets every call run, as a
// permissive one is written, let root inside make a user namespace, then
// a mount and a cgroup namespace, and mount its own cgroup v1 pids and
// memory hierarchies there (their root is the environment's group) and
// write max to their pids.max and memory.limit_in_bytes: the limits
// gone, with nothing in the plan saying so. `seccomp: unconfined` was
// kept from it already (TestRootSeccompDefault). Such a profile gets the
// same refusals now, where root inside is the host's root: a new user
// namespace and the keyring calls; perf_event_open, which it allows and
// Docker's refuses, still runs (the probe reaches its calls).
func TestRootSeccompProfileHostRoot(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir, yaml := secEnv(t, "    limits: {pids: 64}\n    security: {seccomp: ./allow.json}\n",
		"cgroup_pids_max", "keyctl", "add_key", "unshare_user", "unshare_user_mount", "perf_event_open")
	profile := `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]}`
	if err := os.WriteFile(filepath.Join(dir, "allow.json"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	res := probeResults(runOK(t, compile(t, dir, yaml)))
	if got := res["cgroup_pids_max"]; got != "EPERM at unshare" {
		t.Errorf("pids.max written from a cgroup hierarchy mounted inside: %q, want EPERM at unshare", got)
	}
	for _, k := range []string{"keyctl", "add_key", "unshare_user", "unshare_user_mount"} {
		if res[k] != "EPERM" {
			t.Errorf("%s: %q, want EPERM", k, res[k])
		}
	}
	if got := res["perf_event_open"]; got == "" || got == "EPERM" {
		t.Errorf("perf_event_open: %q, want it let through by the profile", got)
	}
}
