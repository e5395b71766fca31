package seccomp

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary a helper that loads Docker's default
// profile into itself and reports what some syscalls return.
const helperEnv = "NSUP_SECCOMP_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		if err := helper(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper loads the program as the executor will: no_new_privs, then
// seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC) — the Go
// runtime has several threads and the filter must cover them all.
func helper() error {
	runtime.LockOSThread()
	s, err := Default(defaultCaps)
	if err != nil {
		return err
	}
	prog, err := Compile(s, runtime.GOARCH)
	if err != nil {
		return err
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		filter[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", e)
	}
	runtime.KeepAlive(filter)
	session := unix.KEY_SPEC_SESSION_KEYRING
	for _, c := range []struct {
		name string
		nr   uintptr
		args [3]uintptr
	}{
		{"keyctl", unix.SYS_KEYCTL, [3]uintptr{unix.KEYCTL_GET_KEYRING_ID, uintptr(session), 0}},
		{"unshare", unix.SYS_UNSHARE, [3]uintptr{unix.CLONE_NEWUSER}},
		{"getpid", unix.SYS_GETPID, [3]uintptr{}},
		{"socket", unix.SYS_SOCKET, [3]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM, 0}},
		{"personality", unix.SYS_PERSONALITY, [3]uintptr{0x1234}},
		{"clone3", unix.SYS_CLONE3, [3]uintptr{}},
	} {
		_, _, e := unix.RawSyscall(c.nr, c.args[0], c.args[1], c.args[2])
		fmt.Printf("%s=%d\n", c.name, int(e))
	}
	return nil
}

// The kernel accepts the program and enforces it.
func TestKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a seccomp filter in a child process")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	want := fmt.Sprintf("keyctl=%d\nunshare=%d\ngetpid=0\nsocket=%d\npersonality=%d\nclone3=%d\n",
		unix.EPERM, unix.EPERM, unix.EPERM, unix.EPERM, unix.ENOSYS)
	if got := string(out); got != want {
		t.Errorf("helper printed\n%s\nwant\n%s", got, strings.TrimSpace(want))
	}
}
