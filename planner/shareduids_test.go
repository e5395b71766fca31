package planner

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestSharedUIDsNoted (helper-131's review): as root, an idmap whose
// host uids another user holds (a grant of /etc/subuid, a login's uid),
// or, with no user namespace, a process user that is another login's
// uid, gets a note naming them: by hand, that user, in a user namespace
// of its own made with newuidmap, stopped and killed the processes of a
// root environment mapped to 100000-165535, its grant; and, as uid
// 1002, read the environ of an environment's process run as user 1002
// (no user namespace) and listed its root through /proc/PID/root. A
// range no one holds, root's own grant and uid 0 get none.
func TestSharedUIDsNoted(t *testing.T) {
	f := subIDFiles(t, "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
		"root:500000:65536\nalice:100000:65536\nbob:165536:65536\n", "-")
	caller := rootCaller
	caller.OthersUIDs = func() []UIDHolder { return othersUIDs(f, 0) }
	notes := func(idmap string) string {
		t.Helper()
		yaml := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [user, mnt, pid]\n    idmap: " + idmap + "\n    processes: [{name: main, command: [/bin/sh]}]\n"
		if !strings.HasPrefix(idmap, "{") { // a user, no user namespace
			yaml = "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt, pid]\n    user: \"" + idmap + "\"\n    processes: [{name: main, command: [/bin/sh]}, {name: side, user: \"0\", command: [/bin/sh]}]\n"
		}
		p, err := compileText(t, yaml, Options{Caller: &caller})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range p.Environments[0].Notes {
			if strings.Contains(n, "another user holds") {
				out = append(out, n)
			}
		}
		return strings.Join(out, "\n")
	}
	for _, c := range []struct{ idmap, want string }{
		{"{uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}",
			": alice uids 100000-165535):"},
		{"{uid: [{inside: 0, outside: 160000, count: 10000}], gid: [{inside: 0, outside: 160000, count: 10000}]}",
			": alice uids 160000-165535; " + f.subuid + ": bob uids 165536-169999):"},
		{"{uid: [{inside: 0, outside: 0, count: 1}, {inside: 1000, outside: 1000, count: 1}], gid: [{inside: 0, outside: 0, count: 1}]}",
			": alice uid 1000):"},
		{"{uid: [{inside: 0, outside: 500000, count: 65536}], gid: [{inside: 0, outside: 500000, count: 65536}]}", ""},
		{"{uid: [{inside: 0, outside: 300000, count: 65536}], gid: [{inside: 0, outside: 300000, count: 65536}]}", ""},
		{"1000:1000", "a.user: runs processes, with no user namespace, as host uids another user holds (" + f.passwd + ": alice uid 1000)"},
		{"100001", ": alice uid 100001)"},
		{"300000", ""},
		{"0", ""},
	} {
		got := notes(c.idmap)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("idmap %s: notes %q, want one holding %q", c.idmap, got, c.want)
		}
	}
}

// TestSharedUIDsSudoCaller: under sudo the uids the caller holds (its
// login's, its /etc/subuid grant, by name or by uid) are not "another
// user's": `sudo nsup plan` of an environment run as the caller's own
// uid 1006 (a dev box's files its user's) was told "another user holds
// (/etc/passwd: nsupt134b uid 1006): that user's processes may kill or
// stop them, ptrace them" (helper-134's review). Other users' are noted
// still.
func TestSharedUIDsSudoCaller(t *testing.T) {
	f := subIDFiles(t, "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n",
		"alice:100000:65536\n1000:300000:65536\nbob:165536:65536\n", "-")
	var got []string
	for _, h := range othersUIDs(f, 1000) {
		got = append(got, fmt.Sprintf("%s %d+%d", h.Who, h.First, h.Count))
	}
	want := []string{f.passwd + ": bob 1001+1", f.subuid + ": bob 165536+65536"}
	if !slices.Equal(got, want) {
		t.Errorf("under sudo by uid 1000: others hold %q, want %q", got, want)
	}
	if n := len(othersUIDs(f, 0)); n != 5 {
		t.Errorf("without sudo: %d holders, want 5", n)
	}
}

// TestSharedGIDsNoted: the same for gids. As root, an idmap whose host
// gids another user holds (a grant of /etc/subgid, a login's primary
// group, a group /etc/group lists them in), or, with no user namespace,
// a process group that is one of those, gets a note: that user's
// processes are those gids too (in their own user namespaces, or by
// their groups) and read and write what the environment makes for its
// group. A range no one holds, root's own grant, gid 0 and, under sudo,
// the caller's own get none.
func TestSharedGIDsNoted(t *testing.T) {
	f := subIDFiles(t, "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\ncarol:x:1002:1002::/home/carol:/bin/sh\n",
		"-", "root:500000:65536\nalice:100000:65536\nbob:165536:65536\n")
	if err := os.WriteFile(f.group, []byte("root:x:0:alice\nalice:x:1000:\ndev:x:3000:bob,alice\nempty:x:4000:\ncarols:x:5000:carol\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notes := func(sudo uint32, idmap string) string {
		t.Helper()
		caller := rootCaller
		caller.OthersUIDs = func() []UIDHolder { return othersUIDs(f, sudo) }
		caller.OthersGIDs = func() []UIDHolder { return othersGIDs(f, sudo) }
		yaml := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [user, mnt, pid]\n    idmap: " + idmap + "\n    processes: [{name: main, command: [/bin/sh]}]\n"
		if !strings.HasPrefix(idmap, "{") { // a user, no user namespace
			yaml = "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt, pid]\n    user: \"" + idmap + "\"\n    processes: [{name: main, command: [/bin/sh]}]\n"
		}
		p, err := compileText(t, yaml, Options{Caller: &caller})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range p.Environments[0].Notes {
			if strings.Contains(n, "host gids another user holds") {
				out = append(out, n)
			}
		}
		return strings.Join(out, "\n")
	}
	for _, c := range []struct {
		sudo        uint32
		idmap, want string
	}{
		{0, "{uid: [{inside: 0, outside: 500000, count: 65536}], gid: [{inside: 0, outside: 160000, count: 10000}]}",
			"a.idmap.gid: maps host gids another user holds (" + f.subgid + ": alice gids 160000-165535; " + f.subgid + ": bob gids 165536-169999):"},
		{0, "{uid: [{inside: 0, outside: 500000, count: 65536}], gid: [{inside: 0, outside: 0, count: 1}, {inside: 3000, outside: 3000, count: 1}]}",
			"(" + f.group + ": dev (bob) gid 3000):"},
		{0, "{uid: [{inside: 0, outside: 500000, count: 65536}], gid: [{inside: 0, outside: 500000, count: 65536}]}", ""},
		{0, "{uid: [{inside: 0, outside: 500000, count: 65536}], gid: [{inside: 0, outside: 300000, count: 65536}]}", ""},
		{0, "2000:1000", "a.user: runs processes, with no user namespace, as host gids another user holds (" + f.passwd + ": alice's group gid 1000)"},
		{0, "2000:3000", "(" + f.group + ": dev (bob) gid 3000)"},
		{0, "2000:5000", "(" + f.group + ": carols (carol) gid 5000)"},
		{0, "2000:4000", ""},
		{0, "2000:0", ""},
		{1000, "2000:1000", ""}, // the caller's own group
		{1000, "2000:3000", f.group + ": dev (bob) gid 3000"}, // bob's still
		{1002, "2000:5000", ""},                               // carol's, the caller's
	} {
		got := notes(c.sudo, c.idmap)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("sudo %d, %s: notes %q, want one holding %q", c.sudo, c.idmap, got, c.want)
		}
	}
}
