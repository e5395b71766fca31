package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestSpecFilesProtected: a writable bind of the spec's own folder (a
// project bound for go generate) let root inside rewrite the spec, and
// the next nsup run applied a bind of the host's /etc that root inside
// had added (found by a review). The spec and the .env beside it are
// bound read-only over themselves right after such a bind (and a
// writable dir root that holds them); one in a subfolder of a writable
// bind is refused (the subfolder could be renamed); a read-only bind
// needs nothing.
func TestSpecFilesProtected(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "root/bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "proj/deploy"), 0o755)
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(d, "proj/.env"), []byte("X=1\n"), 0o644)
	compile := func(dir, mounts string) (*Plan, error) {
		text := `version: 1
environments:
  dev:
    rootfs: {dir: ` + d + `/root}
    namespaces: [mnt, pid]
    mounts: [` + mounts + `]
    processes: [{name: main, command: [/bin/sh]}]
`
		file := filepath.Join(dir, "nsup.yaml")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := spec.ParseBytes(file, dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
		return Compile(s, o)
	}
	protected := func(p *Plan) []string {
		var out []string
		for _, st := range p.Environments[0].Steps {
			if m, ok := st.Op.(Mount); ok && m.Flags&msBIND != 0 && strings.HasSuffix(m.Source, "/proj/nsup.yaml") || ok && strings.HasSuffix(m.Source, "/.env") {
				out = append(out, m.Source+" "+m.Target)
			}
		}
		return out
	}
	proj := filepath.Join(d, "proj")
	p, err := compile(proj, "{type: bind, source: ., target: /src}")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{proj + "/nsup.yaml /src/nsup.yaml", proj + "/.env /src/.env"}
	if got := protected(p); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("writable bind of the spec's folder: read-only binds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var ro bool
	for _, st := range p.Environments[0].Steps {
		if a, ok := st.Op.(MountSetattr); ok && a.Path == "/src/nsup.yaml" && a.Set&1 != 0 {
			ro = true
		}
	}
	if !ro {
		t.Errorf("/src/nsup.yaml is not made read-only")
	}
	if p, err := compile(proj, "{type: bind, source: ., target: /src, readonly: true}"); err != nil || len(protected(p)) != 0 {
		t.Errorf("read-only bind: %v, %v", err, protected(p))
	}
	// A spec reached through a link in the writable folder: root inside
	// could point the link at a spec of its own.
	os.MkdirAll(filepath.Join(d, "out"), 0o755)
	os.MkdirAll(filepath.Join(d, "linked"), 0o755)
	if _, err := compile(filepath.Join(d, "out"), "{type: bind, source: "+filepath.Join(d, "linked")+", target: /src}"); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(d, "out/nsup.yaml"), filepath.Join(d, "linked/nsup.yaml"))
	text, _ := os.ReadFile(filepath.Join(d, "out/nsup.yaml"))
	s, err := spec.ParseBytes(filepath.Join(d, "linked/nsup.yaml"), filepath.Join(d, "linked"), text)
	if err != nil {
		t.Fatal(err)
	}
	o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller})
	o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
	if _, err := Compile(s, o); err == nil || !strings.Contains(err.Error(), "passes through the symlink "+filepath.Join(d, "linked/nsup.yaml")) {
		t.Errorf("spec through a link in a writable bind: %v, want refused", err)
	}
	_, err = compile(filepath.Join(d, "proj/deploy"), "{type: bind, source: .., target: /src}")
	if err == nil || !strings.Contains(err.Error(), "could rename that subfolder") {
		t.Errorf("spec in a subfolder of a writable bind: %v, want refused", err)
	}
}
