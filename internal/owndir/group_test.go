package owndir

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPrivateGroup: a group is its owner's private one only where the
// account files show no other member (primary, listed, gshadow's,
// systemd's userdb) and nothing nsup cannot list (LDAP or sssd in
// nsswitch.conf, compat's NIS lines).
func TestPrivateGroup(t *testing.T) {
	base := map[string]string{
		"etc/nsswitch.conf": "passwd: files systemd\ngroup:  files [SUCCESS=merge] systemd # comment\nhosts: files dns\n",
		"etc/passwd":        "root:x:0:0:root:/root:/bin/sh\nann:x:1000:1000::/home/ann:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n",
		"etc/group":         "root:x:0:\nann:x:1000:\nbob:x:1001:\nstaff:x:50:ann\n",
	}
	for _, c := range []struct {
		name     string
		change   map[string]string
		uid, gid uint32
		want     bool
	}{
		{"ann's own group", nil, 1000, 1000, true},
		{"root's own group", nil, 0, 0, true},
		{"ann listed as member only", nil, 1000, 50, true},
		{"bob's group, for ann", nil, 1000, 1001, false},
		{"a gid with no group", nil, 1000, 4242, false},
		{"no nsswitch.conf: files", map[string]string{"etc/nsswitch.conf": ""}, 1000, 1000, true},
		{"bob listed too", map[string]string{"etc/group": "ann:x:1000:bob\n"}, 1000, 1000, false},
		{"bob's primary group too", map[string]string{"etc/passwd": "ann:x:1000:1000::/:/bin/sh\nbob:x:1001:1000::/:/bin/sh\n"}, 1000, 1000, false},
		{"a second group of the gid", map[string]string{"etc/group": "ann:x:1000:\nwheel2:x:1000:\n"}, 1000, 1000, false},
		{"gshadow member", map[string]string{"etc/gshadow": "ann:!::bob\n"}, 1000, 1000, false},
		{"gshadow administrator", map[string]string{"etc/gshadow": "ann:!:bob:\n"}, 1000, 1000, false},
		{"gshadow password", map[string]string{"etc/gshadow": "ann:$6$salt$hash::\n"}, 1000, 1000, false},
		{"gshadow locked", map[string]string{"etc/gshadow": "ann:!::ann\n"}, 1000, 1000, true},
		{"ldap", map[string]string{"etc/nsswitch.conf": "passwd: files\ngroup: files ldap\n"}, 1000, 1000, false},
		{"sss", map[string]string{"etc/nsswitch.conf": "passwd: files sss\ngroup: files\n"}, 1000, 1000, false},
		{"compat NIS line", map[string]string{"etc/nsswitch.conf": "passwd: compat\ngroup: compat\n", "etc/group": "ann:x:1000:\n+:::\n"}, 1000, 1000, false},
		{"userdb membership of bob", map[string]string{"run/userdb/bob:ann.membership": ""}, 1000, 1000, false},
		{"userdb membership of ann", map[string]string{"run/userdb/ann:ann.membership": ""}, 1000, 1000, true},
		{"userdb record of the group", map[string]string{"usr/lib/userdb/1000.group": "{}"}, 1000, 1000, false},
		{"unreadable passwd line", map[string]string{"etc/passwd": "ann:x:1000:1000::/:/bin/sh\nodd:x:zz:1::/:/bin/sh\n"}, 1000, 1000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range c.change {
				files[k] = v
			}
			for k, v := range files {
				if k == "etc/nsswitch.conf" && v == "" {
					continue
				}
				p := filepath.Join(root, k)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := privateGroup(root, c.uid, c.gid); got != c.want {
				t.Errorf("privateGroup(uid %d, gid %d) = %v, want %v", c.uid, c.gid, got, c.want)
			}
		})
	}
}
