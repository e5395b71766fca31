package planner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestTargetLinkResolved (helper-137's): a mount whose target is, at its
// last component, a symlink of a root tree the plan knows (lib64 ->
// usr/lib64 in a dir root) planned with the link as its target, and
// apply failed at the mount with ELOOP: it resolves a target inside
// the root following no link at its end. The plan now writes where the
// link leads, as runc mounts there, and says so in a note: a relative
// link, an absolute one, a chain of links, a link that the target
// reaches through another, one that leads nowhere yet (apply makes the
// folder, or the bound file's place, where it leads), one onto an
// earlier bind (stacked on it), in an overlaid root too. A target that
// only passes through a link is planned as written, as before.
func TestTargetLinkResolved(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"root/bin", "root/usr/lib64", "root/usr/share", "root/srv", "root/etc", "root/data", "host"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "root/bin/sh"), []byte("#!"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf"), []byte("x\n"), 0o644)
	for link, to := range map[string]string{
		"lib64":           "usr/lib64",
		"chain":           "lib64",
		"abs":             "/srv",
		"home":            "/var/home",
		"usr/lib64/share": "../share",
		"etc/resolv.conf": "../run/systemd/resolv.conf",
		"lnk":             "data",
	} {
		if err := os.Symlink(to, filepath.Join(dir, "root", link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, overlay := range []string{"false", "true"} {
		p := planOf(t, dir, `version: 1
environments:
  a:
    rootfs: {dir: ./root, overlay: `+overlay+`}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /lib64/share}
      - {type: tmpfs, target: /chain}
      - {type: tmpfs, target: /abs/t}
      - {type: tmpfs, target: /home}
      - {type: bind, source: ./conf, target: /etc/resolv.conf}
      - {type: bind, source: ./host, target: /data}
      - {type: bind, source: ./host, target: /lnk, readonly: true}
    processes:
      - {name: main, command: [/bin/sh]}
`, Options{})
		got := mountTargets(p, "a")
		want := []string{"/usr/share", "/usr/lib64", "/abs/t", "/var/home", "/run/systemd/resolv.conf", "/data", "/data"}
		if !slices.Equal(got, want) {
			t.Errorf("overlay %s: the mounts' targets are %q, want %q", overlay, got, want)
		}
		notes := strings.Join(p.Environments[0].Notes, "\n")
		for _, n := range []string{
			"environments.a.mounts[0].target: /lib64/share is a symlink of the root (-> \"../share\"): mounted where it leads, at /usr/share (apply follows no link at a target's end)",
			"environments.a.mounts[1].target: /chain is a symlink of the root (-> \"lib64\"): mounted where it leads, at /usr/lib64",
			"environments.a.mounts[3].target: /home is a symlink of the root (-> \"/var/home\"): mounted where it leads, at /var/home",
			"environments.a.mounts[4].target: /etc/resolv.conf is a symlink of the root (-> \"../run/systemd/resolv.conf\"): mounted where it leads, at /run/systemd/resolv.conf",
			"environments.a.mounts[6].target: /lnk is a symlink of the root (-> \"data\"): mounted where it leads, at /data",
		} {
			if !strings.Contains(notes, n) {
				t.Errorf("overlay %s: no note\n  %s\nin\n  %s", overlay, n, notes)
			}
		}
		if strings.Contains(notes, "mounts[2].target: /abs") {
			t.Errorf("overlay %s: a target through a link, not at its end, retargeted: %s", overlay, notes)
		}
	}
}

// TestTargetLinkClosureHost: the same in a closure root's tree (/bin ->
// usr/bin) and a host root's (a listed host path that is a link is made
// as that link, and a target there lands below the bind of the folder
// it leads to); nothing in a tar root's, which the plan cannot see
// (apply says what to write), nor in an OCI export's (the runtime
// resolves the target, as runc does).
func TestTargetLinkClosureHost(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "real", "sub"), 0o755)
	os.MkdirAll(filepath.Join(dir, "hb"), 0o755)
	os.WriteFile(filepath.Join(dir, "hb", "sh"), []byte("#!"), 0o755)
	os.Symlink("real", filepath.Join(dir, "lnk"))
	closure := binClosure()
	p := planOf(t, dir, `version: 1
environments:
  c:
    rootfs: {closure: [/usr/bin/sh]}
    namespaces: [mnt, pid]
    mounts: [{type: bind, source: ./hb, target: /bin}]
    processes: [{name: main, command: [/bin/sh]}]
  h:
    rootfs: {host: [`+dir+`/real, `+dir+`/lnk]}
    namespaces: [mnt, pid]
    mounts: [{type: bind, source: ./hb, target: `+dir+`/lnk}, {type: tmpfs, target: `+dir+`/real/sub}]
    processes: [{name: main, command: [`+dir+`/lnk/sh]}]
`, Options{Closure: closure})
	if got, want := mountTargets(p, "c"), []string{"/usr/bin"}; !slices.Equal(got, want) {
		t.Errorf("closure: the mounts' targets are %q, want %q", got, want)
	}
	if got, want := mountTargets(p, "h"), []string{dir + "/real", dir + "/real/sub"}; !slices.Equal(got, want) {
		t.Errorf("host: the mounts' targets are %q, want %q", got, want)
	}
	tar := `version: 1
environments:
  a:
    rootfs: {tar: ./root.tar}
    namespaces: [mnt, pid]
    mounts: [{type: bind, source: ./hb, target: /hb}, {type: tmpfs, target: /lib64}]
    processes: [{name: main, command: [/hb/sh]}]
`
	if err := os.WriteFile(filepath.Join(dir, "root.tar"), make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mountTargets(planOf(t, dir, tar, Options{}), "a"); !slices.Equal(got, []string{"/hb", "/lib64"}) {
		t.Errorf("tar: the mounts' targets are %q, want [/hb /lib64]", got)
	}
	os.MkdirAll(filepath.Join(dir, "root", "usr", "lib64"), 0o755)
	os.Symlink("usr/lib64", filepath.Join(dir, "root", "lib64"))
	dirRoot := strings.Replace(tar, "tar: ./root.tar", "dir: ./root", 1)
	if got := mountTargets(planOf(t, dir, dirRoot, Options{Export: true}), "a"); !slices.Equal(got, []string{"/hb", "/lib64"}) {
		t.Errorf("export: the mounts' targets are %q, want [/hb /lib64]", got)
	}
}

// TestTargetLinkRefused: a target whose last component is a link the
// plan cannot land on is a plan error saying what to write: a link to
// the root itself, a loop of links, and a link in the host folder of an
// earlier bind, below which apply follows no link (it failed with ELOOP).
// So is a mount that lands below where a later one's link leads, which
// covers it whole once mounted there (shadowedByLater, as written).
func TestTargetLinkRefused(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"root/bin", "root/usr/lib64", "host/sub"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "root/bin/sh"), []byte("#!"), 0o755)
	os.MkdirAll(filepath.Join(dir, "root/etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "myfile"), []byte("x\n"), 0o644)
	for link, to := range map[string]string{"root/top": "..", "root/l1": "l2", "root/l2": "/l1", "host/lnk": "sub", "root/via": "data/lnk", "root/lib64": "usr/lib64", "root/etc/mtab": "../proc/self/mounts"} {
		os.Symlink(to, filepath.Join(dir, link))
	}
	for _, c := range []struct{ mounts, want string }{
		{"[{type: tmpfs, target: /top}]", "t.yaml:6:14: environments.a.mounts[0].target: /top is a symlink of the root (-> \"..\") that leads to the root itself, where a mount cannot go: write the target as a folder of the root"},
		{"[{type: tmpfs, target: /l1}]", "t.yaml:6:14: environments.a.mounts[0].target: /l1 is a symlink of the root (-> \"l2\") that leads round in circles (ELOOP): apply could not mount there; write the target as a path with no symlink at its end"},
		{"[{type: bind, source: ./host, target: /data}, {type: tmpfs, target: /data/lnk}]", "t.yaml:6:59: environments.a.mounts[1].target: /data/lnk is a symlink (-> \"sub\") in the folder mounted at /data (environments.a.mounts[0]), below which apply follows no link: the mount would fail (ELOOP); write the target as the path the link leads to"},
		{"[{type: bind, source: ./host, target: /data}, {type: tmpfs, target: /via}]", "t.yaml:6:59: environments.a.mounts[1].target: /via is a symlink of the root (-> \"data/lnk\") that leads through /data/lnk, a symlink (-> \"sub\") in the folder mounted at /data (environments.a.mounts[0]), below which apply follows no link"},
		{"[{type: tmpfs, target: /lib64/t}, {type: tmpfs, target: /lib64}]", "t.yaml:6:14: environments.a.mounts[0]: the tmpfs at /lib64/t, which lands at /usr/lib64/t, lies below environments.a.mounts[1] at /lib64, listed after it, a symlink of the root to /usr/lib64, where it is mounted after it and covers it whole: it would not be seen, and what it is to hide would be; list it after environments.a.mounts[1]"},
		{"[{type: tmpfs, target: /lib64}, {type: tmpfs, target: /usr/lib64/t}]", ""},
		// Covered where they land, through the root's links, not as
		// written: each was planned, and the first hid nothing.
		{"[{type: tmpfs, target: /lib64/t}, {type: tmpfs, target: /usr/lib64}]", "t.yaml:6:14: environments.a.mounts[0]: the tmpfs at /lib64/t (it lands at /usr/lib64/t) lies below environments.a.mounts[1] at /usr/lib64, listed after it, through the root's links, and is covered by it whole once mounted"},
		{"[{type: tmpfs, target: /usr/lib64/t/u}, {type: tmpfs, target: /lib64/t}]", "t.yaml:6:14: environments.a.mounts[0]: the tmpfs at /usr/lib64/t/u lies below environments.a.mounts[1] at /lib64/t (it lands at /usr/lib64/t), listed after it, through the root's links"},
		// A distribution's /etc/mtab into the proc mounted before: the
		// bind went over the child stage's /proc/PID/mounts (helper-143's
		// survey), and a second error said the target passed a link.
		{"[{type: proc, target: /proc}, {type: bind, source: ./myfile, target: /etc/mtab}]", "t.yaml:6:43: environments.a.mounts[1].target: /etc/mtab is a symlink of the root (-> \"../proc/self/mounts\") that leads to /proc/self/mounts, in the proc mounted at /proc (environments.a.mounts[0]), a tree of the kernel's, which the plan does not know and apply would mount over as the process that looks sees it (its child stage's /proc/self): the mount would not be where the link is read; remove the link from the root, or mount at another target"},
		{"[{type: bind, source: ./host, target: /data}, {type: tmpfs, target: /data/sub}]", ""},
	} {
		got := planErrors(t, dir, "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./root}\n    namespaces: [mnt, pid]\n    mounts: "+c.mounts+"\n    processes: [{name: main, command: [/bin/sh]}]\n")
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s: want\n  %s\nin\n  %s", c.mounts, c.want, got)
		}
		if strings.Contains(c.mounts, "/etc/mtab") && strings.Count(strings.TrimSpace(got), "\n") != 0 {
			t.Errorf("%s: want one error, got\n  %s", c.mounts, got)
		}
	}
}

// planOf is the plan of text, its files in dir; fails the test on an
// error.
func planOf(t *testing.T, dir, text string, opts Options) *Plan {
	t.Helper()
	s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	closure := opts.Closure
	opts = fixedOptions(Options{Caller: &rootCaller, CacheDir: t.TempDir(), Export: opts.Export})
	if closure != nil {
		opts.Closure = closure
	}
	p, err := Compile(s, opts)
	if err != nil {
		t.Fatal(strings.ReplaceAll(err.Error(), dir, "DIR"))
	}
	return p
}

// mountTargets are the targets of env's mounts of the spec's, as the
// plan writes them: the Mount steps at a mounts entry's position.
func mountTargets(p *Plan, env string) []string {
	var out []string
	for _, e := range p.Environments {
		if e.Name != env {
			continue
		}
		for _, st := range e.Steps {
			if m, ok := st.Op.(Mount); ok && m.Confine == "" && m.Target != "/" && m.Target != m.Source {
				out = append(out, m.Target)
			}
		}
	}
	return out
}

// TestConfinedPathLink: a path of masked_paths or readonly_paths that is
// a symlink of the root at its end is confined where the link leads, with
// a note; one that leads round in circles is not there, as before
// (skipped, and said so).
func TestConfinedPathLink(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"root/bin", "root/etc", "root/ro/sub"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "root/bin/sh"), []byte("#!"), 0o755)
	os.WriteFile(filepath.Join(dir, "root/secret"), []byte("s"), 0o644)
	for link, to := range map[string]string{"root/etc/secret": "../secret", "root/rol": "ro", "root/l1": "l2", "root/l2": "l1"} {
		os.Symlink(to, filepath.Join(dir, link))
	}
	p := planOf(t, dir, "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./root}\n    namespaces: [mnt, pid]\n    security: {masked_paths: [/etc/secret, /l1], readonly_paths: [/rol]}\n    processes: [{name: main, command: [/bin/sh]}]\n", Options{})
	var b strings.Builder
	if err := Render(&b, p); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, w := range []string{
		`environments.a.security.masked_paths[0]: /etc/secret is a symlink of the root (-> "../secret"): confined where it leads, at /secret`,
		`environments.a.security.readonly_paths[0]: /rol is a symlink of the root (-> "ro"): confined where it leads, at /ro`,
		`move_mount(its fd, <root>/secret)`,
		"not there, so not masked or made read-only: /l1",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("the plan lacks %s:\n%s", w, text)
		}
	}
	if strings.Contains(text, "<root>/etc/secret") || strings.Contains(text, "<root>/rol,") {
		t.Errorf("a confined path left on its link:\n%s", text)
	}
}

// TestCoveredThroughClosureLink: in a closure root's tree too, a mount
// written through a link (/lib64/t, /lib64 -> usr/lib64) is covered by
// a later one at /usr/lib64, where it lands: refused, as one at
// /usr/lib64/t is.
func TestCoveredThroughClosureLink(t *testing.T) {
	dir := t.TempDir()
	closure := binClosure(
		File{Path: "/lib64", Type: "symlink", Mode: 0o777, Link: "usr/lib64"},
		File{Path: "/usr/lib64", Type: "dir", Mode: 0o755},
	)
	s, err := spec.ParseBytes("t.yaml", dir, []byte(`version: 1
environments:
  c:
    rootfs: {closure: [/usr/bin/sh]}
    namespaces: [mnt, pid]
    mounts: [{type: tmpfs, target: /lib64/t}, {type: tmpfs, target: /usr/lib64}]
    processes: [{name: main, command: [/usr/bin/sh]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	opts := fixedOptions(Options{Caller: &rootCaller, CacheDir: t.TempDir()})
	opts.Closure = closure
	_, err = Compile(s, opts)
	want := "t.yaml:6:14: environments.c.mounts[0]: the tmpfs at /lib64/t (it lands at /usr/lib64/t) lies below environments.c.mounts[1] at /usr/lib64, listed after it, through the root's links, and is covered by it whole once mounted"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %s", err, want)
	}
}
