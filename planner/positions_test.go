package planner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nsup/nsup/spec"
)

// TestErrorPositions: an error about a closure item, a bind's source or
// a command points at that item, source or command (helper-151's trial
// found the first item of a block list, a block mount's type: line, a
// block process's name: line), in block and flow style alike.
func TestErrorPositions(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"proj", "elsewhere"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"proj/cache": "elsewhere", "linked": "elsewhere"} {
		if err := os.Symlink(filepath.Join(dir, to), filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ name, src, want string }{
		{"block", `version: 1
environments:
  a:
    rootfs:
      closure:
        - /bin/sh
        - /no/such/nsup
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    mounts:
      - type: bind
        source: /nonexistent/nsup
        target: /x
    processes:
      - name: main
        command:
          - no-such-command
`, `t.yaml:7:11: environments.a.rootfs.closure: closure /no/such/nsup: lstat /no: no such file or directory
t.yaml:15:17: environments.b.mounts[0].source: /nonexistent/nsup: no such file or directory: make it, or say create: true (apply then makes the folder)
t.yaml:20:13: environments.b.processes[0].command[0]: "no-such-command" not found in the rootfs nor in its mounts (PATH=` + DefaultPath + `): bind the host folder that has it (mounts, or rootfs.host), or give its path`},
		{"flow", `version: 1
environments:
  a: {rootfs: {closure: [/bin/sh, /no/such/nsup]}, namespaces: [mnt, pid], processes: [{name: main, command: [/bin/sh]}]}
  b: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt, pid], mounts: [{type: bind, source: /nonexistent/nsup, target: /x}],
      processes: [{name: main, command: [no-such-command], healthcheck: {command: [no-such-check]}}]}
`, `t.yaml:3:35: environments.a.rootfs.closure: closure /no/such/nsup: lstat /no: no such file or directory
t.yaml:4:91: environments.b.mounts[0].source: /nonexistent/nsup: no such file or directory: make it, or say create: true (apply then makes the folder)
t.yaml:5:42: environments.b.processes[0].command[0]: "no-such-command" not found in the rootfs nor in its mounts (PATH=` + DefaultPath + `): bind the host folder that has it (mounts, or rootfs.host), or give its path
t.yaml:5:84: environments.b.processes[0].healthcheck.command[0]: "no-such-check" not found in the rootfs nor in its mounts (PATH=` + DefaultPath + `): bind the host folder that has it (mounts, or rootfs.host), or give its path`},
		// A mount's source's errors at the source: through a link in a
		// folder an environment writes (plantedLink), through a link on
		// the way to a folder apply makes (create: true).
		{"source", `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    mounts:
      - type: bind
        source: ` + dir + `/proj
        target: /src
      - type: bind
        target: /cache
        source: ` + dir + `/proj/cache
      - type: bind
        create: true
        source: ` + dir + `/linked/new
        target: /new
    processes: [{name: main, command: [/bin/sh]}]
`, `t.yaml:12:17: environments.a.mounts[1].source: ` + dir + `/proj/cache passes through the symlink ` + dir + `/proj/cache (-> "` + dir + `/elsewhere"), in ` + dir + `/proj, which environments.a.mounts[0] lets an environment write: root inside (or the folder's owner) may have put it there on an earlier run, to lead this path anywhere on the host; name where it leads, or a path with no symlink in that folder
t.yaml:15:17: environments.a.mounts[2].source: ` + dir + `/linked is a symlink (to "` + dir + `/elsewhere") on the way to ` + dir + `/linked/new, which apply makes and binds through no symlink: name the folder where it leads`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := spec.ParseBytes("t.yaml", dir, []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(s, Options{CacheDir: t.TempDir()})
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("got %v, want errors", err)
			}
			if d := cmp.Diff(c.want, err.Error()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestStepPositions: apply's chdir and execve point at the cwd and the
// command they carry out, its write of time offsets at the offset (not
// at the process, nor the time mapping), in block and flow style.
func TestStepPositions(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, src string }{
		{"block", `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid, time]
    time:
      boottime: 5s
    processes:
      - name: main
        cwd: /bin
        command:
          - /bin/sh
`},
		{"flow", `version: 1
environments:
  a: {rootfs: {closure: [/bin/sh]}, namespaces: [mnt, pid, time], time: {boottime: 5s},
      processes: [{name: main, cwd: /bin, command: [/bin/sh]}]}
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := spec.ParseBytes("t.yaml", dir, []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(s, Options{Closure: fixedClosure, CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"chdir": "t.yaml:10:14", "execve": "t.yaml:12:13", "timens_offsets": "t.yaml:7:17"}
			if c.name == "flow" {
				want = map[string]string{"chdir": "t.yaml:4:37", "execve": "t.yaml:4:53", "timens_offsets": "t.yaml:3:84"}
			}
			got := map[string]string{}
			for _, st := range p.Environments[0].Steps {
				if k := st.Op.Kind(); k == "timens_offsets" || st.Stage == Proc && (k == "chdir" || k == "execve") {
					got[k] = st.Origin
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
