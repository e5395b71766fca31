package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// keepHostFiles restores each file as it is now (its bytes and mode, or
// its absence) when the test ends, after the cleanups registered later
// (userdel's too).
func keepHostFiles(t *testing.T, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		st, serr := os.Stat(f)
		if err != nil && !os.IsNotExist(err) || err == nil && serr != nil {
			t.Fatal(err, serr)
		}
		t.Cleanup(func() {
			if err != nil {
				os.Remove(f)
				return
			}
			if werr := os.WriteFile(f, b, st.Mode().Perm()); werr != nil {
				t.Errorf("restoring %s: %v", f, werr)
			}
			os.Chmod(f, st.Mode().Perm())
			os.Chtimes(f, st.ModTime(), st.ModTime())
		})
	}
}

// grantSubIDs writes file as it was but for the user's lines, which are
// lines instead.
func grantSubIDs(t *testing.T, file string, u testUser, lines ...string) {
	t.Helper()
	b, _ := os.ReadFile(file)
	var keep []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if o, _, _ := strings.Cut(l, ":"); l != "" && o != u.name && o != strconv.Itoa(u.uid) {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(file, []byte(strings.Join(append(keep, lines...), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// subIDCase is rootlessCase for a test whose idmap goes through
// newuidmap/newgidmap, which it needs, and busybox: /etc/subuid,
// /etc/subgid and their backups are restored as they are now when the
// test ends, after userdel's cleanup.
func subIDCase(t *testing.T) (u testUser, dir, bin, cache string) {
	t.Helper()
	requireBusybox(t)
	if _, err := exec.LookPath("newuidmap"); err != nil {
		skipOrFail(t, "needs newuidmap (apt-get install uidmap)")
	}
	keepHostFiles(t, "/etc/subuid", "/etc/subuid-", "/etc/subgid", "/etc/subgid-")
	return rootlessCase(t)
}

// subIDMap is an idmap's subordinate ranges: count uids from uid and
// gids from gid, mapped from 1 inside.
type subIDMap struct{ uid, uids, gid, gids int }

// subIDSpec writes dir/env.yaml and returns its path: environment env of
// a busybox closure in its own user, mount and pid namespaces, root
// inside mapped to u's uid and gid and m's ranges above it (the uid map
// on line 7), then rest, the environment's other keys.
func subIDSpec(t *testing.T, dir, env string, u testUser, m subIDMap, rest string) string {
	t.Helper()
	spec := filepath.Join(dir, env+".yaml")
	if err := os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  %s:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [user, mnt, pid]
    idmap:
      uid: [{inside: 0, outside: %d, count: 1}, {inside: 1, outside: %d, count: %d}]
      gid: [{inside: 0, outside: %d, count: 1}, {inside: 1, outside: %d, count: %d}]
%s`, env, u.uid, m.uid, m.uids, u.gid, m.gid, m.gids, rest)), 0o644); err != nil {
		t.Fatal(err)
	}
	return spec
}

// catUIDMap is a subIDSpec's rest: /proc mounted, main printing its
// uid_map.
const catUIDMap = `    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/busybox, cat, /proc/self/uid_map]}
`

// TestRootRootlessIDMapGrantLines: rootless, the plan takes an idmap
// range as newuidmap takes it from /etc/subuid: here over two lines that
// follow one another, one by the user's name and one by its uid, which
// apply maps; one id more is refused at plan time, naming the range, the
// file and the user's grants. Helper-115's finding: the plan refused the
// range over two lines, which newuidmap maps (shadow's have_range).
func TestRootRootlessIDMapGrantLines(t *testing.T) {
	u, dir, bin, cache := subIDCase(t)
	grantSubIDs(t, "/etc/subuid", u, u.name+":3000000:400", strconv.Itoa(u.uid)+":3000400:600")
	grantSubIDs(t, "/etc/subgid", u, u.name+":3000000:1000")
	write := func(count int) string {
		return subIDSpec(t, dir, "lines", u, subIDMap{3000000, count, 3000000, 1000}, catUIDMap)
	}
	env := []string{"XDG_CACHE_HOME=" + cache}
	spec := write(1000)
	code, out, errs := u.as(t, env, bin, "apply", spec)
	if got, want := strings.Join(strings.Fields(out), " "), fmt.Sprintf("0 %d 1 1 3000000 1000", u.uid); code != 0 || got != want {
		t.Errorf("apply of a range over two grant lines: exit %d, uid_map %q, want %q\n%s", code, got, want, errs)
	}
	write(1001)
	code, _, errs = u.as(t, env, bin, "plan", spec)
	line := fmt.Sprintf("      uid: [{inside: 0, outside: %d, count: 1}, {", u.uid)
	want := fmt.Sprintf("%s:7:%d: environments.lines.idmap.uid[1]: host uids 3000000-3001000 are not %s's to map: /etc/subuid grants it only 3000000-3000399, 3000400-3000999 (newuidmap checks it)", spec, len(line), u.name)
	if code != 2 || !strings.Contains(errs, want) {
		t.Errorf("plan of a range beyond the grants: exit %d, want 2 and %q\n%s", code, want, errs)
	}
}

// TestRootRootlessIDMapCRLF: a grant line of /etc/subuid that ends
// "\r\n" is none of the user's for newuidmap (commonio cuts the "\n"
// only, and strtoul leaves the "\r"): apply is refused at plan time,
// naming the file's grants (none), not failed by newuidmap. Helper-120's
// finding: the plan read the line as Go's ScanLines does, took it, and
// apply failed in newuidmap.
func TestRootRootlessIDMapCRLF(t *testing.T) {
	u, dir, bin, cache := subIDCase(t)
	grantSubIDs(t, "/etc/subuid", u, u.name+":3000000:1000\r")
	grantSubIDs(t, "/etc/subgid", u, u.name+":3000000:1000")
	spec := subIDSpec(t, dir, "crlf", u, subIDMap{3000000, 10, 3000000, 10}, `    processes:
      - {name: main, command: [/bin/busybox, cat, /proc/self/uid_map]}
`)
	code, out, errs := u.as(t, []string{"XDG_CACHE_HOME=" + cache}, bin, "apply", spec)
	want := fmt.Sprintf("environments.crlf.idmap.uid[1]: host uids 3000000-3000009 are not %s's to map: /etc/subuid grants it none (newuidmap checks it)", u.name)
	if code != 2 || !strings.Contains(errs, want) {
		t.Errorf("apply with a CRLF grant line: exit %d, want 2 and %q\n%s%s", code, want, out, errs)
	}
}
