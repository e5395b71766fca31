package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rootGroupPrivate says whether this host's group 0 has root for its
// only member (the /etc/group and /etc/passwd the test reads): a user
// private group, which is what umask 002 relies on.
func rootGroupPrivate() bool {
	g, _ := os.ReadFile("/etc/group")
	p, _ := os.ReadFile("/etc/passwd")
	ok := false
	for _, l := range strings.Split(string(g), "\n") {
		if f := strings.Split(l, ":"); len(f) == 4 && f[2] == "0" {
			ok = f[3] == "" || f[3] == "root"
		}
	}
	for _, l := range strings.Split(string(p), "\n") {
		if f := strings.Split(l, ":"); len(f) > 3 && f[3] == "0" && f[2] != "0" {
			return false
		}
	}
	return ok
}

// A folder group-writable by its owner's private group is the owner's
// alone (umask 002 with user private groups: every folder is made so),
// and export goes ahead into it, or into a folder made in it; one
// group-writable by a group with another member (nobody's), or by a gid
// no group has, is refused as before. Export refused them all.
func TestRootExportPrivateGroupFolder(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	if !rootGroupPrivate() {
		skipOrFail(t, "this host's group 0 has members other than root")
	}
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte(reviewImageSpec), 0o644)
	folder := func(name string, gid int) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 0, gid); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o775)
		return p
	}
	upg := folder("upg", 0)
	for _, args := range [][]string{{"--oci", upg}, {"--oci", filepath.Join(upg, "bundle")}, {"--image", filepath.Join(upg, "img")}} {
		if code, _, errs := nsup(t, append(append([]string{"export"}, args...), f)...); code != 0 {
			t.Errorf("export %q into a folder of root's private group: %d %s", args, code, errs)
		}
	}
	for _, gid := range []int{65534, 4242} {
		d := folder("g"+strconv.Itoa(gid), gid)
		for _, args := range [][]string{{"--oci", d}, {"--oci", filepath.Join(d, "bundle")}} {
			code, _, errs := nsup(t, append(append([]string{"export"}, args...), f)...)
			if code == 0 || !strings.Contains(errs, "export into a folder of your own") {
				t.Errorf("export %q (group %d may write): exit %d, want it refused: %s", args, gid, code, errs)
			}
		}
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("%s now holds %d entries", d, len(ents))
		}
	}
}
