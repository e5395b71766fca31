package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nsup/nsup/spec"
)

// subIDFiles writes a passwd, subuid and subgid file (and no
// nsswitch.conf) for readSubIDs.
func subIDFiles(t *testing.T, passwd, subuid, subgid string) hostFiles {
	t.Helper()
	dir := t.TempDir()
	f := hostFiles{filepath.Join(dir, "passwd"), filepath.Join(dir, "subuid"), filepath.Join(dir, "subgid"), filepath.Join(dir, "nsswitch.conf"), filepath.Join(dir, "group")}
	for p, b := range map[string]string{f.passwd: passwd, f.subuid: subuid, f.subgid: subgid} {
		if b == "-" {
			continue // missing
		}
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestSubIDsRead: the caller's lines are those newuidmap takes (shadow
// 4.13's find_range): its login name's, its uid in digits, another login
// name of its uid; numbers as strtoul reads them; a NIS line or one of
// too few fields is skipped.
func TestSubIDsRead(t *testing.T) {
	f := subIDFiles(t, "root:x:0:0::/root:/bin/sh\ndev:x:1000:1000::/home/dev:/bin/sh\nalias:x:1000:1000::/:/bin/sh\nother:x:1001:1001::/:/bin/sh\n",
		"other:100000:10\n1000:200000:10\ndev:100500:500\nalias:300000:5\n+dev:400000:10\ndev:500000\n1001:600000:10\ndev:0x70000:010:extra\n dev:800000:1\ndev: 900000:2\n",
		"1000:100000:65536\n")
	c := Caller{UID: 1000, GID: 1000}
	c.readSubIDs(f)
	if c.Name != "dev" {
		t.Errorf("name %q, want dev", c.Name)
	}
	want := []IDRange{{100500, 500}, {0x70000, 8}, {900000, 2}, {200000, 10}, {100500, 500}, {300000, 5}, {0x70000, 8}, {900000, 2}}
	if d := cmp.Diff(want, c.SubUIDs); d != "" || c.SubUIDErr != nil {
		t.Errorf("subuid (-want +got):\n%s%v", d, c.SubUIDErr)
	}
	if d := cmp.Diff([]IDRange{{100000, 65536}}, c.SubGIDs); d != "" {
		t.Errorf("subgid (-want +got):\n%s", d)
	}

	// A uid without a login name: newuidmap fails, nothing is its.
	c = Caller{UID: 1234}
	c.readSubIDs(f)
	if c.Name != "" || len(c.SubUIDs) != 0 {
		t.Errorf("no login name: %q %v", c.Name, c.SubUIDs)
	}

	// A missing file is said, as nsswitch's subid module.
	f = subIDFiles(t, "dev:x:1000:1000::/:/bin/sh\n", "-", "dev:1:2\n")
	os.WriteFile(f.nsswitch, []byte("passwd: files\n# subid: sss\nSUBID:\tsss files\n"), 0o644)
	c = Caller{UID: 1000}
	c.readSubIDs(f)
	if !os.IsNotExist(c.SubUIDErr) || c.SubIDModule != "sss" {
		t.Errorf("missing subuid: %v, module %q", c.SubUIDErr, c.SubIDModule)
	}
	// A symbolic link newuidmap does not open (O_NOFOLLOW).
	os.Rename(f.subgid, f.subgid+".real")
	os.Symlink(f.subgid+".real", f.subgid)
	c.readSubIDs(f)
	if subIDsMissing(c.SubGIDErr) != "is a symbolic link (the helper opens it O_NOFOLLOW)" || len(c.SubGIDs) != 0 {
		t.Errorf("linked subgid: %v %v", c.SubGIDErr, c.SubGIDs)
	}
}

// TestSubIDsGranted: shadow's have_range, a range over lines that follow
// or overlap one another included.
func TestSubIDsGranted(t *testing.T) {
	lines := []IDRange{{100000, 500}, {100400, 200}, {100600, 400}, {200000, 10}, {0, 0}}
	for _, c := range []struct {
		start, count uint64
		want         bool
	}{
		{100000, 1000, true},
		{100000, 1001, false},
		{100499, 2, true},
		{99999, 2, false},
		{200000, 10, true},
		{200005, 6, false},
		{100000, 0, false},
	} {
		if got := granted(lines[:4], c.start, c.count); got != c.want {
			t.Errorf("granted(%d, %d) = %v, want %v", c.start, c.count, got, c.want)
		}
	}
	// A line 0:0 is shadow's wrap: its last id is ULONG_MAX.
	if !granted(lines, 5, 10) {
		t.Error("0:0 does not grant all, as shadow's arithmetic does")
	}
	for s, want := range map[string]uint64{"10": 10, "0x10": 16, "010": 8, " +7": 7, "0": 0, "-1": 1<<64 - 1} {
		if got, ok := strtoul(s); !ok || got != want {
			t.Errorf("strtoul(%q) = %d %v, want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "x", "0x", "08", "1_000", "10 ", "0b1", "18446744073709551616"} {
		if got, ok := strtoul(s); ok {
			t.Errorf("strtoul(%q) = %d, want refused", s, got)
		}
	}
}

// TestRootlessIDMapGrants: the plan refuses a range newuidmap or
// newgidmap would refuse, naming the file and the caller's grants, and
// plans one it takes: over several lines, by uid, by another name of the
// caller's uid. Helper-115's finding: the plan refused a range over two
// lines, and took a missing /etc/subuid for no grant.
func TestRootlessIDMapGrants(t *testing.T) {
	src := func(uid, gid string) string {
		return `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt, pid]
    idmap:
      uid: [{inside: 0, outside: 1000, count: 1}, ` + uid + `]
      gid: [` + gid + `]
    processes:
      - {name: main, command: [/bin/sh]}
`
	}
	passwd := "dev:x:1000:1000::/home/dev:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n"
	subuid := "dev:100000:500\n1000:100500:300\nalias:100800:200\n"
	for _, tc := range []struct {
		name, subuid, subgid, uid, gid string
		want                           []string
		note                           string
	}{{
		name: "over-lines", subuid: subuid, subgid: "dev:100000:65536\n",
		uid: "{inside: 1, outside: 100000, count: 1000}", gid: "{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 1000}",
	}, {
		name: "beyond", subuid: subuid, subgid: "other:100000:65536\n",
		uid: "{inside: 1, outside: 100000, count: 1001}", gid: "{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 10}",
		want: []string{
			"t.yaml:7:51: environments.a.idmap.uid[1]: host uids 100000-101000 are not dev's to map: /etc/subuid grants it only 100000-100499, 100500-100799, 100800-100999 (newuidmap checks it)",
			"t.yaml:8:51: environments.a.idmap.gid[1]: host gids 100000-100009 are not dev's to map: /etc/subgid grants it none (newgidmap checks it)",
		},
	}, {
		name: "missing", subuid: "-", subgid: "dev:100000:65536\n",
		uid: "{inside: 1, outside: 100000, count: 10}", gid: "{inside: 0, outside: 1000, count: 1}",
		want: []string{"t.yaml:7:51: environments.a.idmap.uid[1]: host uids 100000-100009 are not dev's to map: /etc/subuid is missing, and newuidmap refuses every map without it"},
	}, {
		name: "unreadable", subuid: "0600", subgid: "dev:100000:65536\n",
		uid: "{inside: 1, outside: 100000, count: 10}", gid: "{inside: 0, outside: 1000, count: 1}",
		note: "environments.a.idmap.uid: open SUBUID: permission denied: the ranges are not checked here, newuidmap (setuid root) checks them at apply",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			sub := tc.subuid
			if sub == "0600" {
				sub = subuid
			}
			f := subIDFiles(t, passwd, sub, tc.subgid)
			caller := userCaller
			caller.readSubIDs(f)
			if tc.subuid == "0600" {
				// As a user who may not read it (root may: the error
				// stands for the one a user gets).
				caller.SubUIDs, caller.SubUIDErr = nil, &os.PathError{Op: "open", Path: f.subuid, Err: os.ErrPermission}
			}
			s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(src(tc.uid, tc.gid)))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(s, fixedOptions(Options{Caller: &caller}))
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), f.subuid, "SUBUID")
			}
			if d := cmp.Diff(strings.Join(tc.want, "\n"), got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			if tc.note != "" && !strings.Contains(strings.ReplaceAll(strings.Join(p.Environments[0].Notes, "\n"), f.subuid, "SUBUID"), tc.note) {
				t.Errorf("no note %q in %q", tc.note, p.Environments[0].Notes)
			}
		})
	}
}

// TestRootlessIDMapNSSUser: a caller with no line in /etc/passwd whom
// nsswitch.conf's passwd: finds elsewhere (sssd, LDAP, systemd-homed)
// has a login name for newuidmap all the same, and its "UID:FIRST:COUNT"
// line of /etc/subuid grants it its range: the plan notes that it does
// not check the ranges, and plans. Helper-120's finding: since
// helper-115's change the plan refused the map ("grants it none"),
// which it planned before and newuidmap maps. With passwd: files only,
// such a caller is still one newuidmap fails (refused).
func TestRootlessIDMapNSSUser(t *testing.T) {
	src := `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt, pid]
    idmap:
      uid: [{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 1000, count: 1}, {inside: 1, outside: 100000, count: 65536}]
    processes:
      - {name: main, command: [/bin/sh]}
`
	for _, tc := range []struct {
		name, nsswitch, want, note string
	}{{
		name: "sss", nsswitch: "group: files sss\npasswd:   files [NOTFOUND=continue] sss # ldap\n",
		note: "environments.a.idmap.uid: uid 1000 has no line in PASSWD, and nsswitch.conf's passwd: names sss (which newuidmap asks for its login name, and nsup does not read): the ranges are not checked here, newuidmap (setuid root) checks them at apply",
	}, {
		name: "files", nsswitch: "passwd: files\n",
		want: "t.yaml:7:51: environments.a.idmap.uid[1]: host uids 100000-165535 are not uid 1000's to map: /etc/subuid grants it none (newuidmap checks it)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := subIDFiles(t, "other:x:1001:1001::/:/bin/sh\n", "1000:100000:65536\n", "1000:100000:65536\n")
			if err := os.WriteFile(f.nsswitch, []byte(tc.nsswitch), 0o644); err != nil {
				t.Fatal(err)
			}
			caller := userCaller
			caller.Name = ""
			caller.readSubIDs(f)
			s, err := spec.ParseBytes("t.yaml", t.TempDir(), []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(s, fixedOptions(Options{Caller: &caller}))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if !strings.HasPrefix(got, tc.want) || tc.want == "" && got != "" {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if tc.note != "" && !strings.Contains(strings.ReplaceAll(strings.Join(p.Environments[0].Notes, "\n"), f.passwd, "PASSWD"), tc.note) {
				t.Errorf("no note %q in %q", tc.note, p.Environments[0].Notes)
			}
		})
	}
}

// TestSubIDsCRLF: a line ending "\r\n" is none of the caller's, as
// newuidmap reads it (commonio cuts the "\n" only; strtoul of
// "65536\r" leaves "\r", which getulong refuses). Helper-120's finding:
// bufio.ScanLines dropped the "\r", and the plan took the grant that
// newuidmap refuses at apply.
func TestSubIDsCRLF(t *testing.T) {
	f := subIDFiles(t, "dev:x:1000:1000::/:/bin/sh\n", "dev:100000:65536\r\ndev:200000:10\n1000:300000:5", "dev:100000:65536\r\n")
	c := Caller{UID: 1000, GID: 1000}
	c.readSubIDs(f)
	if d := cmp.Diff([]IDRange{{200000, 10}, {200000, 10}, {300000, 5}}, c.SubUIDs); d != "" || c.SubUIDErr != nil {
		t.Errorf("subuid (-want +got):\n%s%v", d, c.SubUIDErr)
	}
	if len(c.SubGIDs) != 0 || c.SubGIDErr != nil {
		t.Errorf("subgid of a CRLF line: %v %v, want none", c.SubGIDs, c.SubGIDErr)
	}
}
