package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// TestNofileSetLast: a process's RLIMIT_NOFILE is set after its chdir,
// the step just before its execve, so that no fd apply opens between the
// fork and the execve (the chdir's) is held to it: nofile: 3 failed that
// chdir with EMFILE. A hard limit above the caller's is raised first,
// soft and hard, before setresuid (which drops the capability that
// takes), the soft limit set last. Every other limit stays first. For
// one process (the child stage its PID 1) and for init's.
func TestNofileSetLast(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, nil, nil)
	raiser := rootCaller
	raiser.RaiseLimits = true
	for _, c := range []struct {
		name, rlimits, procs string
		caller               *Caller
		want                 string // the proc steps: a letter each, N[SOFT:HARD] RLIMIT_NOFILE
	}{
		{"one", "{nofile: 3, nproc: 100}", "[{name: main, command: [/bin/sh]}]", &rootCaller, "LGUPCN[3:3]E"},
		{"default", "{nproc: 100}", "[{name: main, command: [/bin/sh]}]", &rootCaller, "LGUPCN[1024:524288]E"},
		{"init", "{nofile: 16}", "[{name: main, command: [/bin/sh]}, {name: b, command: [/bin/sh]}]", &rootCaller, "GUPCN[16:16]E GUPCN[16:16]E"},
		{"raised", "{nofile: \"8:600000\"}", "[{name: main, command: [/bin/sh]}]", &raiser, "N[600000:600000]GUPCN[8:600000]E"},
	} {
		text := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt, pid]\n    rlimits: " + c.rlimits + "\n    processes: " + c.procs + "\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(s, fixedOptions(Options{CacheDir: dir, Caller: c.caller}))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var b strings.Builder
		for _, st := range p.Environments[0].Steps {
			if st.Stage != Proc {
				continue
			}
			switch op := st.Op.(type) {
			case Prlimit:
				if op.Resource == unix.RLIMIT_NOFILE {
					fmt.Fprintf(&b, "N[%d:%d]", op.Soft, op.Hard)
				} else {
					b.WriteString("L")
				}
			case Setresgid:
				b.WriteString("G")
			case Setresuid:
				b.WriteString("U")
			case Prctl:
				b.WriteString("P")
			case Chdir:
				b.WriteString("C")
			case Execve:
				b.WriteString("E ")
			default:
				b.WriteString("?")
			}
		}
		if got := strings.TrimSpace(b.String()); got != c.want {
			t.Errorf("%s: proc steps %s, want %s", c.name, got, c.want)
		}
	}
}
