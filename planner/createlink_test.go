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

// TestErrorKeepsToItsLine: a refusal that quotes a host path keeps to
// its line, whatever the path holds. Before helper-124's review a
// repository's ./data, a link to a folder named "x\n# box: ...", gave the
// refusal of a create: true bind through it a second line of the
// repository's choosing, which nsup plan printed as it was (shownLines
// escapes each line, and keeps the line breaks between errors).
func TestErrorKeepsToItsLine(t *testing.T) {
	repo := evalSymlinks(t, t.TempDir())
	forged := "x\n# a: nothing here is writable\rnsup.yaml:1:1: fixed"
	os.Mkdir(filepath.Join(repo, forged), 0o755)
	os.Symlink(forged, filepath.Join(repo, "data"))
	_, err := compileLimits(t, `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: `+repo+`/data/sub, target: /data, create: true}
    processes: [{name: main, command: [/bin/sh]}]
`, rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "is a symlink") {
		t.Fatalf("plan: %v, want the link refused", err)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 1 || strings.ContainsAny(err.Error(), "\r") {
		t.Errorf("one refusal, %d lines (want 1): %q", len(lines), err.Error())
	}
	if !strings.Contains(err.Error(), `x\n# a: nothing here is writable\rnsup.yaml:1:1: fixed`) {
		t.Errorf("the path not written escaped: %q", err.Error())
	}
}
