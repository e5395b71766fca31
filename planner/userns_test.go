package planner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// confinedWeb is an environment whose user namespace maps root to 100000
// (gid as given), with a writable sysfs and /proc/sys (readonly_paths:
// []), allowed there only.
func confinedWeb(root, gidOutside string) string {
	return `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [user, mnt, pid, net]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: ` + gidOutside + `, count: 65536}]}
    security: {readonly_paths: []}
    mounts:
      - {type: proc, target: /proc}
      - {type: sysfs, target: /sys, readonly: false}
    processes: [{name: main, command: [/bin/sh]}]
`
}

// TestUserNSMapsGIDZero: a user namespace that maps root's uid elsewhere
// but gid 0 onto the host's gid 0 confines nothing /proc/sys or kernfs
// check by group (a review opened a sysfs device's remove for writing
// through a writable sysfs so): what it allowed is refused.
func TestUserNSMapsGIDZero(t *testing.T) {
	root := shRoot(t, "/proc", "/sys")
	if _, err := compileLimits(t, confinedWeb(root, "100000"), rootCaller, "hybrid"); err != nil {
		t.Errorf("root and gid 0 mapped to 100000: %v", err)
	}
	_, err := compileLimits(t, confinedWeb(root, "0"), rootCaller, "hybrid")
	for _, want := range []string{
		"environments.web.mounts[1]",
		"a writable sysfs lets root inside change the host's kernel settings",
		"environments.web.security.readonly_paths",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("gid 0 mapped to the host's 0: %v, want %q", err, want)
		}
	}
}

// TestFileMapsNoHostZero: a /proc/PID/uid_map or gid_map confines when
// it has lines, none of them onto the host's 0.
func TestFileMapsNoHostZero(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]bool{
		"         0     100000      65536\n":                                   true,
		"         0          0 4294967295\n":                                   false,
		"         0     100000          1\n         1          0          1\n": false,
		"": false,
	} {
		f := filepath.Join(dir, "map")
		os.WriteFile(f, []byte(text), 0o644)
		if got := fileMapsNoHostZero(f); got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
	if fileMapsNoHostZero(filepath.Join(dir, "none")) {
		t.Error("a map that cannot be read confines")
	}
}

// TestPIDJoinOwnUserNS: a pid namespace that belongs to another
// environment's user namespace is joined from that user namespace only.
// From the host's, root would pass the ptrace check on its processes and
// reach their mounts through /proc/PID/root, allowed for that user
// namespace (a review's b, joining web's pid namespace with a proc of its
// own, wrote the host's core_pattern through web's writable /proc/sys).
func TestPIDJoinOwnUserNS(t *testing.T) {
	root := shRoot(t, "/proc", "/sys")
	joiner := func(web, join string) string {
		return web + `  b:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt]
    join: {` + join + `}
    mounts: [{type: proc, target: /proc}]
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	const want = "environments.b.join.pid: web's pid namespace belongs to its user namespace, not the host's"
	_, err := compileLimits(t, joiner(confinedWeb(root, "100000"), "pid: web"), rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("b joins web's pid namespace only: %v, want %q", err, want)
	}
	if _, err := compileLimits(t, joiner(confinedWeb(root, "100000"), "pid: web, user: web"), rootCaller, "hybrid"); err != nil {
		t.Errorf("b joins web's pid and user namespaces: %v", err)
	}
	// A chain of joins: c's pid namespace is web's.
	chain := joiner(confinedWeb(root, "100000"), "pid: web, user: web") + `  c:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt]
    join: {pid: b}
    processes: [{name: main, command: [/bin/sh]}]
`
	if _, err := compileLimits(t, chain, rootCaller, "hybrid"); err == nil || !strings.Contains(err.Error(), "environments.c.join.pid: b's pid namespace belongs to its user namespace") {
		t.Errorf("c joins b's pid namespace, web's: %v", err)
	}
	// The host's user namespace's: as before.
	host := `version: 1
environments:
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
`
	if _, err := compileLimits(t, joiner(host, "pid: web"), rootCaller, "hybrid"); err != nil {
		t.Errorf("b joins the pid namespace of web, in the host's user namespace: %v", err)
	}
	// Rootless, the join of the user namespace is added.
	if _, err := compileLimits(t, strings.ReplaceAll(joiner(host, "pid: web"), "mounts: [{type: proc, target: /proc}]", "mounts: []"), userCaller, "hybrid"); err != nil {
		t.Errorf("rootless, b joins the pid namespace of web: %v", err)
	}
}

// TestPathJoinOwnUserNS: a mount or pid namespace joined by path that a
// user namespace other than the host's owns (ioctl NS_GET_USERNS) is
// joined from that user namespace only (a review's b, in the host's, wrote
// the host's core_pattern through the writable /proc/sys of the mount
// namespace it joined by /proc/PID/ns/mnt).
func TestPathJoinOwnUserNS(t *testing.T) {
	root := shRoot(t)
	sleeper := exec.Command("sleep", "100")
	sleeper.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	if err := sleeper.Start(); err != nil {
		skipOrFail(t, "no user namespace to join: "+err.Error())
	}
	defer func() {
		sleeper.Process.Kill()
		sleeper.Wait()
	}()
	ns := "/proc/" + strconv.Itoa(sleeper.Process.Pid) + "/ns/"
	joiner := func(namespaces, join string) string {
		return `version: 1
environments:
  b:
    rootfs: {dir: ` + root + `}
    namespaces: [` + namespaces + `]
    join: {` + join + `}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	for _, c := range []struct{ namespaces, join, want string }{
		{"pid", "mnt: " + ns + "mnt", "environments.b.join.mnt: " + ns + "mnt belongs to a user namespace other than the host's"},
		{"mnt", "pid: " + ns + "pid", "environments.b.join.pid: " + ns + "pid belongs to a user namespace other than the host's"},
		{"user, mnt", "pid: " + ns + "pid", "environments.b.join.pid: " + ns + "pid belongs to a user namespace other than the host's: entering it from another user namespace (its own)"},
		{"pid", "mnt: " + ns + "mnt, user: " + ns + "user", ""},
		{"mnt", "pid: " + ns + "pid, user: " + ns + "user", ""},
		{"pid", "mnt: /proc/self/ns/mnt", ""},
		{"mnt", "pid: /proc/self/ns/pid", "environments.b.join.pid: the host's pid namespace: root inside could signal"},
	} {
		_, err := compileLimits(t, joiner(c.namespaces, c.join), rootCaller, "hybrid")
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("namespaces [%s], join {%s}: %v, want %q", c.namespaces, c.join, err, c.want)
		}
	}
	// By name, through an environment that joins them with their user
	// namespace (whose map, as root, maps the host's 0: it confines
	// nothing, and joinedRootfs's check of a confining one is not made).
	via := func(join string) string {
		return joiner("pid", "mnt: "+ns+"mnt, user: "+ns+"user") + `  c:
    rootfs: {dir: ` + root + `}
    namespaces: [pid]
    join: {` + join + `}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	if _, err := compileLimits(t, via("mnt: b"), rootCaller, "hybrid"); err == nil || !strings.Contains(err.Error(), "environments.c.join.mnt: b's m") {
		t.Errorf("c joins b's mount namespace, by path another user namespace's: %v", err)
	}
	if _, err := compileLimits(t, via("mnt: b, user: b"), rootCaller, "hybrid"); err != nil {
		t.Errorf("c joins b's mount and user namespaces: %v", err)
	}
}

// TestPathUserNSMapsGIDZero: a user namespace joined by /proc/PID/ns/user
// confines only if its gid_map, too, has nothing onto the host's 0.
func TestPathUserNSMapsGIDZero(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "maps other than one's own ids need root")
	}
	root := shRoot(t)
	for _, gid := range []int{100000, 0} {
		sleeper := exec.Command("sleep", "100")
		sleeper.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 65536}},
		}
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		_, err := compileLimits(t, `version: 1
environments:
  b:
    rootfs: {dir: `+root+`}
    namespaces: [mnt, pid, net]
    join: {user: /proc/`+strconv.Itoa(sleeper.Process.Pid)+`/ns/user}
    mounts: [{type: sysfs, target: /sys, readonly: false}]
    processes: [{name: main, command: [/bin/sh]}]
`, rootCaller, "hybrid")
		sleeper.Process.Kill()
		sleeper.Wait()
		const want = "a writable sysfs lets root inside change the host's kernel settings"
		if gid == 0 && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("gid 0 mapped to the host's 0: %v, want %q", err, want)
		}
		if gid != 0 && err != nil {
			t.Errorf("gid 0 mapped to 100000: %v", err)
		}
	}
}

// TestPathJoinHostPidNewUser: a pid namespace joined by path that the
// host's user namespace owns, from a user namespace of the environment's
// own, is a plan error naming the fix (apply refused it at the setns:
// TestRootJoinPidNewUserRefused); without one, the stage joins it after
// its root switch.
func TestPathJoinHostPidNewUser(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "a pid namespace of the host's user namespace needs root")
	}
	root := shRoot(t)
	holder := exec.Command("sleep", "100")
	holder.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		holder.Process.Kill()
		holder.Wait()
	}()
	path := "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/pid"
	yaml := func(namespaces string) string {
		return `version: 1
environments:
  b:
    rootfs: {dir: ` + root + `}
    namespaces: [` + namespaces + `]
    join: {pid: ` + path + `}
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	want := "l.yaml:6:17: environments.b.join.pid: " + path + " belongs to the host's user namespace, and the environment makes a user namespace of its own"
	if _, err := compileLimits(t, yaml("user, mnt"), rootCaller, "hybrid"); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "drop user from namespaces") {
		t.Errorf("a new user namespace joins %s: %v, want %q", path, err, want)
	}
	p, err := compileLimits(t, yaml("mnt"), rootCaller, "hybrid")
	if err != nil {
		t.Fatalf("no user namespace joins %s: %v", path, err)
	}
	late := false
	for _, st := range p.Environments[0].Steps {
		if c, ok := st.Op.(Clone); ok && c.Late && st.Stage == Child {
			late = true
		}
		if s, ok := st.Op.(Setns); ok && s.NSType == syscall.CLONE_NEWPID && st.Stage != Child {
			t.Errorf("the pid namespace joined in stage %s, want the child stage's, after its root switch", st.Stage)
		}
	}
	if !late {
		t.Error("no late clone in the child stage")
	}
}
