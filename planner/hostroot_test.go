package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostRoot: rootfs.host binds each folder read-only (nosuid, nodev)
// at its own path, a folder before what is below it, in a tree of nsup's
// that holds their mount points, a listed link as that link, and an
// empty file for a bound file; a command is found in a bound folder, and
// the plan says which.
func TestHostRoot(t *testing.T) {
	h := t.TempDir()
	for _, d := range []string{"tools/bin", "tools/lib", "conf"} {
		os.MkdirAll(filepath.Join(h, d), 0o755)
	}
	os.WriteFile(filepath.Join(h, "tools/bin/hello"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(h, "conf/app.conf"), []byte("x\n"), 0o644)
	os.Symlink("tools/bin", filepath.Join(h, "bin"))
	text := `version: 1
environments:
  dev:
    rootfs: {host: [` + h + `/tools/lib, ` + h + `/tools, ` + h + `/bin, ` + h + `/conf/app.conf]}
    namespaces: [mnt, pid]
    env: {PATH: ` + h + `/bin}
    processes: [{name: main, command: [hello]}]
`
	p, err := compileLimits(t, text, rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	e := p.Environments[0]
	var root Rootfs
	var binds []string
	var exec Execve
	for _, st := range e.Steps {
		switch op := st.Op.(type) {
		case Rootfs:
			root = op
		case Mount:
			if op.Flags&msBIND != 0 && op.InRoot {
				binds = append(binds, op.Source+" "+op.Target)
			}
		case MountSetattr:
			if strings.HasPrefix(op.Path, h) && op.Set&(1|2|4) != 1|2|4 { // RDONLY|NOSUID|NODEV
				t.Errorf("%s: set %v, want read-only, nosuid and nodev", op.Path, op.Set)
			}
		case Execve:
			if !op.ByFD {
				exec = op
			}
		}
	}
	want := []string{h + "/conf/app.conf " + h + "/conf/app.conf", h + "/tools " + h + "/tools", h + "/tools/lib " + h + "/tools/lib"}
	if strings.Join(binds, "\n") != strings.Join(want, "\n") {
		t.Errorf("binds:\n%s\nwant\n%s", strings.Join(binds, "\n"), strings.Join(want, "\n"))
	}
	files := map[string]File{}
	for _, f := range root.Files {
		files[f.Path] = f
		if f.Source != "" {
			t.Errorf("%s: a host file copied into the tree", f.Path)
		}
	}
	if f := files[h+"/bin"]; f.Type != "symlink" || f.Link != "tools/bin" {
		t.Errorf("the listed link: %+v", f)
	}
	if f := files[h+"/conf/app.conf"]; f.Type != "file" {
		t.Errorf("the bound file's mount point: %+v", f)
	}
	if root.Type != "closure" || len(root.Sources) != 0 || len(root.Host) != 4 {
		t.Errorf("rootfs step: %+v", root)
	}
	if exec.Path != h+"/bin/hello" {
		t.Errorf("command: %q", exec.Path)
	}
	notes := strings.Join(e.Notes, "\n")
	for _, w := range []string{"not copied, not locked", "is in environments.dev.rootfs.host[1]'s bound folder"} {
		if !strings.Contains(notes, w) {
			t.Errorf("no %q in the notes:\n%s", w, notes)
		}
	}

	// A listed link whose target is not bound; a command in no mount.
	bad := `version: 1
environments:
  dev:
    rootfs: {host: [` + h + `/bin, ` + h + `/conf]}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [hello]}]
`
	_, err = compileLimits(t, bad, rootCaller, "hybrid")
	for _, w := range []string{"rootfs.host[0]: " + h + "/bin is a link to \"tools/bin\" on this host", "add it (or the folder that holds it) to rootfs.host",
		`"hello" not found in the rootfs nor in its mounts`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v, want %q", err, w)
		}
	}
}

// TestHostRootMergedUsr: with the host's /usr bound, the merged-/usr links
// this host has (/bin -> usr/bin, ...) are made, and sh is found through
// them.
func TestHostRootMergedUsr(t *testing.T) {
	target, err := os.Readlink("/bin")
	if err != nil {
		skipOrFail(t, "/bin is not a link on this host (no merged /usr)")
	}
	p, err := compileLimits(t, `version: 1
environments:
  dev:
    rootfs: {host: [/usr]}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [sh, -c, "true"]}]
`, rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	var made bool
	for _, st := range p.Environments[0].Steps {
		if r, ok := st.Op.(Rootfs); ok {
			for _, f := range r.Files {
				made = made || (f.Path == "/bin" && f.Type == "symlink" && f.Link == target)
			}
		}
		if x, ok := st.Op.(Execve); ok && !x.ByFD && !strings.HasSuffix(x.Path, "/sh") {
			t.Errorf("sh: %q", x.Path)
		}
	}
	if !made {
		t.Errorf("no /bin -> %s in the tree", target)
	}
}

// TestHostRootRefused: the host's /proc, /sys, /dev and /run (and what is
// below them, or a link to them), and a path through a link, are refused
// with what to write instead.
func TestHostRootRefused(t *testing.T) {
	h := t.TempDir()
	os.Symlink("/proc", filepath.Join(h, "p"))
	os.MkdirAll(filepath.Join(h, "real", "sub"), 0o755)
	os.Symlink("real", filepath.Join(h, "via"))
	for _, tc := range []struct{ path, want string }{
		{"/proc", "the host's /proc"},
		{"/run", "the host's /run"},
		{"/dev/shm", "the host's /dev"},
		{"/sys/fs/cgroup", "the host's /sys"},
		{h + "/p", "the host's /proc (" + h + "/p is /proc)"},
		{h + "/via/sub", "passes through a link on this host (" + h + "/via is " + h + "/real): list " + h + "/real/sub instead"},
	} {
		_, err := compileLimits(t, `version: 1
environments:
  dev:
    rootfs: {host: [/usr, `+tc.path+`]}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/usr/bin/true]}]
`, rootCaller, "hybrid")
		if err == nil || !strings.Contains(err.Error(), "rootfs.host[1]: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("host: [%s]: %v, want %q", tc.path, err, tc.want)
		}
	}
	_, err := compileLimits(t, `version: 1
environments:
  dev:
    rootfs: {host: [/usr], readonly: false}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/usr/bin/true]}]
`, rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "readonly: false with a host root") || !strings.Contains(err.Error(), "overlay: true") {
		t.Errorf("readonly: false: %v", err)
	}
}

// TestHostRootJoined: an environment that joins the mount namespace of one
// with a host root (the same folders) mounts nothing, and finds its
// command in that namespace's binds. Before helper-116's stop the binds
// were taken for mounts of its own (refused: the namespace is joined),
// and the command was found in no mount; nor were two host roots of
// different folders told apart.
func TestHostRootJoined(t *testing.T) {
	h := t.TempDir()
	os.MkdirAll(filepath.Join(h, "tools"), 0o755)
	os.MkdirAll(filepath.Join(h, "other"), 0o755)
	os.WriteFile(filepath.Join(h, "tools/hello"), []byte("#!/bin/sh\n"), 0o755)
	spec := func(b string) string {
		return `version: 1
environments:
  a:
    rootfs: {host: [` + h + `/tools]}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [` + h + `/tools/hello]}]
  b:
    rootfs: {host: [` + b + `]}
    namespaces: [pid]
    join: {mnt: a}
    env: {PATH: ` + h + `/tools}
    processes: [{name: main, command: [hello]}]
`
	}
	p, err := compileLimits(t, spec(h+"/tools"), rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	var exec string
	for _, st := range p.Environments[1].Steps {
		switch op := st.Op.(type) {
		case Rootfs, Mount, OpenTree:
			t.Errorf("b, in a's mount namespace, has a step of its own tree: %s", FormatOp(op))
		case Execve:
			if !op.ByFD {
				exec = op.Path
			}
		}
	}
	if exec != h+"/tools/hello" {
		t.Errorf("b's command: %q, want %s/tools/hello (in a's bind)", exec, h)
	}
	_, err = compileLimits(t, spec(h+"/other"), rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "its rootfs must be a's") {
		t.Errorf("another host root: %v, want its rootfs must be a's", err)
	}
}
