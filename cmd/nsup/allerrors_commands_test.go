package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsAllErrors: every command that reads a spec to plan it
// prints the file's errors at once, the schema's (a's typo) with the
// host's (b's bind source that is not there), each by position, as plan
// does; before, run, shell and export gave the schema's only, and the
// host's in a second run once those were fixed. Nothing is made: no
// bundle, image, lock, state, cache or volume.
func TestCommandsAllErrors(t *testing.T) {
	const src = `version: 1
environments:
  a:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/busybox, "true"], bogus: 1}]
  b:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/busybox, "true"]}]
    mounts: [{type: bind, source: ./nothere, target: /x}]
`
	schema := `FILE:6:63: environments.a.processes[0].bogus: unknown key "bogus"; valid: name, command, env, cwd, user, stop_timeout, rlimits, restart, healthcheck, children`
	host := `FILE:11:35: environments.b.mounts[0].source: DIR/nothere: no such file or directory: make it, or say create: true (apply then makes the folder)`
	for _, c := range []struct {
		name string
		args []string // FILE and OUT stand for the spec and a path to write
	}{
		{"validate", []string{"validate", "FILE"}},
		{"plan", []string{"plan", "FILE", "b"}},
		{"apply", []string{"apply", "FILE", "b"}},
		{"run", []string{"run", "FILE", "b", "--", "/bin/busybox", "true"}},
		{"shell", []string{"shell", "FILE", "b"}},
		{"lock", []string{"lock", "FILE"}},
		{"lock-check", []string{"lock", "--check", "FILE"}},
		{"export-oci", []string{"export", "--oci", "OUT", "FILE", "b"}},
		{"export-image", []string{"export", "--image", "OUT", "FILE", "b"}},
		{"export-image-archive", []string{"export", "--image-archive", "OUT", "FILE", "b"}},
		{"export-kube", []string{"export", "--kube", "FILE", "b"}},
		{"export-kube-all", []string{"export", "--kube", "FILE"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, state := t.TempDir(), t.TempDir()
			cache, volumes := t.TempDir(), t.TempDir()
			t.Setenv("NSUP_CACHE_DIR", cache)
			t.Setenv("NSUP_STATE_DIR", state)
			t.Setenv("NSUP_VOLUME_DIR", volumes)
			t.Setenv("SHELL", "/bin/busybox") // shell's first try, in b's tree
			f, out := filepath.Join(dir, "nsup.yaml"), filepath.Join(dir, "out")
			if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.NewReplacer("FILE", f, "OUT", out).Replace(a)
			}
			code, stdout, errs := nsup(t, args...)
			want := strings.ReplaceAll(schema+"\n"+host+"\n", "DIR", dir)
			if got := strings.ReplaceAll(errs, f, "FILE"); code != 2 || stdout != "" || got != want {
				t.Errorf("nsup %s: exit %d, stdout %q, stderr\n%s\nwant exit 2, nothing, and\n%s", strings.Join(c.args, " "), code, stdout, got, want)
			}
			for _, d := range []string{dir, state, cache, volumes} {
				ents, err := os.ReadDir(d)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range ents {
					if e.Name() != "nsup.yaml" {
						t.Errorf("nsup %s made %s", c.args[0], filepath.Join(d, e.Name()))
					}
				}
			}
		})
	}
}

// TestValidateVarHidesNothing: a ${...} that cannot be resolved (a
// required variable unset, a form that is none) no longer hides the
// file's other errors, the schema's and the host's: all come in one run
// (before, the references' alone, and the rest once they were fixed).
// The environments of the references are not checked on the host.
func TestValidateVarHidesNothing(t *testing.T) {
	t.Setenv("NSUP_T_PIDS", "")
	checkAllErrors(t, `version: 1
environments:
  a: {rootfs: {closure: [/bin/busybox]}, namespaces: [mnt, pid], limits: {pids: "${NSUP_T_PIDS:?give the pids}"},
      processes: [{name: main, command: [/no/such/command]}]}
  b: {rootfs: {closure: [/bin/busybox]}, namespaces: [mnt, pid, uts], hostname: "${bad syntax}",
      processes: [{name: main, command: [/no/such/command]}]}
  c: {rootfs: {closure: [/bin/busybox]}, namespaces: [mnt, pid], procesess: [{name: main, command: [/bin/busybox, "true"]}]}
  d: {rootfs: {closure: [/bin/busybox]}, namespaces: [mnt, pid], processes: [{name: main, command: [/bin/busybox, "true"]}],
      mounts: [{type: bind, source: ./nothere, target: /x}]}
`,
		`FILE:3:82: NSUP_T_PIDS is empty: give the pids`,
		`FILE:5:82: "${bad syntax}": unknown form after bad: use ${bad}, ${bad:-default}, ${bad-default}, ${bad:?message}, ${bad?message}, ${bad:+alternative} or ${bad+alternative}`,
		`FILE:7:3: environments.c: missing required key "processes"`,
		`FILE:7:66: environments.c.procesess: unknown key "procesess" (did you mean "processes"?)`,
		`FILE:9:37: environments.d.mounts[0].source: DIR/nothere: no such file or directory: make it, or say create: true (apply then makes the folder)`,
	)
}
