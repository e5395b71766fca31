package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRootHelpersGetNoHostEnvironment: the processes nsup leaves on the
// host for a detached environment, pasta's keeper, pasta and a pod's
// holder, get an empty environment, not nsup's: what the caller's shell
// holds (tokens, credentials) stays out of pasta, which parses the
// environment's traffic, and out of processes that outlive the command.
// Before, each was an exec.Cmd without Env, which passes the caller's.
func TestRootHelpersGetNoHostEnvironment(t *testing.T) {
	requireRoot(t)
	requirePasta(t)
	requireBusybox(t)
	const marker = "nsup-host-secret-7f3a"
	t.Setenv("NSUP_TEST_HOST_TOKEN", marker)
	dir := rootTestDirs(t)
	f := filepath.Join(dir, "pod.yaml")
	os.WriteFile(f, []byte(`version: 1
name: envpod
environments:
  web:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, net]
    net: {network: user}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
  client:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {net: web}
    processes:
      - {name: main, command: [/bin/busybox, sleep, "1000"]}
`), 0o644)
	t.Chdir(dir)
	t.Cleanup(func() { nsup(t, "down", f) })
	if code, _, errs := nsup(t, "apply", "-d", f); code != 0 {
		t.Fatalf("apply -d: %d %s", code, errs)
	}
	// Every process but this one, by name: the helpers must be there, and
	// none may hold the marker.
	seen := map[string]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		name := comm(pid)
		if strings.HasPrefix(name, "pasta") || strings.HasPrefix(name, "passt") {
			name = "pasta" // pasta runs passt.avx2 where the CPU has it
		}
		seen[name] = true
		if bytes.Contains(env, []byte(marker)) {
			t.Errorf("process %d (%s) has nsup's caller's environment: %q", pid, name, strings.ReplaceAll(string(env), "\x00", " "))
		}
	}
	for _, name := range []string{"pasta", "nsup-keeper", "nsup-pod"} {
		if !seen[name] {
			t.Errorf("no %s process: the test did not check it (%v)", name, seen)
		}
	}
}
