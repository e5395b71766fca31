package owndir

// A folder writable by its group is its owner's alone when the group is
// the owner's private group (a user private group, which useradd makes
// on Debian and Fedora, where umask 002 then makes every new folder
// group-writable): the owner is its only member. Debian's OpenSSH takes
// the same rule for StrictModes (user-group-modes.patch).

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userdbDirs are where systemd's userdb reads group records and
// memberships (nss-systemd adds them to a group's members).
var userdbDirs = []string{"etc/userdb", "run/userdb", "run/host/userdb", "usr/local/lib/userdb", "usr/lib/userdb"}

// privateGroup says whether gid's only member is uid, from the files
// below root ("/" but in tests): no other user has gid as its primary
// group (passwd), the group lists no other user (group, and gshadow when
// it can be read, whose members may newgrp into it, as may whoever knows
// a password it sets), and uid is a member. Where the accounts come from
// elsewhere than files and systemd (nsswitch.conf: LDAP, sssd), whose
// members nsup cannot list, it is false.
func privateGroup(root string, uid, gid uint32) bool {
	if !filesOnly(filepath.Join(root, "etc/nsswitch.conf")) {
		return false
	}
	user, primaryOf := "", false
	others := false
	ok := eachLine(filepath.Join(root, "etc/passwd"), func(f []string) {
		if compat(f) {
			others = true
			return
		}
		if len(f) < 4 {
			return
		}
		u, errU := strconv.ParseUint(f[2], 10, 32)
		g, errG := strconv.ParseUint(f[3], 10, 32)
		switch {
		case errU != nil || errG != nil:
			others = true // a line nsup cannot read: it may be anyone's
		case uint32(u) == uid:
			if user == "" {
				user = f[0]
			}
			if uint32(g) == gid {
				primaryOf = true
			}
		case uint32(g) == gid:
			others = true
		}
	})
	if !ok || others || user == "" {
		return false
	}
	name, member := "", primaryOf
	members := func(list string) {
		for _, m := range strings.Split(list, ",") {
			switch m {
			case "":
			case user:
				member = true
			default:
				others = true
			}
		}
	}
	if !eachLine(filepath.Join(root, "etc/group"), func(f []string) {
		if compat(f) {
			others = true
			return
		}
		if len(f) < 4 {
			return
		}
		if g, err := strconv.ParseUint(f[2], 10, 32); err != nil || uint32(g) == gid {
			if err != nil {
				others = true
				return
			}
			if name != "" && name != f[0] {
				others = true // two groups of one gid
			}
			name = f[0]
			members(f[3])
		}
	}) || name == "" {
		return false
	}
	// gshadow, readable by root only: its members, and a password (one
	// not locked: "!" or "*") lets whoever knows it in.
	eachLine(filepath.Join(root, "etc/gshadow"), func(f []string) {
		if len(f) < 4 || f[0] != name {
			return
		}
		if f[1] != "" && !strings.HasPrefix(f[1], "!") && !strings.HasPrefix(f[1], "*") {
			others = true
		}
		members(f[2]) // its administrators may add members
		members(f[3])
	})
	for _, d := range userdbDirs {
		ents, _ := os.ReadDir(filepath.Join(root, d))
		for _, e := range ents {
			n := e.Name()
			if n == name+".group" || n == strconv.FormatUint(uint64(gid), 10)+".group" ||
				strings.HasSuffix(n, ":"+name+".membership") && n != user+":"+name+".membership" {
				others = true
			}
		}
	}
	return member && !others
}

// filesOnly says whether nsswitch.conf (missing: glibc's default, files)
// takes passwd and group from files (or compat) and systemd alone.
func filesOnly(conf string) bool {
	found := true
	b, err := os.ReadFile(conf)
	if err != nil {
		return os.IsNotExist(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		l, _, _ = strings.Cut(l, "#")
		db, srcs, ok := strings.Cut(l, ":")
		if db = strings.TrimSpace(db); !ok || db != "passwd" && db != "group" {
			continue
		}
		for _, s := range strings.Fields(srcs) {
			switch {
			case strings.HasPrefix(s, "["), strings.HasSuffix(s, "]"):
				// An action ([NOTFOUND=return]).
			case s != "files" && s != "compat" && s != "systemd":
				found = false
			}
		}
	}
	return found
}

// compat says whether the fields f are a line of compat mode's (+NAME,
// -NAME, +@NETGROUP: NIS's accounts), which nsup cannot list.
func compat(f []string) bool {
	return strings.HasPrefix(f[0], "+") || strings.HasPrefix(f[0], "-")
}

// eachLine calls f with the colon-separated fields of each line of file
// but comments, and says whether file was read.
func eachLine(file string, f func([]string)) bool {
	fh, err := os.Open(file)
	if err != nil {
		return false
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f(strings.Split(l, ":"))
	}
	return sc.Err() == nil
}
