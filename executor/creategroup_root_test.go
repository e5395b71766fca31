package executor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// team is the accounts a group-write test makes on the host: a group
// dev, bob (its member besides his own private group: the attacker) and
// ann (her private group only: the sudo caller of the safe cases).
type team struct {
	dev, bob, bobGID, ann, annGID uint32
	devName                       string
}

// makeTeam makes the team's accounts with groupadd and useradd, removed
// when the test ends (and first, if a killed run left them).
func makeTeam(t *testing.T) team {
	t.Helper()
	needsChown(t)
	for _, tool := range []string{"groupadd", "groupdel", "useradd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("needs %s", tool)
		}
	}
	const dev, bob, ann = "nsupgw-dev", "nsupgw-bob", "nsupgw-ann"
	cleanup := func() {
		exec.Command("userdel", bob).Run()
		exec.Command("userdel", ann).Run()
		exec.Command("groupdel", dev).Run()
	}
	cleanup()
	t.Cleanup(func() {
		cleanup()
		for _, name := range []string{bob, ann} {
			if exec.Command("id", name).Run() == nil {
				t.Errorf("user %s is left", name)
			}
		}
	})
	for _, argv := range [][]string{
		{"groupadd", dev},
		{"useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", "-G", dev, bob},
		{"useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", ann},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	id := func(flag, name string) uint32 {
		out, err := exec.Command("id", flag, name).Output()
		if err != nil {
			t.Fatalf("id %s %s: %v", flag, name, err)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(n)
	}
	out, err := exec.Command("getent", "group", dev).Output()
	if err != nil {
		t.Fatalf("getent group %s: %v", dev, err)
	}
	g, _ := strconv.ParseUint(strings.Split(string(out), ":")[2], 10, 32)
	return team{dev: uint32(g), devName: dev, bob: id("-u", bob), bobGID: id("-g", bob), ann: id("-u", ann), annGID: id("-g", ann)}
}

// asBob runs argv as bob, with his groups (dev's too) and no capability.
func (tm team) asBob(argv ...string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tm.bob, Gid: tm.bobGID, Groups: []uint32{tm.bobGID, tm.dev}}}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// setACL gives the folder dir an ACL (system.posix_acl_access, as
// setfacl writes it): its mode's owner and other bits, the entries
// named, and mask.
func setACL(t *testing.T, dir string, mask uint16, named ...[3]uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	b := binary.LittleEndian.AppendUint32(nil, 2)
	add := func(tag, perm uint16, id uint32) {
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint16(b, perm)
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	const undefined = ^uint32(0)
	add(0x01, uint16(st.Mode>>6&7), undefined)
	for _, e := range named { // tag, perm, id; users first, as the kernel wants
		if e[0] == 0x02 {
			add(0x02, uint16(e[1]), e[2])
		}
	}
	add(0x04, uint16(st.Mode>>3&7), undefined)
	for _, e := range named {
		if e[0] == 0x08 {
			add(0x08, uint16(e[1]), e[2])
		}
	}
	add(0x10, mask, undefined)
	add(0x20, uint16(st.Mode&7), undefined)
	if err := unix.Setxattr(dir, "system.posix_acl_access", b, 0); err != nil {
		t.Fatalf("setxattr %s: %v", dir, err)
	}
}

// sharedBase is a folder for the test that bob may search (t.TempDir's
// top is 0700), removed when it ends.
func sharedBase(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "nsupgw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return base
}

// folder makes dir with mode (set by chmod: no umask, the set-group-ID
// and sticky bits kept) and group gid.
func folder(t *testing.T, dir string, mode os.FileMode, gid uint32) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 0, int(gid)); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(dir, uint32(mode)); err != nil {
		t.Fatal(err)
	}
}

// TestRootCreateGroupWriteRefused (helper-150): a folder on the way to a
// create: true source that another user may write to through its group
// (2775 of a group dev, whose member bob is) or through its ACL
// (setfacl -m u:bob:rwx, or g:dev:rwx) is one bob may put his own folder
// in: not sticky, he renames the one apply made and makes his in its
// place before the bind (as helper-134's uid did in a 0777 folder);
// sticky, he makes it first (as helper-131's did in /tmp). Only the
// other bit counted: apply made the folder and bob swapped it, or apply
// took bob's. Each is refused now, naming who may write, and nothing is
// made. That bob may write there is checked for real first (as bob:
// mkdir, rmdir).
func TestRootCreateGroupWriteRefused(t *testing.T) {
	tm := makeTeam(t)
	base := sharedBase(t)
	t.Setenv("SUDO_UID", "")
	const (
		user, group = 0x02, 0x08
		rwx, rx     = 7, 5
	)
	for _, c := range []struct {
		name   string
		mode   os.FileMode // unix bits: 0o1000 sticky, 0o2000 set-group-ID
		gid    uint32
		acl    [][3]uint32
		want   string // in the refusal
		planty bool   // bob plants the folder first (sticky)
	}{
		{name: "group, not sticky", mode: 0o2775, gid: tm.dev, want: "group " + tm.devName + " (gid " + strconv.Itoa(int(tm.dev)) + ") may write to, not sticky"},
		{name: "group, sticky, planted", mode: 0o3775, gid: tm.dev, planty: true, want: "which group " + tm.devName},
		{name: "ACL user, not sticky", mode: 0o755, acl: [][3]uint32{{user, rwx, tm.bob}}, want: "uid " + strconv.Itoa(int(tm.bob)) + " (named in its ACL) may write to, not sticky"},
		{name: "ACL group, not sticky", mode: 0o755, acl: [][3]uint32{{group, rwx, tm.dev}}, want: "named in its ACL) may write to, not sticky"},
		{name: "ACL user, sticky, planted", mode: 0o1755, acl: [][3]uint32{{user, rwx, tm.bob}}, planty: true, want: "made by uid " + strconv.Itoa(int(tm.bob))},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(base, strings.ReplaceAll(c.name, " ", "-"))
			folder(t, dir, c.mode, c.gid)
			if c.acl != nil {
				setACL(t, dir, rwx, c.acl...)
			}
			probe := filepath.Join(dir, "probe")
			if err := tm.asBob("mkdir", probe); err != nil {
				t.Fatalf("bob may not write %s: %v", dir, err)
			}
			os.Remove(probe)
			cache := filepath.Join(dir, "cache")
			if c.planty {
				if err := tm.asBob("mkdir", "-m", "0755", cache); err != nil {
					t.Fatalf("bob plants %s: %v", cache, err)
				}
			}
			r := &envRun{}
			err := r.mkdirAll(planner.MkdirAll{Path: filepath.Join(cache, "data"), Mode: 0o755})
			if err == nil {
				// The attack, as it went before: bob swaps the folder
				// apply made for his own, which the bind would take.
				how := "took the folder bob made first"
				if !c.planty {
					if swap := tm.asBob("sh", "-c", "mv "+cache+" "+dir+"/old && mkdir -p "+cache+"/data"); swap != nil {
						how = "made it, and bob could not swap it: " + swap.Error()
					} else {
						how = "made it, and bob swapped it for his own"
					}
				}
				t.Errorf("apply %s in %s (mode %04o)", how, dir, c.mode)
			} else if !strings.Contains(err.Error(), c.want) {
				t.Errorf("refusal %q, want it to say %q", err, c.want)
			} else {
				t.Logf("refused: %v", err)
			}
			r.removeMadeDirs()
			if _, err := os.Lstat(filepath.Join(cache, "data")); err == nil && !c.planty {
				t.Errorf("%s was made", filepath.Join(cache, "data"))
			}
			if c.planty {
				if _, err := os.Lstat(filepath.Join(cache, "data")); err == nil {
					t.Errorf("%s was made in bob's folder", filepath.Join(cache, "data"))
				}
			}
		})
	}
}

// TestRootCreateGroupWriteSafe: what only the owner, root or the caller
// may write is taken as before (helper-150's rule must not refuse a
// team's folder the caller alone writes): 2775 of the sudo caller's own
// private group (umask 002 on Debian and Fedora makes every folder so),
// 0775 of root's group (its only member root), a group dev's folder with
// the sticky bit (bob may add his own there, not take root's), an ACL
// naming bob under a mask without write (chmod g-w: the refusal's way
// out) and one naming the sudo caller. That bob may write to the third
// only is checked for real.
func TestRootCreateGroupWriteSafe(t *testing.T) {
	tm := makeTeam(t)
	base := sharedBase(t)
	t.Setenv("SUDO_UID", strconv.Itoa(int(tm.ann)))
	const (
		user    = 0x02
		rwx, rx = 7, 5
	)
	for _, c := range []struct {
		name    string
		mode    os.FileMode
		gid     uint32
		acl     [][3]uint32
		mask    uint16
		bobMay  bool
		rootHas bool // a folder of root's stands there already
	}{
		{name: "caller's private group", mode: 0o2775, gid: tm.annGID},
		{name: "root's group", mode: 0o775, gid: 0},
		{name: "dev, sticky", mode: 0o3775, gid: tm.dev, bobMay: true, rootHas: true},
		{name: "ACL bob, masked", mode: 0o755, acl: [][3]uint32{{user, rwx, tm.bob}}, mask: rx},
		{name: "ACL the caller", mode: 0o755, acl: [][3]uint32{{user, rwx, tm.ann}}, mask: rwx},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(base, strings.ReplaceAll(c.name, " ", "-"))
			folder(t, dir, c.mode, c.gid)
			if c.acl != nil {
				setACL(t, dir, c.mask, c.acl...)
			}
			probe := filepath.Join(dir, "probe")
			if err := tm.asBob("mkdir", probe); (err == nil) != c.bobMay {
				t.Fatalf("bob mkdir in %s: %v, want it to succeed: %v", dir, err, c.bobMay)
			}
			os.Remove(probe)
			if c.rootHas {
				if err := os.Mkdir(filepath.Join(dir, "cache"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			r := &envRun{}
			if err := r.mkdirAll(planner.MkdirAll{Path: filepath.Join(dir, "cache", "data"), Mode: 0o755}); err != nil {
				t.Errorf("refused: %v", err)
			}
			r.madeDirs = nil // kept: the test's folder goes with it
		})
	}
}
