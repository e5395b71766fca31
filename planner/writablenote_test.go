package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWritableHostNote: a bind is writable unless it says readonly, and
// the plan showed that only by a MOUNT_ATTR_RDONLY missing from its
// steps: a reviewer of `source: ~, target: /h` saw the host's home bound
// with nothing saying the environment may rewrite it (its .ssh, its
// .bashrc). The plan says so in a note naming every host folder the
// environment may write (writable binds, a writable dir root), and names
// none that is read-only; and every bind whose device nodes open.
func TestWritableHostNote(t *testing.T) {
	root := shRoot(t)
	dir := t.TempDir()
	rw, ro := filepath.Join(dir, "rw"), filepath.Join(dir, "ro")
	for _, d := range []string{rw, ro} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const note = "environments.web: the host's "
	for _, c := range []struct {
		rootfs, mounts string
		want, not      []string
	}{
		{"{dir: " + root + "}", "\n      - {type: bind, source: " + rw + ", target: /rw}\n      - {type: bind, source: " + ro + ", target: /ro, readonly: true}", []string{rw}, []string{ro, root}},
		{"{dir: " + root + "}", "\n      - {type: bind, source: " + ro + ", target: /ro, readonly: true}", nil, []string{ro, root}},
		{"{dir: " + root + ", overlay: true}", "", nil, []string{root}},
	} {
		text := `version: 1
environments:
  web:
    rootfs: ` + c.rootfs + `
    namespaces: [mnt, pid, net]
    mounts: [{type: tmpfs, target: /tmp}` + strings.ReplaceAll(c.mounts, "\n      - ", ", ") + `]
    processes: [{name: main, command: [/bin/sh]}]
`
		p, err := compileLimits(t, text, rootCaller, "hybrid")
		if err != nil {
			t.Errorf("%s: %v", text, err)
			continue
		}
		var found string
		for _, n := range p.Environments[0].Notes {
			if strings.HasPrefix(n, note) {
				found = n
			}
		}
		if (found != "") != (len(c.want) > 0) {
			t.Errorf("%s: note %q", text, found)
		}
		for _, w := range c.want {
			if !strings.Contains(found, w) {
				t.Errorf("%s: the note lacks %s: %q", text, w, found)
			}
		}
		for _, w := range c.not {
			if strings.Contains(found, w+",") || strings.Contains(found, w+" writable") {
				t.Errorf("%s: the note names %s, which the environment may not write: %q", text, w, found)
			}
		}
	}

	// Device nodes that open (a bind's options: [dev], rootfs.dev) are
	// named too: the steps showed them only by an MS_NODEV missing.
	text := `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid, net]
    mounts: [{type: bind, source: ` + ro + `, target: /ro, readonly: true, options: [dev]}, {type: bind, source: ` + rw + `, target: /rw, readonly: true}]
    processes: [{name: main, command: [/bin/sh]}]
`
	p, err := compileLimits(t, text, rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	want := "environments.web: device nodes open in " + ro + " (dev)"
	if n := strings.Join(p.Environments[0].Notes, "\n"); !strings.Contains(n, want) || strings.Contains(n, rw+" (dev)") {
		t.Errorf("want %q, and no other:\n%s", want, n)
	}
}

// TestWritableHostNoteResolved: the note of what an environment may
// write names the folder apply binds, where the source's symlinks lead:
// it named a repository's ./data, a link to the caller's ~/.ssh, as if
// it were the project's own folder (another note, and the step, said
// where it led).
func TestWritableHostNoteResolved(t *testing.T) {
	repo, home := t.TempDir(), t.TempDir()
	ssh := filepath.Join(home, ".ssh")
	os.Mkdir(ssh, 0o700)
	data := filepath.Join(repo, "data")
	if err := os.Symlink(ssh, data); err != nil {
		t.Fatal(err)
	}
	p, err := compileLimits(t, `version: 1
environments:
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid, net]
    mounts: [{type: bind, source: `+data+`, target: /data}]
    processes: [{name: main, command: [/bin/sh]}]
`, rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	want := "environments.web: the host's " + ssh + " (" + data + ") writable inside"
	for _, n := range p.Environments[0].Notes {
		if strings.HasPrefix(n, want) {
			return
		}
	}
	t.Errorf("no note begins %q: %q", want, p.Environments[0].Notes)
}
