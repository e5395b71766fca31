package executor_test

import (
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
)

// TestRootNofileLow: a process's RLIMIT_NOFILE is set just before its
// execve (after the chdir that opens an fd), so the lowest limits apply,
// for one process (the child stage its PID 1) and for those nsup's init
// starts (which hold init's fds until their execve: below 17, their
// chdir failed with EMFILE), and for a process of another uid (the limit
// lowered after its setresuid): inside, the shell's ulimit (which opens
// no file) and /proc/self/limits say them.
func TestRootNofileLow(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, c := range []struct {
		name, rlimits, procs, want string
	}{
		{"one", "{nofile: 0}", `[{name: main, command: [/bin/sh, -c, "ulimit -Sn; ulimit -Hn"]}]`, "0\n0\n"},
		{"init", "{nofile: 0}", `[{name: main, command: [/bin/sh, -c, "ulimit -Sn; ulimit -Hn"]}, {name: b, command: [/bin/true]}]`, "n/main | 0\nn/main | 0\n"},
		{"uid", `{nofile: "1:2"}`, `[{name: main, user: "1000:1000", command: [/bin/sh, -c, "ulimit -Sn; ulimit -Hn"]}]`, "1\n2\n"},
		{"limits", "{nofile: 4}", `[{name: main, command: [/bin/sh, -c, "grep 'open files' /proc/self/limits"]}, {name: b, command: [/bin/true]}]`,
			"n/main | Max open files            4                    4                    files     \n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := compile(t, dir, `version: 1
environments:
  n:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
    rlimits: `+c.rlimits+`
    processes: `+c.procs+`
`)
			st, out, errOut, err := run(t, p, executor.Options{})
			if err != nil || st != 0 {
				t.Fatalf("apply: %d %v\n%s\n%s", st, err, errOut, planText(p))
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("inside printed %q, want %q", out, c.want)
			}
		})
	}
}
