package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestSpecFolderShownBelowByAlias (helper-57's review): the spec's folder
// shown below a writable bind by another path, the same filesystem's
// folder mounted there (an fstab line binding /data/home on /home, with
// /data bound, not /data/home), was matched neither by path nor by the
// bound folder's inode (it is no folder above the spec's): the spec was
// not bound over itself, and root inside appended to it through
// /data/home/u/proj/nsup.yaml (by hand, with nsup apply), and a link
// planted there was followed by the next plan. A mount below the bound
// folder that shows it is found by filesystem and folder (mountinfo's
// major:minor and root), as a host mount below an alias is
// (TestMountsMovableAlias).
func TestSpecFolderShownBelowByAlias(t *testing.T) {
	d := t.TempDir()
	proj, w := filepath.Join(d, "proj"), filepath.Join(d, "w")
	for _, p := range []string{proj + "/cache", w + "/view", d + "/root/bin", d + "/other"} {
		os.MkdirAll(p, 0o755)
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!"), 0o755)
	hybrid, err := filepath.Abs("cgroup/testdata/hybrid")
	if err != nil {
		t.Fatal(err)
	}
	mi, err := os.ReadFile(hybrid + "/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	// The test data's mount that holds d: its filesystem and folder.
	dev, root, point := "", "", ""
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && within(d, f[4]) && len(f[4]) >= len(point) {
			dev, root, point = f[2], f[3], f[4]
		}
	}
	if point == "" {
		t.Fatalf("no mount of the test data holds %s", d)
	}
	// proj's folder of that filesystem, mounted at w/view too.
	shown := filepath.Join(root, strings.TrimPrefix(proj, strings.TrimSuffix(point, "/")))
	extra := "998 1 " + dev + " " + shown + " " + w + "/view rw,relatime - ext4 /dev/x rw\n"
	compile := func(dir, mounts string) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [" + mounts + "]\n    processes: [{name: main, command: [/bin/sh]}]\n"
		file := filepath.Join(dir, "nsup.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		s, err := spec.ParseBytes(file, dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return compileOnView(s, hostView(t, append(mi, extra...), false))
	}
	for _, c := range []struct {
		opts    string
		refused bool
	}{
		{"", true},
		{", recursive: false", false}, // the mount at w/view is not brought along
		{", readonly: true", false},
	} {
		err := compile(proj, "{type: bind, source: "+w+", target: /w"+c.opts+"}")
		refused := err != nil && strings.Contains(err.Error(), w+"/view/nsup.yaml")
		if refused != c.refused {
			t.Errorf("the spec's folder shown at %s/view, a writable bind of %s%s: refused %v, want %v: %v", w, w, c.opts, refused, c.refused, err)
		}
	}
	// A link planted in the folder through that path, on the way to a
	// bind's source named by the folder's own path: refused, as one
	// planted through the bound folder's own path is.
	os.Remove(proj + "/cache")
	os.Symlink("/etc", proj+"/cache")
	err = compile(d+"/other", "{type: bind, source: "+w+", target: /w}, {type: bind, source: "+proj+"/cache, target: /cache, readonly: true}")
	if err == nil || !strings.Contains(err.Error(), "passes through the symlink "+proj+"/cache") {
		t.Errorf("a link in the folder shown at %s/view, named by the folder's own path: %v, want refused", w, err)
	}
}

// TestSpecFileHardLinkRefused (helper-57's review): a spec file with
// another name (a hard link) on the filesystem a writable bind shows was
// bound read-only over itself at its own name only: with
// proj/sub/backup.yaml a link of proj/nsup.yaml and proj bound writable,
// root inside appended to the spec through the other name (by hand, with
// nsup apply). Where the other names are is not known without a walk:
// such a file is refused; with one name it plans.
func TestSpecFileHardLinkRefused(t *testing.T) {
	d := t.TempDir()
	proj := filepath.Join(d, "proj")
	for _, p := range []string{proj + "/sub", d + "/root/bin"} {
		os.MkdirAll(p, 0o755)
	}
	os.WriteFile(d+"/root/bin/sh", []byte("#!"), 0o755)
	text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts: [{type: bind, source: ., target: /proj}]\n    processes: [{name: main, command: [/bin/sh]}]\n"
	file := filepath.Join(proj, "nsup.yaml")
	os.WriteFile(file, []byte(text), 0o644)
	compile := func() error {
		s, err := spec.ParseBytes(file, proj, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller}))
		return err
	}
	if err := compile(); err != nil {
		t.Fatalf("one name: %v", err)
	}
	if err := os.Link(file, proj+"/sub/backup.yaml"); err != nil {
		skipOrFail(t, "hard link: "+err.Error())
	}
	if err := compile(); err == nil || !strings.Contains(err.Error(), "has 2 names (hard links)") {
		t.Errorf("a spec with a second name in the writable project: %v, want refused", err)
	}
}
