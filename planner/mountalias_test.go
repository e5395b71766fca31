package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMountsMovableAlias (helper-55's review): a host mount below
// another path of the bound folder (a bind mount of it elsewhere, the
// same filesystem mounted twice) is not below the source by path, and
// was not looked at: the bind, recursive or not, does not bring it
// along (it is a mount of the other path's), so root inside renamed its
// folder and the host's mount moved with it, in the host's namespace too.
// It is found by filesystem and folder (mountinfo's major:minor and
// root) and refused as one below the source by path is.
func TestMountsMovableAlias(t *testing.T) {
	dir := movableRoot(t, "hidden")
	mi, err := os.ReadFile("cgroup/testdata/hybrid/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	// The test data's mount that holds dir: its filesystem and folder.
	dev, root, point := "", "", ""
	for _, line := range strings.Split(string(mi), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && within(dir, f[4]) && len(f[4]) >= len(point) {
			dev, root, point = f[2], f[3], f[4]
		}
	}
	if point == "" {
		t.Fatalf("no mount of the test data holds %s", dir)
	}
	shown := filepath.Join(root, strings.TrimPrefix(dir, strings.TrimSuffix(point, "/")))
	extra := "998 1 " + dev + " " + shown + " /srv/alias rw,relatime - ext4 /dev/x rw\n" +
		"999 998 0:99 / /srv/alias/hidden rw,relatime - tmpfs tmpfs rw\n"
	checkBindCases(t, dir, extra, "/srv/alias/hidden", []bindCase{
		{dir, "", true},
		{dir, ", recursive: false", true},
		{dir, ", readonly: true", false},
		{dir + "/bin", "", false},
	})
}
