package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMountPointsListed (helper-141's stop): a closure's or host root's
// tree, nsup's cache entry, lists every mount point apply would make in
// it, where the target lands: a bound file's as an empty file (before,
// its folder only, and apply left the file in the shared entry), a
// target through a link of the tree where the link leads (before, as
// written, and mkdirTree stopped at the link: apply made it in the entry
// where it leads); nothing below an earlier mount (apply makes it
// there), and a file of the closure's own at a target is left as it is.
func TestMountPointsListed(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "conf"), []byte("x\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "hb"), 0o755)
	os.MkdirAll(filepath.Join(dir, "real"), 0o755)
	os.WriteFile(filepath.Join(dir, "real", "sh"), []byte("#!"), 0o755)
	sh := File{Path: "/usr/bin/sh", Type: "file", Mode: 0o755, Size: 2, Digest: "sha256:" + strings.Repeat("0", 64)}
	closure := func([]string) ([]File, error) {
		return []File{
			{Path: "/bin", Type: "symlink", Mode: 0o777, Link: "usr/bin"},
			{Path: "/usr", Type: "dir", Mode: 0o755},
			{Path: "/usr/bin", Type: "dir", Mode: 0o755},
			sh,
			{Path: "/usr/bin/tool", Type: "file", Mode: 0o755, Size: 2, Digest: "sha256:" + strings.Repeat("1", 64)},
		}, nil
	}
	p := planOf(t, dir, `version: 1
environments:
  c:
    rootfs: {closure: [/usr/bin/sh]}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: /proc}
      - {type: bind, source: ./conf, target: /q}
      - {type: bind, source: ./conf, target: /m/sub/f}
      - {type: tmpfs, target: /bin/nd}
      - {type: bind, source: ./conf, target: /bin/qq}
      - {type: bind, source: ./conf, target: /usr/bin/sh}
      - {type: tmpfs, target: /t}
      - {type: bind, source: ./conf, target: /t/f}
      - {type: bind, source: ./hb, target: /hb}
    processes: [{name: main, command: [/bin/tool]}]
  h:
    rootfs: {host: [`+dir+`/real]}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./conf, target: /q}
    processes: [{name: main, command: [`+dir+`/real/sh]}]
`, Options{Closure: closure})
	empty := File{Type: "file", Mode: 0o644, Digest: EmptyDigest}
	folder := File{Type: "dir", Mode: 0o755}
	for env, want := range map[string]map[string]File{
		"c": {
			"/proc": folder, "/q": empty, "/m": folder, "/m/sub": folder, "/m/sub/f": empty,
			"/usr/bin/nd": folder, "/usr/bin/qq": empty, "/usr/bin/sh": sh, "/t": folder, "/hb": folder,
			"/bin/nd": {}, "/bin/qq": {}, "/t/f": {},
		},
		"h": {"/q": empty, dir + "/real": folder},
	} {
		files := rootfsFiles(t, p, env)
		for path, w := range want {
			w.Path = path
			got, ok := files[path]
			switch {
			case w.Type == "" && ok:
				t.Errorf("%s: the tree lists %s (%+v), which apply makes elsewhere", env, path, got)
			case w.Type != "" && got != w:
				t.Errorf("%s: the tree has %+v at %s, want %+v", env, got, path, w)
			}
		}
	}
}

// rootfsFiles are the files of env's Rootfs step, by path.
func rootfsFiles(t *testing.T, p *Plan, env string) map[string]File {
	t.Helper()
	for _, e := range p.Environments {
		for _, st := range e.Steps {
			if r, ok := st.Op.(Rootfs); ok && e.Name == env {
				out := map[string]File{}
				for _, f := range r.Files {
					out[f.Path] = f
				}
				return out
			}
		}
	}
	t.Fatalf("%s has no rootfs step", env)
	return nil
}

// TestWorkdirThroughLinkListed: a working directory through a link of a
// closure root's tree (/bin -> usr/bin) is listed where it lands, as a
// target is: before, as written, where mkdirTree stopped at the link,
// and the process's chdir failed at apply (no such folder in the entry).
func TestWorkdirThroughLinkListed(t *testing.T) {
	dir := t.TempDir()
	closure := binClosure()
	p := planOf(t, dir, `version: 1
environments:
  c:
    rootfs: {closure: [/usr/bin/sh]}
    namespaces: [mnt, pid]
    cwd: /bin/work
    processes:
      - {name: main, command: [/bin/sh], children: [{name: c, command: [/bin/sh], cwd: /bin/p/q}]}
`, Options{Closure: closure})
	files := rootfsFiles(t, p, "c")
	for _, at := range []string{"/usr/bin/work", "/usr/bin/p", "/usr/bin/p/q"} {
		if f := files[at]; f.Type != "dir" {
			t.Errorf("the tree has %+v at %s, want a folder", f, at)
		}
	}
	if f, ok := files["/bin"]; !ok || f.Type != "symlink" {
		t.Errorf("the tree has %+v at /bin, want the closure's link", f)
	}
}

// binClosure is a closure's tree with /bin -> usr/bin and /usr/bin/sh,
// and extra.
func binClosure(extra ...File) func([]string) ([]File, error) {
	return func([]string) ([]File, error) {
		return append([]File{
			{Path: "/bin", Type: "symlink", Mode: 0o777, Link: "usr/bin"},
			{Path: "/usr", Type: "dir", Mode: 0o755},
			{Path: "/usr/bin", Type: "dir", Mode: 0o755},
			{Path: "/usr/bin/sh", Type: "file", Mode: 0o755, Size: 2, Digest: "sha256:" + strings.Repeat("0", 64)},
		}, extra...), nil
	}
}
