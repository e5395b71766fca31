package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkAllErrors runs nsup validate on spec (as a file of a new folder)
// and wants exactly the lines of want, DIR standing for that folder: a
// file's errors, the schema's, the cross-field rules' and the host's,
// come in one run (an environment with errors of its own, and those
// that join or depend on it, are left out of the host's checks), not in
// rounds (helper-151's trial).
func checkAllErrors(t *testing.T, spec string, want ...string) {
	t.Helper()
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	f := filepath.Join(dir, "nsup.yaml")
	if err := os.WriteFile(f, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := nsup(t, "validate", f)
	if code != 2 || out != "" {
		t.Errorf("validate: exit %d, stdout %q; want 2 and nothing", code, out)
	}
	got := strings.Split(strings.TrimSuffix(strings.ReplaceAll(errs, f, "FILE"), "\n"), "\n")
	for i := range want {
		want[i] = strings.ReplaceAll(want[i], "DIR", dir)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("validate: got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestValidateTypoHidesNothing: a typo in environment a no longer hides
// b's errors, the cross-field rule's (init: false with two processes) and
// the host's (a bind source that is not there).
func TestValidateTypoHidesNothing(t *testing.T) {
	checkAllErrors(t, `version: 1
environments:
  a: {rootfs: {closure: [/bin/busybox]}, namespaces: [mnt, pid], procesess: [{name: main, command: [/bin/busybox, "true"]}]}
  b: {rootfs: {closure: [/bin/busybox]}, namespaces: [mnt, pid], init: false,
      processes: [{name: main, command: [/bin/busybox, "true"]}, {name: x, command: [/bin/busybox, "true"]}],
      mounts: [{type: bind, source: ./nothere, target: /x}]}
`,
		`FILE:3:3: environments.a: missing required key "processes"`,
		`FILE:3:66: environments.a.procesess: unknown key "procesess" (did you mean "processes"?)`,
		`FILE:4:72: environments.b.init: init: false runs exactly one process (it becomes PID 1); the spec declares more, which need nsup's init`,
		`FILE:6:37: environments.b.mounts[0].source: DIR/nothere: no such file or directory: make it, or say create: true (apply then makes the folder)`,
	)
}

// TestValidateNoRounds is the trial's file that gave its errors in three
// rounds (the schema's and a join cycle; then a depends_on on a main
// process without a healthcheck and init: false with two processes; then
// init: false with a healthcheck), with host errors beside them: all in
// one run. The environments of the cycle, the one with a typo and the one
// that joins it are not checked on the host (p's, q's and j's commands
// are not there: no error says so).
func TestValidateNoRounds(t *testing.T) {
	checkAllErrors(t, `version: 1
environments:
  typo:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    procesess: [{name: main, command: [/bin/busybox, "true"]}]
  j:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {net: typo}
    processes: [{name: main, command: [/no/such/command]}]
  p:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {net: q}
    processes: [{name: main, command: [/no/such/command]}]
  q:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    join: {uts: p}
    processes: [{name: main, command: [/no/such/command]}]
  c:
    rootfs: {closure: [/bin/busybox, /no/such/file]}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/no/such/command]}]
  w:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    depends_on: {c: healthy}
    processes: [{name: main, command: [/bin/busybox, "true"]}]
  s:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    init: false
    processes:
      - name: main
        command: [/bin/busybox, "true"]
        healthcheck: {command: [/bin/busybox, "true"]}
      - name: x
        command: [/no/such/command]
`,
		`FILE:3:3: environments.typo: missing required key "processes"`,
		`FILE:6:5: environments.typo.procesess: unknown key "procesess" (did you mean "processes"?)`,
		`FILE:15:17: environments.p.join.net: join cycle: p -> q -> p`,
		`FILE:23:38: environments.c.rootfs.closure: closure /no/such/file: lstat /no: no such file or directory`,
		`FILE:29:18: environments.w.depends_on.c: c's main process "main" has no healthcheck: give it one, or depend on c with started`,
		`FILE:34:11: environments.s.init: init: false runs exactly one process (it becomes PID 1); the spec declares more, which need nsup's init`,
		`FILE:38:22: environments.s.processes[0].healthcheck: a healthcheck needs nsup's init, which runs it: remove init: false`,
		`FILE:40:19: environments.s.processes[1].command[0]: "/no/such/command" not found in the rootfs nor in its mounts (PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin): bind the host folder that has it (mounts, or rootfs.host), or give its path`,
	)
}
