package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
)

// TestRootConfinedPathLink: a path of security.masked_paths or
// readonly_paths that is, at its end, a symlink of a dir root
// (/etc/secret -> ../data/secret, /etc/sdir -> /data/dir) is confined
// where the link leads, as runc's mount of it follows the link. Before,
// the plan placed the mask on the link and apply failed (ELOOP), saying
// the link was new since the plan.
func TestRootConfinedPathLink(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	if err := os.MkdirAll(filepath.Join(root, "data", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "data", "secret"), []byte("topsecret\n"), 0o644)
	os.WriteFile(filepath.Join(root, "data", "dir", "f"), []byte("inner\n"), 0o644)
	for link, to := range map[string]string{"etc/secret": "../data/secret", "etc/sdir": "/data/dir"} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	p := compile(t, dir, `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    security:
      masked_paths: [/etc/secret, /etc/sdir]
    processes:
      - {name: main, command: [/bin/sh, -c, "echo [$(cat /etc/secret)] [$(ls /etc/sdir)] [$(cat /data/dir/f)]"]}
`)
	text := planText(p)
	code, out, errOut, err := run(t, p, executor.Options{})
	if err != nil || code != 0 || out != "[] [] []\n" {
		t.Errorf("apply: %d %v %q %q, want the secret and the folder masked\n%s", code, err, out, errOut, text)
	}
	if !strings.Contains(text, "<root>/data/secret") {
		t.Errorf("the plan does not mask /data/secret:\n%s", text)
	}
}
