package executor

import (
	"fmt"
	"math"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernel is nsup's init's seam to the kernel: one method per call its
// switch makes. linuxKernel makes them; tests record them, so that every
// operation of the init stage goes through the switch without touching
// the host. (The raw stages make their calls from prepared programs,
// raw.go.)
type kernel interface {
	Prctl(option int, arg uint64) error
	SetName(name string) error
	Capset(keep []string) error
	AllThreadsPrctl(option int, arg uint64) error
	Seccomp(flags uint, program []byte) error
	CloseRange(first uint32) error
	Spawn(p *rawProg) (int, error)
}

type linuxKernel struct{}

// SetName is prctl(PR_SET_NAME): the thread's comm. The stage's main
// thread is the process's: ps and /proc/PID/comm show it.
func (linuxKernel) SetName(name string) error {
	b, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(b)), 0, 0, 0)
}

func (linuxKernel) Prctl(option int, arg uint64) error {
	return unix.Prctl(option, uintptr(arg), 0, 0, 0)
}

// capNames are the capabilities nsup knows by name (capabilities(7)).
var capNames = map[string]uint{
	"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE,
	"CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH, "CAP_FOWNER": unix.CAP_FOWNER,
	"CAP_FSETID": unix.CAP_FSETID, "CAP_KILL": unix.CAP_KILL, "CAP_SETGID": unix.CAP_SETGID,
	"CAP_SETUID": unix.CAP_SETUID, "CAP_SETPCAP": unix.CAP_SETPCAP,
	"CAP_LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE, "CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
	"CAP_NET_BROADCAST": unix.CAP_NET_BROADCAST, "CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
	"CAP_NET_RAW": unix.CAP_NET_RAW, "CAP_IPC_LOCK": unix.CAP_IPC_LOCK, "CAP_IPC_OWNER": unix.CAP_IPC_OWNER,
	"CAP_SYS_MODULE": unix.CAP_SYS_MODULE, "CAP_SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"CAP_SYS_CHROOT": unix.CAP_SYS_CHROOT, "CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE,
	"CAP_SYS_PACCT": unix.CAP_SYS_PACCT, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN,
	"CAP_SYS_BOOT": unix.CAP_SYS_BOOT, "CAP_SYS_NICE": unix.CAP_SYS_NICE,
	"CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "CAP_SYS_TIME": unix.CAP_SYS_TIME,
	"CAP_SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG, "CAP_MKNOD": unix.CAP_MKNOD,
	"CAP_LEASE": unix.CAP_LEASE, "CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
	"CAP_AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "CAP_SETFCAP": unix.CAP_SETFCAP,
	"CAP_MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE, "CAP_MAC_ADMIN": unix.CAP_MAC_ADMIN,
	"CAP_SYSLOG": unix.CAP_SYSLOG, "CAP_WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"CAP_BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "CAP_AUDIT_READ": unix.CAP_AUDIT_READ,
	"CAP_PERFMON": unix.CAP_PERFMON, "CAP_BPF": unix.CAP_BPF, "CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// Capset makes keep the permitted and effective capabilities of every
// thread, with nothing inheritable: capabilities are a thread's, and the
// stage (init, after it) starts processes from any of its threads, nsup
// exec's commands among them. The bounding set was reduced by the
// launcher, before the execve every thread inherits it from.
func (linuxKernel) Capset(keep []string) error {
	data, err := capData(keep)
	if err != nil {
		return err
	}
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	runtime.KeepAlive(hdr)
	runtime.KeepAlive(data)
	if e != 0 {
		return e
	}
	return nil
}

// AllThreadsPrctl is prctl(2) on every thread, for a thread's attribute
// (no_new_privs).
func (linuxKernel) AllThreadsPrctl(option int, arg uint64) error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, uintptr(option), uintptr(arg), 0); e != 0 {
		return e
	}
	return nil
}

// Seccomp installs the program on every thread (the flags have
// SECCOMP_FILTER_FLAG_TSYNC): seccomp(2) SECCOMP_SET_MODE_FILTER. With
// TSYNC, a thread that cannot take the filter makes it return that
// thread's id.
func (linuxKernel) Seccomp(flags uint, program []byte) error {
	prog, err := sockFprog(program)
	if err != nil {
		return err
	}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(prog)))
	runtime.KeepAlive(prog)
	switch {
	case e != 0:
		return e
	case r != 0:
		return fmt.Errorf("thread %d could not take the filter: %w", r, unix.ESRCH)
	}
	return nil
}

// CloseRange marks fds first and up close-on-exec (CLOSE_RANGE_CLOEXEC),
// so that init keeps what it still needs and no process it starts
// inherits them.
func (linuxKernel) CloseRange(first uint32) error {
	return unix.CloseRange(uint(first), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
}

// Spawn starts one process inside the environment (spawn.go).
func (linuxKernel) Spawn(p *rawProg) (int, error) { return spawn(p) }
