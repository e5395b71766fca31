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

// TestRootRootlessIDMapGrantLines: rootless, the plan takes an idmap
// range as newuidmap takes it from /etc/subuid: here over two lines that
// follow one another, one by the user's name and one by its uid, which
// apply maps; one id more is refused at plan time, naming the range, the
// file and the user's grants. Helper-115's finding: the plan refused the
// range over two lines, which newuidmap maps (shadow's have_range).
func TestRootRootlessIDMapGrantLines(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	if _, err := exec.LookPath("newuidmap"); err != nil {
		skipOrFail(t, "needs newuidmap (apt-get install uidmap)")
	}
	keepHostFiles(t, "/etc/subuid", "/etc/subuid-", "/etc/subgid", "/etc/subgid-")
	u := makeUser(t)
	grantSubIDs(t, "/etc/subuid", u, u.name+":3000000:400", strconv.Itoa(u.uid)+":3000400:600")
	grantSubIDs(t, "/etc/subgid", u, u.name+":3000000:1000")
	dir, bin, cache := rootlessDir(t, u)
	spec := filepath.Join(dir, "lines.yaml")
	write := func(count int) {
		os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  lines:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [user, mnt, pid]
    idmap:
      uid: [{inside: 0, outside: %d, count: 1}, {inside: 1, outside: 3000000, count: %d}]
      gid: [{inside: 0, outside: %d, count: 1}, {inside: 1, outside: 3000000, count: 1000}]
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/busybox, cat, /proc/self/uid_map]}
`, u.uid, count, u.gid)), 0o644)
	}
	env := []string{"XDG_CACHE_HOME=" + cache}
	write(1000)
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
	requireRoot(t)
	checkHost(t)
	requireBusybox(t)
	if _, err := exec.LookPath("newuidmap"); err != nil {
		skipOrFail(t, "needs newuidmap (apt-get install uidmap)")
	}
	keepHostFiles(t, "/etc/subuid", "/etc/subuid-", "/etc/subgid", "/etc/subgid-")
	u := makeUser(t)
	grantSubIDs(t, "/etc/subuid", u, u.name+":3000000:1000\r")
	grantSubIDs(t, "/etc/subgid", u, u.name+":3000000:1000")
	dir, bin, cache := rootlessDir(t, u)
	spec := filepath.Join(dir, "crlf.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  crlf:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [user, mnt, pid]
    idmap:
      uid: [{inside: 0, outside: %d, count: 1}, {inside: 1, outside: 3000000, count: 10}]
      gid: [{inside: 0, outside: %d, count: 1}, {inside: 1, outside: 3000000, count: 10}]
    processes:
      - {name: main, command: [/bin/busybox, cat, /proc/self/uid_map]}
`, u.uid, u.gid)), 0o644)
	code, out, errs := u.as(t, []string{"XDG_CACHE_HOME=" + cache}, bin, "apply", spec)
	want := fmt.Sprintf("environments.crlf.idmap.uid[1]: host uids 3000000-3000009 are not %s's to map: /etc/subuid grants it none (newuidmap checks it)", u.name)
	if code != 2 || !strings.Contains(errs, want) {
		t.Errorf("apply with a CRLF grant line: exit %d, want 2 and %q\n%s%s", code, want, out, errs)
	}
}
