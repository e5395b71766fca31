package executor_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/planner"
)

// TestRootNoClone3: on a host whose filter answers clone3 with ENOSYS (as
// Docker's default profile does, and gVisor), nsup makes the child with
// clone(2): one process with its minimal PID 1, one made by a forked copy
// (a join by path), one with init: false, and a tree under nsup's init.
func TestRootNoClone3(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	timeNS := fmt.Sprintf("/proc/%d/ns/time", os.Getpid())
	for _, tc := range []struct{ name, extra, procs string }{
		{"monitor", "", `[{name: main, command: [/bin/echo, hello]}]`},
		// Its cgroup namespace rooted at its groups, the unified one too,
		// which it enters after the clone here.
		{"cgroupns", "namespaces: [mnt, pid, cgroup]\n    mounts: [{type: proc, target: /proc}]", `[{name: main, command: [/bin/sh, -c, "cat /proc/self/cgroup; echo hello"]}]`},
		{"forked", "join: {time: " + timeNS + "}", `[{name: main, command: [/bin/echo, hello]}]`},
		{"init-false", "init: false", `[{name: main, command: [/bin/echo, hello]}]`},
		{"tree", "", `[{name: main, command: [/bin/sh, -c, "sleep 0.1; echo hello"]}, {name: side, command: [/bin/true]}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkHost(t)
			ns := "namespaces: [mnt, pid]"
			if strings.HasPrefix(tc.extra, "namespaces:") {
				ns, tc.extra = tc.extra, ""
			}
			p := compile(t, dir, `version: 1
environments:
  c:
    rootfs: {dir: ./rootfs}
    `+ns+`
    `+tc.extra+`
    processes: `+tc.procs+`
`)
			b, err := planner.MarshalIndent(p)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "plan.json")
			os.WriteFile(f, b, 0o600)
			cmd := exec.Command("/proc/self/exe")
			cmd.Env = append(os.Environ(), "NSUP_TEST_HELPER=apply", "NSUP_TEST_PLAN="+f, "NSUP_TEST_NOCLONE3=1")
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "hello") {
				t.Fatalf("apply under a filter refusing clone3: %v\n%s\n%s", err, out, planText(p))
			}
			if tc.name == "cgroupns" {
				for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					if line != "hello" && !strings.HasSuffix(line, ":/") {
						t.Errorf("inside, /proc/self/cgroup shows a group other than its own: %q\n%s", line, out)
					}
				}
			}
		})
	}
}
