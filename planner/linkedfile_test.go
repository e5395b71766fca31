package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestLinkedToFileRefused (helper-155's review, for tar roots; the same
// in every known tree): a mount's target whose way passes, through a
// link of the root, a file of it planned, and apply failed with ENOTDIR
// (by hand: "resolve /a/x inside the root: not a directory"). It is a
// plan error now; a link to a folder still plans.
func TestLinkedToFileRefused(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, d := range []string{"bin", "srv"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "bin/sh"), []byte("#!"), 0o755)
	os.WriteFile(filepath.Join(root, "data"), []byte("x\n"), 0o644)
	for link, to := range map[string]string{"a": "data", "b": "srv", "c": "/data"} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	text := func(mounts string) string {
		return "version: 1\nenvironments:\n  e:\n    rootfs: {dir: ./root}\n    namespaces: [mnt, pid]\n    mounts:\n" + mounts + "    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	for _, c := range []struct{ mounts, want string }{
		{"      - {type: tmpfs, target: /a/x}\n", "t.yaml:7:9: environments.e.mounts[0].target: /a/x leads through the root's links to /data, a file of the root, not a folder: apply could not reach the target (ENOTDIR)"},
		{"      - {type: tmpfs, target: /c/x/y}\n", "environments.e.mounts[0].target: /c/x/y leads through the root's links to /data, a file of the root"},
		{"      - {type: tmpfs, target: /b/x}\n", ""},
	} {
		got := planErrors(t, dir, text(c.mounts))
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.mounts, got, c.want)
		}
	}
	// A closure root's tree (/bin -> usr/bin, /usr/bin/sh a file).
	s, err := spec.ParseBytes("t.yaml", dir, []byte("version: 1\nenvironments:\n  e:\n    rootfs: {closure: [/usr/bin/sh]}\n    namespaces: [mnt, pid]\n    mounts: [{type: tmpfs, target: /bin/sh/x}]\n    processes: [{name: main, command: [/bin/sh]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts := fixedOptions(Options{Caller: &rootCaller, CacheDir: t.TempDir()})
	opts.Closure = binClosure()
	if _, err := Compile(s, opts); err == nil || !strings.Contains(err.Error(), "/bin/sh/x leads through the root's links to /usr/bin/sh, a file of the root") {
		t.Errorf("closure: %v, want the link's refusal", err)
	}
}
