package executor_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestRootHostIPCRefused: an environment that shares the host's IPC
// namespace (no ipc in its namespaces) reaches none of the host's SysV
// shared memory nor its POSIX message queues. Root inside is their
// owner for root's (uid 0), and anyone's with SETUID; before the filter
// refused the calls there, the probe attached a root-owned 0600 segment
// and opened a root-owned 0600 queue of the host's.
func TestRootHostIPCRefused(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	key := 0x6e5000 + os.Getpid()%0x1000
	id, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	mq := "nsup-test-" + strconv.Itoa(os.Getpid())
	name, _ := unix.BytePtrFromString(mq)
	fd, _, e := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(name)), unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600, 0, 0, 0)
	if e != 0 {
		t.Fatal(e)
	}
	unix.Close(int(fd))
	defer unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(name)), 0, 0)

	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	args := `"shmget:` + strconv.Itoa(key) + `", "mq_open:/` + mq + `"`
	for _, c := range []struct {
		ns, want string
	}{
		{"mnt, pid", "EPERM"},       // the host's IPC namespace
		{"mnt, pid, ipc", "ENOENT"}, // its own: the host's are not there
	} {
		p := compile(t, dir, `version: 1
environments:
  ipc:
    rootfs: {dir: ./rootfs}
    namespaces: [`+c.ns+`]
    processes:
      - {name: main, command: [/probe, `+args+`]}
`)
		if host := !strings.Contains(c.ns, "ipc"); host != strings.Contains(planText(p), "with the host's SysV IPC and message queues refused") {
			t.Errorf("%s: the plan's filter:\n%s", c.ns, planText(p))
		}
		res := probeResults(runOK(t, p))
		for _, k := range []string{"shmget", "mq_open"} {
			if res[k] != c.want {
				t.Errorf("namespaces [%s]: %s of the host's: %s, want %s", c.ns, k, res[k], c.want)
			}
		}
	}
}

// TestRootHostIPCUserNSRefused: the same from a user namespace that maps
// root to 100000, for a segment and a queue of uid 100000 (a host
// process's, or another environment's of the same range; a rootless
// environment's are its user's own, an X server's MIT-SHM images of the
// user's windows among them). The kernel checks them by uid only: before
// the filter refused the calls in a user namespace too, the probe
// attached the 0600 segment and opened the 0600 queue, `unconfined` as
// well (a review of the twelfth stop's fixes).
func TestRootHostIPCUserNSRefused(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	key := 0x6e6000 + os.Getpid()%0x1000
	id, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	desc := unix.SysvShmDesc{}
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc); err != nil {
		t.Fatal(err)
	}
	desc.Perm.Uid, desc.Perm.Gid = 100000, 100000
	if _, err := unix.SysvShmCtl(id, unix.IPC_SET, &desc); err != nil {
		t.Fatal(err)
	}
	mq := "nsup-test-userns-" + strconv.Itoa(os.Getpid())
	name, _ := unix.BytePtrFromString(mq)
	fd, _, e := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(name)), unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600, 0, 0, 0)
	if e != 0 {
		t.Fatal(e)
	}
	defer unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(name)), 0, 0)
	err = unix.Fchown(int(fd), 100000, 100000)
	unix.Close(int(fd))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	args := `"shmget:` + strconv.Itoa(key) + `", "mq_open:/` + mq + `"`
	for _, sec := range []string{"", "\n    security: {seccomp: unconfined}"} {
		p := compile(t, dir, `version: 1
environments:
  ipc:
    rootfs: {dir: ./rootfs}
    namespaces: [user, mnt, pid, net]
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]`+sec+`
    processes:
      - {name: main, command: [/probe, `+args+`]}
`)
		if !strings.Contains(planText(p), "with the host's SysV IPC and message queues refused") {
			t.Errorf("%q: the plan's filter:\n%s", sec, planText(p))
		}
		res := probeResults(runOK(t, p))
		for _, k := range []string{"shmget", "mq_open"} {
			if res[k] != "EPERM" {
				t.Errorf("%q: %s of the host's, of uid 100000: %s, want EPERM", sec, k, res[k])
			}
		}
	}
}
