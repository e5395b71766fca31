package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestCacheRootRemountRefused: root inside that keeps SYS_ADMIN in a user
// namespace lifts the read-only flag of its root's bind (mount -o
// remount,bind,rw /), which is its own, not locked: with a root of nsup's
// cache bound without overlay it wrote the cache entry every environment
// of the same files shares (helper-114's review: a file written in a tar
// root's world-writable /tmp, as host uid 100000, found in the cache
// after; rootless, the whole entry is root inside's). The plan refuses
// it, at the capability, for the environment's own root and for the
// root of a mount namespace it joins; an overlay root, a dir root, no
// user namespace (root inside is the host's root) or no SYS_ADMIN plan.
func TestCacheRootRemountRefused(t *testing.T) {
	const base = `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt, pid]
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]
    security: {capabilities: {add: [SYS_ADMIN]}}
    processes:
      - {name: main, command: [/bin/sh]}
`
	const joined = `version: 1
environments:
  b:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt, pid]
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]
    processes:
      - {name: main, command: [/bin/sh]}
  a:
    rootfs: {closure: [/bin/sh]}
    join: {user: b, mnt: b}
    namespaces: [pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    processes:
      - {name: main, command: [/bin/sh]}
`
	const mapped = "    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: [{inside: 0, outside: 100000, count: 65536}]\n"
	refused := "environments.a.security.capabilities.add: CAP_SYS_ADMIN kept in a user namespace, with "
	for _, c := range []struct {
		name, yaml string
		caller     Caller
		want       string // "" plans
	}{
		{"closure", base, rootCaller, "t.yaml:9:37: " + refused + "its root a closure root without overlay"},
		{"closure, rootless", strings.Replace(base, mapped, "", 1), userCaller, "t.yaml:6:37: " + refused + "its root a closure root"},
		{"ALL", strings.Replace(base, "add: [SYS_ADMIN]", "add: [ALL]", 1), rootCaller, "t.yaml:9:37: " + refused},
		{"joined", joined, rootCaller, "t.yaml:15:37: " + refused + "b's (its mount namespace, joined) root a closure root"},
		{"overlay", strings.Replace(base, "[/bin/sh]}", "[/bin/sh], overlay: true}", 1), rootCaller, ""},
		{"dir", strings.Replace(base, "{closure: [/bin/sh]}", "{dir: ./rootfs}", 1), rootCaller, ""},
		{"no SYS_ADMIN", strings.Replace(base, "SYS_ADMIN", "NET_ADMIN", 1), rootCaller, ""},
		{"no user namespace", strings.Replace(strings.Replace(base, "[user, mnt, pid]", "[mnt, pid]", 1), mapped, "", 1), rootCaller, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			caller := c.caller
			_, err := compileText(t, c.yaml, Options{Caller: &caller, CacheDir: "/var/cache/nsup"})
			switch {
			case c.want == "" && err != nil && strings.Contains(err.Error(), "CAP_SYS_ADMIN kept"):
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "say overlay: true")):
				t.Errorf("plan: %v, want %q", err, c.want)
			}
		})
	}
}

// TestConsoleRemountRefused: rootless, with a terminal and a dev mount,
// root inside keeping SYS_ADMIN lifted the read-only flag of its
// /dev/console's bind (the host's /dev/pts/N nsup opened, the user's)
// and chmod'ed the node 0666 for every host user (helper-114's review:
// mount_setattr(0, AT_EMPTY_PATH, clear MOUNT_ATTR_RDONLY), fchmod(0)).
// The plan refuses it where the user namespace maps the node's owner (the
// caller's uid): rootless, or root's map of root onto root; not without
// a terminal, without SYS_ADMIN, nor where root inside is another uid.
func TestConsoleRemountRefused(t *testing.T) {
	const base = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    mounts: [{type: dev, target: /dev}]
    processes:
      - {name: main, command: [/bin/sh]}
`
	const idmap = "    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: [{inside: 0, outside: 100000, count: 65536}]\n    processes:"
	for _, c := range []struct {
		name, yaml string
		caller     Caller
		terminal   bool
		want       string
	}{
		{"rootless", base, userCaller, true, "t.yaml:6:37: environments.a.security.capabilities.add: CAP_SYS_ADMIN kept in a user namespace that maps uid 1000, with a terminal and a dev mount"},
		{"root onto root", strings.Replace(base, "    processes:", strings.ReplaceAll(idmap, "100000", "0"), 1), rootCaller, true, "t.yaml:6:37: environments.a.security.capabilities.add: CAP_SYS_ADMIN kept in a user namespace that maps uid 0"},
		{"rootless, no terminal", base, userCaller, false, ""},
		{"rootless, no SYS_ADMIN", strings.Replace(base, "SYS_ADMIN", "NET_ADMIN", 1), userCaller, true, ""},
		{"root, mapped elsewhere", strings.Replace(base, "    processes:", idmap, 1), rootCaller, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			caller := c.caller
			_, err := compileText(t, c.yaml, Options{Caller: &caller, Terminal: c.terminal})
			switch {
			case c.want == "" && err != nil && strings.Contains(err.Error(), "CAP_SYS_ADMIN kept"):
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "drop SYS_ADMIN")):
				t.Errorf("plan: %v, want %q", err, c.want)
			}
		})
	}
}

// TestSpecFileBindSysAdminRefused: a writable bind of the spec's folder
// gets a read-only bind over the spec (protectSpecFiles), which root
// inside keeping SYS_ADMIN in its user namespace unmounted (the bind is
// its mount namespace's own, not locked) and then rewrote the spec the
// next nsup run applies (helper-114's review, rootless: umount
// /src/nsup.yaml, then a line appended). The plan refuses that mount
// then; without SYS_ADMIN, or outside a user namespace (root inside is
// the host's root), the spec is bound read-only over itself as before.
func TestSpecFileBindSysAdminRefused(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "root/bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "proj"), 0o755)
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	compile := func(caps, namespaces string, caller Caller) error {
		text := `version: 1
environments:
  dev:
    rootfs: {dir: ` + d + `/root}
    namespaces: ` + namespaces + `
    security: {capabilities: {add: [` + caps + `]}}
    mounts: [{type: bind, source: ., target: /src}]
    processes: [{name: main, command: [/bin/sh]}]
`
		dir := filepath.Join(d, "proj")
		file := filepath.Join(dir, "nsup.yaml")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := spec.ParseBytes(file, dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &caller}))
		return err
	}
	want := "nsup.yaml:7:14: environments.dev.mounts[0]: " + filepath.Join(d, "proj/nsup.yaml") + ", which nsup reads to plan this spec, shows at /src/nsup.yaml"
	for _, c := range []struct {
		name, caps, namespaces string
		caller                 Caller
		refused                bool
	}{
		{"rootless", "SYS_ADMIN", "[user, mnt, pid]", userCaller, true},
		{"root, idmap-less user namespace", "SYS_ADMIN", "[user, mnt, pid]", rootCaller, true},
		{"rootless, no SYS_ADMIN", "NET_ADMIN", "[user, mnt, pid]", userCaller, false},
		{"root, no user namespace", "SYS_ADMIN", "[mnt, pid]", rootCaller, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := compile(c.caps, c.namespaces, c.caller)
			got := err != nil && strings.Contains(err.Error(), want) && strings.Contains(err.Error(), "drop SYS_ADMIN")
			if got != c.refused || !c.refused && err != nil {
				t.Errorf("plan: %v, want refused %v (%s)", err, c.refused, want)
			}
		})
	}
}

// TestReadonlyLiftNoted: root inside keeping SYS_ADMIN in a user
// namespace lifted a readonly bind's flag (mount -o remount,bind,rw
// /mnt) and wrote a file of uid 100000 in the host's folder (tried with
// an idmap: the plan said nothing). The read-only flags nsup sets in the
// environment's own mount namespace are not locked; the plan now notes
// each read-only host folder this leaves open, at the capability: a
// read-only dir root, readonly binds and volumes. Not without SYS_ADMIN,
// not outside a user namespace (root inside is the host's root, noted
// otherwise), not for a writable bind or root.
func TestReadonlyLiftNoted(t *testing.T) {
	const base = `version: 1
volumes: {data: {}}
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, pid]
    security: {capabilities: {add: [SYS_ADMIN]}}
    mounts:
      - {type: bind, source: /tmp, target: /mnt, readonly: true}
      - {type: volume, source: data, target: /data, readonly: true}
      - {type: bind, source: /tmp, target: /rw}
    processes:
      - {name: main, command: [/bin/sh]}
`
	const note = "environments.a.security.capabilities.add: CAP_SYS_ADMIN kept in a user namespace: root inside may lift the read-only flag of "
	const binds = "/mnt (a bind of /tmp), /data (a bind of /var/lib/nsup/volumes/001/data) (mount -o remount,bind,rw) and write there"
	for _, c := range []struct {
		name, yaml string
		caller     Caller
		want       []string // none: nothing noted
	}{
		{"rootless", base, userCaller, []string{note + "the root (", "/rootfs), " + binds}},
		{"ALL", strings.Replace(base, "add: [SYS_ADMIN]", "add: [ALL]", 1), userCaller, []string{note + "the root (", "/rootfs), " + binds}},
		{"writable root", strings.Replace(base, "{dir: ./rootfs}", "{dir: ./rootfs, readonly: false}", 1), userCaller, []string{note + binds}},
		{"no SYS_ADMIN", strings.Replace(base, "SYS_ADMIN", "NET_ADMIN", 1), userCaller, nil},
		{"no user namespace", strings.Replace(base, "[user, mnt, pid]", "[mnt, pid]", 1), rootCaller, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			caller := c.caller
			p, err := compileText(t, c.yaml, Options{Caller: &caller})
			if err != nil {
				t.Fatal(err)
			}
			notes := strings.Join(p.Environments[0].Notes, "\n")
			if c.want == nil && strings.Contains(notes, "lift the read-only flag") {
				t.Errorf("noted:\n%s", notes)
			}
			for _, w := range c.want {
				if !strings.Contains(notes, w) {
					t.Errorf("notes:\n%s\nwant %q", notes, w)
				}
			}
		})
	}
}
