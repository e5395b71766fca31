package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootRootlessSubordinateRoot: rootless, with an idmap that maps root
// inside to a subordinate uid and leaves the user's ids unmapped, a dir
// root in a 0700 folder of the user's, a missing mount target in the
// user's dir root and a closure root in the user's nsup cache are refused
// at plan time, naming the folder and the ways out (helper-121 found them
// planned and failing at apply with EACCES: the plan's reach checks ran
// only as root); with the user's uid and gid mapped too, root inside's
// capabilities hold over the user's folders, and the same specs apply.
func TestRootRootlessSubordinateRoot(t *testing.T) {
	u, dir, bin, cache := subIDCase(t)
	bb := requireBusybox(t)
	grantSubIDs(t, "/etc/subuid", u, u.name+":3000000:65536")
	grantSubIDs(t, "/etc/subgid", u, u.name+":3000000:65536")
	home := filepath.Join(dir, "home")
	mk := func(p string, m os.FileMode) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, m)
		os.Chown(p, u.uid, u.gid)
	}
	mk(home, 0o755)
	mk(home+"/closed", 0o700)
	for _, r := range []string{home + "/closed/root", home + "/open"} {
		mk(r, 0o755)
		mk(r+"/bin", 0o755)
		mk(r+"/proc", 0o755)
		if out, err := exec.Command("cp", bb, r+"/bin/busybox").CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	mk(home+"/open/vv", 0o755)
	// An archive of root's files: rootless, its tree in the cache is the
	// user's all the same (the unpacker chowns nothing).
	if out, err := exec.Command("tar", "-C", home+"/open", "--owner=0", "--group=0", "-cf", dir+"/root.tar", "bin", "proc").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	env := []string{"XDG_CACHE_HOME=" + cache, "XDG_DATA_HOME=" + cache + "/data"}
	sub := "      uid: [{inside: 0, outside: 3000000, count: 65536}]\n      gid: [{inside: 0, outside: 3000000, count: 65536}]\n"
	withUser := fmt.Sprintf("      uid: [{inside: 0, outside: 3000000, count: 1}, {inside: 1, outside: %d, count: 1}]\n      gid: [{inside: 0, outside: 3000000, count: 1}, {inside: 1, outside: %d, count: 1}]\n", u.uid, u.gid)
	way := fmt.Sprintf("map root inside to your own uid %d and gid %d (or map those too)", u.uid, u.gid)
	// The way out no longer offered: the user may not give a folder of
	// its own a subordinate gid (helper-122's review).
	if code, _, errs := u.as(t, nil, "chgrp", "3000000", home+"/closed"); code == 0 {
		t.Errorf("chgrp to a subordinate gid, as the user: exit 0, want EPERM\n%s", errs)
	}
	for _, tc := range []struct{ name, rootfs, mounts, want string }{
		{"dir-root", "{dir: " + home + "/closed/root}", "", "4:19: environments.x.rootfs.dir: the dir root " + home + "/closed/root is opened by the environment's child stage inside its user namespace, as root inside, host uid 3000000 (gid 3000000) through the id maps, which may not search " + home + "/closed (mode 0700, owner " + fmt.Sprint(u.uid) + ":" + fmt.Sprint(u.gid) + "): apply would fail with EACCES; let that uid search them (chmod o+x), map their owner and group too, or " + way},
		{"target", "{dir: " + home + "/open}", ", {type: tmpfs, target: /made}", "5:43: environments.x.mounts[1].target: /made is missing in the dir root " + home + "/open: apply makes it (\"target if missing\") inside the environment's user namespace, as root inside, host uid 3000000 (gid 3000000) through the id maps, which may not make its first missing folder"},
		{"closure", "{closure: [/bin/busybox]}", "", "4:13: environments.x.rootfs: the root's tree (nsup's cache) " + cache + "/nsup/closure/"},
		{"volume", "{dir: " + home + "/open}", ", {type: volume, source: vv, target: /vv}", "7:66: environments.x.mounts[1].source: volume vv's folder " + cache + "/data/nsup/volumes/"},
		{"volume-way", "{dir: " + home + "/open}", ", {type: volume, source: vv, target: /vv}", "may not search " + cache + " (mode 0700, owner " + fmt.Sprint(u.uid) + ":" + fmt.Sprint(u.gid) + "): apply would fail with EACCES; give a bind of a folder of yours that uid may search instead, or " + way},
		{"tar-target", "{tar: " + dir + "/root.tar}", ", {type: tmpfs, target: /made}", "4:13: environments.x.rootfs: the tar root's tree (nsup's cache) " + cache + "/nsup/tar/"},
		{"closure-way", "{closure: [/bin/busybox]}", "", "may not search " + cache + " (mode 0700, owner " + fmt.Sprint(u.uid) + ":" + fmt.Sprint(u.gid) + "): apply would fail with EACCES; give nsup a cache whose folders that uid may search (NSUP_CACHE_DIR, its closure and tar folders made so beforehand, as nsup makes them 0700; other host users may then reach its trees by digest too), a dir root, or " + way},
	} {
		for _, m := range []struct{ name, idmap string }{{"subordinate", sub}, {"with-user", withUser}} {
			f := filepath.Join(dir, tc.name+"-"+m.name+".yaml")
			vols := ""
			if strings.Contains(tc.mounts, "volume") {
				vols = "volumes:\n  vv: {}\n"
			}
			os.WriteFile(f, []byte("version: 1\n"+vols+"environments:\n  x:\n    rootfs: "+tc.rootfs+"\n    mounts: [{type: proc, target: /proc}"+tc.mounts+"]\n    namespaces: [user, mnt, pid]\n    idmap:\n"+m.idmap+
				"    processes: [{name: main, command: [/bin/busybox, cat, /proc/self/uid_map]}]\n"), 0o644)
			code, out, errs := u.as(t, env, bin, "apply", f)
			if m.idmap == sub {
				want := tc.want
				if !strings.HasPrefix(want, "may") {
					want = f + ":" + want
				}
				if code != 2 || !strings.Contains(errs, want) {
					t.Errorf("%s, root inside a subordinate uid: exit %d, want 2 and %q\n%s", tc.name, code, want, errs)
				}
				continue
			}
			if got := strings.Fields(out); code != 0 || len(got) < 3 || got[1] != "3000000" {
				t.Errorf("%s, the user's ids mapped too: exit %d, uid_map %q\n%s", tc.name, code, out, errs)
			}
		}
	}
	// A bind with create: true, made under the user's umask 077: apply
	// sets its folders 0755 as planned, which root inside may open
	// (helper-122's review: made 0700, then EACCES at open_tree).
	f := filepath.Join(dir, "umask.yaml")
	made := home + "/mk/a/made"
	os.WriteFile(f, []byte("version: 1\nenvironments:\n  x:\n    rootfs: {dir: "+home+"/open}\n    mounts: [{type: proc, target: /proc}, {type: bind, source: "+made+", create: true, target: /vv}]\n    namespaces: [user, mnt, pid]\n    idmap:\n"+sub+
		"    processes: [{name: main, command: [/bin/busybox, cat, /proc/self/uid_map]}]\n"), 0o644)
	code, out, errs := u.as(t, env, "sh", "-c", "umask 077; exec \"$0\" apply \"$1\"", bin, f)
	if got := strings.Fields(out); code != 0 || len(got) < 3 || got[1] != "3000000" {
		t.Errorf("create: true under umask 077: exit %d, uid_map %q\n%s", code, out, errs)
	}
	for _, p := range []string{home + "/mk", home + "/mk/a", made} {
		if fi, err := os.Stat(p); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", p, fi.Mode())
		}
	}
	// The cache's way out, taken: NSUP_CACHE_DIR a folder of the user's
	// that others may search, its closure folder made so beforehand.
	oc := filepath.Join(dir, "opencache")
	mk(oc, 0o711)
	mk(oc+"/closure", 0o711)
	cf := filepath.Join(dir, "opencache.yaml")
	os.WriteFile(cf, []byte("version: 1\nenvironments:\n  x:\n    rootfs: {closure: [/bin/busybox]}\n    mounts: [{type: proc, target: /proc}]\n    namespaces: [user, mnt, pid]\n    idmap:\n"+sub+
		"    processes: [{name: main, command: [/bin/busybox, cat, /proc/self/uid_map]}]\n"), 0o644)
	code, out, errs = u.as(t, append(env, "NSUP_CACHE_DIR="+oc), bin, "apply", cf)
	if got := strings.Fields(out); code != 0 || len(got) < 3 || got[1] != "3000000" {
		t.Errorf("closure in NSUP_CACHE_DIR with closure/ 0711: exit %d, uid_map %q\n%s", code, out, errs)
	}
}
