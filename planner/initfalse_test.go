package planner

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nsup/nsup/spec"
)

// TestInitFalseErrorsAtOnce: init: false with two processes is one
// error, and the main process's healthcheck (which needs init too) and a
// command that is not there are others, reported with it: before
// helper-152 the first hid the rest until fixed (helper-151's trial).
func TestInitFalseErrorsAtOnce(t *testing.T) {
	src := `version: 1
environments:
  s:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    init: false
    processes:
      - name: main
        command: [/bin/sh]
        healthcheck: {command: [/bin/sh]}
      - name: x
        command: [no-such-command]
`
	s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(s, Options{Closure: fixedClosure, CacheDir: t.TempDir()})
	if err == nil {
		t.Fatal("no error")
	}
	want := `t.yaml:6:11: environments.s.init: init: false runs exactly one process (it becomes PID 1); the spec declares more, which need nsup's init
t.yaml:10:22: environments.s.processes[0].healthcheck: a healthcheck needs nsup's init, which runs it: remove init: false
t.yaml:12:19: environments.s.processes[1].command[0]: "no-such-command" not found in the rootfs nor in its mounts (PATH=` + DefaultPath + `): bind the host folder that has it (mounts, or rootfs.host), or give its path`
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
