package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateThroughLinkRefused: a bind with create: true whose source is
// reached through a symlink (a repository's ./cache, a link to a folder
// not there yet, or a link above it) was planned as a mkdir and a
// writable bind of the path as written, which apply, making and binding
// it through no symlink, refused. The plan says so now; a source with no
// link on its way plans.
func TestCreateThroughLinkRefused(t *testing.T) {
	repo := evalSymlinks(t, t.TempDir())
	os.Symlink(filepath.Join(repo, "elsewhere"), filepath.Join(repo, "dangling"))
	os.Mkdir(filepath.Join(repo, "real"), 0o755)
	os.Symlink("real", filepath.Join(repo, "up"))
	bind := func(src string) string {
		return `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ` + src + `, target: /data, create: true}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	for _, tc := range []struct{ src, link string }{
		{repo + "/dangling", repo + "/dangling"},
		{repo + "/up/new/cache", repo + "/up"},
	} {
		_, err := compileLimits(t, bind(tc.src), rootCaller, "hybrid")
		if err == nil || !strings.Contains(err.Error(), tc.link+" is a symlink") {
			t.Errorf("create: true of %s: %v, want it refused, naming %s", tc.src, err, tc.link)
		}
	}
	if _, err := compileLimits(t, bind(repo+"/real/new"), rootCaller, "hybrid"); err != nil {
		t.Errorf("create: true with no link on the way: %v", err)
	}
}
