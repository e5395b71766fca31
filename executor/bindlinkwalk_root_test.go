package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
)

// TestRootMissingFolderThroughBindLink (helper-63's review, not covered
// then; helper-66's change): beneath a held writable bind of a host
// folder, the walk that made a mount's missing folders followed the
// folder's own links, which cross no mount. Root inside, in an earlier
// run, left hostdata/cache a link to conf (or to ../hostdata/conf, or
// to a link to it); the next apply made the missing folder of a tmpfs
// at /data/cache/sub in hostdata/conf, which the spec binds read-only
// only after the tmpfs. That walk follows no symlink now: the step
// fails, and the host's folder stays empty. The links are made after
// the plan: one there when it is made is refused by the plan itself.
func TestRootMissingFolderThroughBindLink(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	for _, c := range []struct{ name, link, mount string }{
		{"relative", "conf", "{type: tmpfs, target: /data/cache/sub}"},
		{"deeper", "conf", "{type: tmpfs, target: /data/cache/a/b}"},
		{"link to a link", "again", "{type: tmpfs, target: /data/cache/sub}"},
		{"file", "conf", "{type: bind, source: ./hostfile, target: /data/cache/sub/f, readonly: true}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkHost(t)
			dir := t.TempDir()
			root := busyboxRoot(t, dir)
			host := filepath.Join(dir, "hostdata")
			for _, d := range []string{filepath.Join(root, "data"), filepath.Join(host, "conf")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "hostfile"), []byte("f\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - `+c.mount+`
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
    processes:
      - {name: main, command: [/bin/true]}
`)
			if text := planText(p); !strings.Contains(text, "<mount at /data>/cache") {
				t.Fatalf("the mount is not resolved beneath the bind:\n%s", text)
			}
			// Root inside, in an earlier run, once the plan is made (a
			// link there then is the plan's to refuse, since helper-147's
			// walker: a mount it lands below, listed after, covers it).
			if err := os.Symlink(c.link, filepath.Join(host, "cache")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("conf", filepath.Join(host, "again")); err != nil {
				t.Fatal(err)
			}
			_, out, errOut, err := run(t, p, executor.Options{})
			if names := dirNames(filepath.Join(host, "conf")); len(names) != 0 {
				t.Errorf("the host's folder bound read-only got %v through the bound folder's link: %q %q %v", names, out, errOut, err)
			}
			if err == nil {
				t.Errorf("apply made the missing folder through a link: %q %q", out, errOut)
			} else if !strings.Contains(err.Error(), "symbolic links") {
				t.Errorf("apply failed, not for the link: %v", err)
			}
		})
	}
}
