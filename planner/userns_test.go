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
	root := shRoot(t)
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

// TestPathUserNSMapsGIDZero: a user namespace joined by /proc/PID/ns/user
// confines only if its gid_map, too, has nothing onto the host's 0.
func TestPathUserNSMapsGIDZero(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("maps other than one's own ids need root")
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
