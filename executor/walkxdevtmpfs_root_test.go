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

// TestRootMissingFolderLinkedThroughTmpfs (helper-66's review): a mount
// of a dir root whose target, as the tree's links led it at plan time,
// crossed an earlier tmpfs was walked crossing mounts (no NoXDev), by its
// path from the root, not beneath the tmpfs (which is held only for a
// mount written below it). The writer of the tree (another environment
// with the same dir root, readonly: false) chose those links: /opt a link
// to /tmp when the plan was made, a link to /data/conf after; or a tmpfs
// at /lnk/t (/lnk -> x) and a mount at /x/t/inner, /lnk pointed
// elsewhere and /x a link to /data/conf after. The missing folders were
// made in the host's hostdata/conf, which the environment binds
// read-only only after, through its writable bind of hostdata at /data.
// Such a spec is refused now (the path the link leads to is named); were
// it planned, hostdata/conf must stay empty.
func TestRootMissingFolderLinkedThroughTmpfs(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, c := range []struct {
		name, mounts string
		links        map[string]string // the tree's links at plan time
		after        map[string]string // and after the plan
		refusedFor   string
	}{
		{"link to tmpfs", "      - {type: tmpfs, target: /tmp}\n      - {type: tmpfs, target: /opt/new}\n",
			map[string]string{"opt": "/tmp"}, map[string]string{"opt": "/data/conf"}, "leads below the tmpfs at /tmp"},
		{"tmpfs's target linked", "      - {type: tmpfs, target: /lnk/t}\n      - {type: tmpfs, target: /x/t/inner}\n",
			map[string]string{"lnk": "x"}, map[string]string{"lnk": "y", "x": "/data/conf"}, "lies below the tmpfs at /lnk/t"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkHost(t)
			dir := t.TempDir()
			root := busyboxRoot(t, dir)
			host := filepath.Join(dir, "hostdata")
			for _, d := range []string{"data", "tmp", "x/t", "y/t"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.MkdirAll(filepath.Join(host, "conf"), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, to := range c.links {
				if err := os.Symlink(to, filepath.Join(root, name)); err != nil {
					t.Fatal(err)
				}
			}
			s, err := spec.ParseBytesVars("test.yaml", dir, []byte(`version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
`+c.mounts+`      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
    processes:
      - {name: main, command: [/bin/true]}
`), asWritten)
			if err != nil {
				t.Fatal(err)
			}
			p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
			if err != nil {
				if !strings.Contains(err.Error(), c.refusedFor) {
					t.Fatalf("refused, but not for the link: %v", err)
				}
				return
			}
			// The other environment, after the plan.
			for name, to := range c.after {
				at := filepath.Join(root, name)
				if err := os.RemoveAll(at); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(to, at); err != nil {
					t.Fatal(err)
				}
			}
			_, out, errOut, err := run(t, p, executor.Options{})
			if names := dirNames(filepath.Join(host, "conf")); len(names) != 0 {
				t.Errorf("the host's folder bound read-only got %v through the tree's links: %q %q %v\n%s", names, out, errOut, err, planText(p))
			}
		})
	}
}
