package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestDirRootMadeNoted (helper-151's trial): a mount's target a dir root
// lacks is made by apply in the host's folder, and stays; the plan names
// the first folder (or file) it makes there by its host path, where it
// lands through the root's links. A target the root has, one below an
// earlier mount (a tmpfs's), and an overlaid root get no note.
func TestDirRootMadeNoted(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "usr/lib64", "there"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin/true"), []byte("#!"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/lib64", filepath.Join(root, "lib64")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	plan := func(rootfs, mounts string) []string {
		t.Helper()
		yaml := "version: 1\nenvironments:\n  a:\n    rootfs: " + rootfs + "\n    namespaces: [mnt, pid]\n    mounts:\n" + mounts + "    processes: [{name: main, command: [/bin/true]}]\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(s, fixedOptions(Options{Caller: &rootCaller}))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range p.Environments[0].Notes {
			if strings.Contains(n, "is not in the dir root: apply makes") {
				out = append(out, n)
			}
		}
		return out
	}
	got := plan("{dir: ./rootfs}", "      - {type: tmpfs, target: /new/deep}\n      - {type: tmpfs, target: /there}\n      - {type: tmpfs, target: /there/below}\n      - {type: tmpfs, target: /lib64/t}\n      - {type: bind, source: ./f, target: /bin/f}\n      - {type: tmpfs, target: /new/other}\n")
	want := []string{
		"environments.a.mounts[0].target: /new is not in the dir root: apply makes a folder " + filepath.Join(root, "new") + " in its host folder",
		"environments.a.mounts[3].target: /usr/lib64/t is not in the dir root: apply makes a folder " + filepath.Join(root, "usr/lib64/t") + " in its host folder",
		"environments.a.mounts[4].target: /bin/f is not in the dir root: apply makes an empty file " + filepath.Join(root, "bin/f") + " in its host folder",
	}
	if len(got) != len(want) {
		t.Fatalf("notes:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("note %d: %q, want it to start %q", i, got[i], want[i])
		}
	}
	if got := plan("{dir: ./rootfs, overlay: true}", "      - {type: tmpfs, target: /new/deep}\n"); len(got) > 0 {
		t.Errorf("overlaid: %q, want none", got)
	}
}
