package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// TestRootMaskThroughLinkToProc (helper-65's review): a masked path of the
// spec's spelled through a symlink of a dir root that leads into the
// spec's proc mount (masked_paths: [/lnk/keys], /lnk -> proc) lies below
// no mount as written, so it was planned as the root's own path: looked
// for in the tree at plan time (where proc is an empty folder: skipped,
// the plan saying "not there"), and, when the tree holds such a file,
// placed by its path after every mount, not beneath proc's held fd.
// linkedBelowBind looked for binds only. Another environment that may
// write the tree replaced the link with a folder of its own before
// apply, the mask went there, and root inside read the real /proc/keys.
// The same held for a path written as a proc target's link leads it
// (/x/proc/keys, proc at /p/proc, the tree's /p -> x) once the writer
// pointed /p elsewhere. Such a spec is refused now, naming where the path leads;
// were it planned, /proc/keys must read empty. The default masks of a
// proc whose target is a link are resolved beneath its fd, and hold
// when the link is retargeted (the last case, which plans).
func TestRootMaskThroughLinkToProc(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	if _, err := os.Stat("/proc/keys"); err != nil {
		skipOrFail(t, "needs /proc/keys (CONFIG_KEYS)")
	}
	for _, c := range []struct {
		name, target, masked string
		// link is the tree's symlink (name -> target); treeFile a file put
		// in the tree where the link leads, so that the mask is planned.
		link, to, treeFile string
		// retarget is what the tree's writer puts at link before apply.
		retarget   func(root string) error
		refusedFor string
	}{
		{"skipped", "/proc", "[/lnk/keys]", "lnk", "proc", "", dirWithKeys("lnk"), "/proc/keys"},
		{"placed by path", "/proc", "[/lnk/keys]", "lnk", "proc", "proc/keys", dirWithKeys("lnk"), "/proc/keys"},
		{"proc's target linked", "/p/proc", "[/x/proc/keys]", "p", "x", "x/proc/keys", linkTo("p", "y"), "the proc at /p/proc"},
		{"defaults", "/p/proc", "", "p", "x", "", linkTo("p", "y"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			root := busyboxRoot(t, dir)
			for _, d := range []string{"proc", "x/proc", "y/proc"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(c.to, filepath.Join(root, c.link)); err != nil {
				t.Fatal(err)
			}
			if c.treeFile != "" {
				if err := os.WriteFile(filepath.Join(root, c.treeFile), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			security := ""
			if c.masked != "" {
				security = "    security: {masked_paths: " + c.masked + "}\n"
			}
			s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: proc, target: `+c.target+`}
`+security+`    processes:
      - name: main
        command: [/bin/sh, -c, 'echo "keys: [$(head -c 1 `+c.target+`/keys)]"']
`), asWritten)
			if err != nil {
				t.Fatal(err)
			}
			p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
			if err != nil {
				if c.refusedFor == "" || !strings.Contains(err.Error(), c.refusedFor) {
					t.Fatalf("refused, but not for the link: %v", err)
				}
				return
			}
			// The other environment, before apply.
			if err := c.retarget(root); err != nil {
				t.Fatal(err)
			}
			_, out, errOut, err := run(t, p, executor.Options{})
			if !strings.Contains(out, "keys: []") {
				t.Errorf("%s/keys is not masked (the tree's link retargeted before apply): %q %q %v\n%s", c.target, out, errOut, err, planText(p))
			}
		})
	}
}

// dirWithKeys replaces the tree's link name with a folder holding a file
// keys: where a mask by that path goes.
func dirWithKeys(name string) func(root string) error {
	return func(root string) error {
		at := filepath.Join(root, name)
		if err := os.Remove(at); err != nil {
			return err
		}
		if err := os.Mkdir(at, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(at, "keys"), nil, 0o644)
	}
}

// linkTo points the tree's link name at to.
func linkTo(name, to string) func(root string) error {
	return func(root string) error {
		at := filepath.Join(root, name)
		if err := os.Remove(at); err != nil {
			return err
		}
		return os.Symlink(to, at)
	}
}
