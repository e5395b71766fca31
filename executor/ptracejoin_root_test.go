package executor_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/planner"
)

// TestRootPtraceJoinerStageUnreachable (helper-140's review): root in an
// environment that keeps CAP_SYS_PTRACE outside a user namespace passes
// the ptrace check on every process of the host's root it sees (the
// capability in the host's user namespace overrides "not dumpable" and
// the capability sets), and so on nsup's child stage of an environment
// that joins its pid namespace, which is born there with the host's root
// as its root, holding host folders as fds, until its root switch: a
// racing loop of a's wrote a host file through /proc/PID/root of b's
// stage in two of every five joins. Here b's stage is paused before its
// first mount, and a's probe writes through every /proc/PID/root it sees.
// The environment is a Landlock domain now: its processes pass the check
// only on processes of their own domain.
func TestRootPtraceJoinerStageUnreachable(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	escaped := filepath.Join(dir, "escaped")
	p := compile(t, dir, fmt.Sprintf(`version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net]
    security: {capabilities: {add: [SYS_PTRACE]}}
    mounts:
      - {type: proc, target: /proc}
      - {type: bind, source: ./shared, target: /shared}
    processes:
      - name: main
        command:
          - /bin/sh
          - -c
          - |
            while [ ! -e /shared/go ]; do sleep 0.02; done
            for p in /proc/[0-9]*; do
              echo "$p $(readlink $p/root 2>&1)"
              echo "$p" > $p/root%s && echo "$p: wrote the host's file"
            done > /shared/out 2>&1
            touch /shared/done
            sleep 1000
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt]
    join: {pid: a}
    processes:
      - {name: main, command: [/bin/true]}
`, escaped))
	first := -1
	for i, st := range p.Environments[1].Steps {
		if _, ok := st.Op.(planner.Mount); ok && st.Stage == planner.Child && first < 0 {
			first = i
		}
	}
	if p.Environments[1].Name != "b" || first < 0 {
		t.Fatalf("no mount in b's child stage:\n%s", planText(p))
	}
	pausedStage(t, p, "b", first)
	if err := os.WriteFile(filepath.Join(shared, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(shared, "done")); err == nil {
			break
		}
		if i == 800 {
			t.Fatal("a's probe did not finish")
		}
		time.Sleep(25 * time.Millisecond)
	}
	out, _ := os.ReadFile(filepath.Join(shared, "out"))
	if !strings.Contains(string(out), "/proc/1 ") {
		t.Fatalf("a's probe saw no process: %s", out)
	}
	if b, err := os.ReadFile(escaped); err == nil {
		t.Errorf("root in a wrote the host's %s through b's child stage (%s); a's probe:\n%s", escaped, strings.TrimSpace(string(b)), out)
	}
}

// TestRootPtraceInitExeNotWritable: root inside with CAP_SYS_PTRACE, in
// the host's user namespace, passes the ptrace check on nsup's init and
// opens its /proc/1/exe, the host's nsup binary (design.md: nsup does not
// execute a sealed copy). Only the kernel's refusal to open a running
// executable for writing (ETXTBSY: a kernel change of 2024 stopped exec
// from denying it, and was reverted) keeps it from overwriting the binary
// (CVE-2019-5736): here the open for writing, which writes nothing, must
// fail while the read shows the check passed.
func TestRootPtraceInitExeNotWritable(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	p := compile(t, dir, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid, net]
    security: {capabilities: {add: [SYS_PTRACE]}}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - name: main
        command: [/bin/sh, -c, 'echo "comm=$(cat /proc/1/comm) head=$(head -c 4 /proc/1/exe | tr -dc A-Z)"; (: >> /proc/1/exe) 2>&1 && echo "opened for writing"; true']
`)
	out := runOK(t, p)
	if !strings.Contains(out, "comm="+planner.InitName+" head=ELF") {
		t.Fatalf("root inside did not read nsup's init's /proc/1/exe (the test means nothing):\n%s", out)
	}
	if strings.Contains(out, "opened for writing") || !strings.Contains(out, "busy") {
		t.Errorf("root inside opened /proc/1/exe, nsup's binary, for writing (want ETXTBSY):\n%s", out)
	}
}
