package executor

import (
	"fmt"
	"strings"
	"syscall"
	"unsafe"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// pidnsKey is proc's option of the pid namespace it shows.
var pidnsKey = [...]byte{'p', 'i', 'd', 'n', 's', 0}

// mode0700Conf is the options of the overlay's scratch tmpfs.
var mode0700Conf = []*byte{&modeKey[0], &mode0700[0]}

// fsconfigPairs splits a held filesystem's data (Mount.Data,
// "mode=755,size=65536k") into the options fsconfig(2) sets one by one,
// as mount(2) parses them: a key and its value, or a key and nil for a
// flag. Only a tmpfs's data is taken (the dev's): its options are plain
// key=value, with no comma or escape inside a value.
func fsconfigPairs(op planner.Mount) ([]*byte, error) {
	if op.Data == "" {
		return nil, nil
	}
	if op.FSType != "tmpfs" {
		return nil, fmt.Errorf("%s: only a tmpfs's data is set by fsconfig: %w", planner.FormatOp(op), unix.EINVAL)
	}
	var out []*byte
	for _, kv := range strings.Split(op.Data, ",") {
		k, v, isValue := strings.Cut(kv, "=")
		if k == "" || k == "source" {
			return nil, fmt.Errorf("%s: option %q: %w", planner.FormatOp(op), kv, unix.EINVAL)
		}
		ck, err := cstr(k)
		if err != nil {
			return nil, err
		}
		var cv *byte
		if isValue {
			if cv, err = cstr(v); err != nil {
				return nil, err
			}
		}
		out = append(out, ck, cv)
	}
	return out, nil
}

// rawFsmount makes a detached filesystem of type fstype (fsopen,
// fsmount), its source source where not nil, its options conf (pairs of
// a key and a value, nil for a flag: fsconfigPairs), with the mount
// attributes attr, and returns its mount's fd: filled through that fd
// and moved where it goes (move_mount), it is mounted nowhere by a path.
//
//go:norace
//go:nosplit
func rawFsmount(p *rawProg, op *rawOp, fstype, source *byte, conf []*byte, attr, pidns uintptr) uintptr {
	fs, _, e := syscall.RawSyscall(unix.SYS_FSOPEN, uintptr(unsafe.Pointer(fstype)), unix.FSOPEN_CLOEXEC, 0)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	if source != nil {
		// mount(2)'s source: what the mount table shows ("proc", not
		// "none"), as a mount of it by mount(2) would.
		if _, _, e := syscall.RawSyscall6(unix.SYS_FSCONFIG, fs, unix.FSCONFIG_SET_STRING, uintptr(unsafe.Pointer(&sourceKey[0])), uintptr(unsafe.Pointer(source)), 0, 0); e != 0 {
			rawFailed(p, op.step, partCall, e)
		}
	}
	for i := 0; i+1 < len(conf); i += 2 {
		k, v := rawAt(conf, i), rawAt(conf, i+1)
		cmd := uintptr(unix.FSCONFIG_SET_STRING)
		if v == nil {
			cmd = unix.FSCONFIG_SET_FLAG
		}
		if _, _, e := syscall.RawSyscall6(unix.SYS_FSCONFIG, fs, cmd, uintptr(unsafe.Pointer(k)), uintptr(unsafe.Pointer(v)), 0, 0); e != 0 {
			rawFailed(p, op.step, partCall, e)
		}
	}
	if pidns != ^uintptr(0) {
		// proc of that pid namespace, not of this process's (fs/proc/root.c).
		if _, _, e := syscall.RawSyscall6(unix.SYS_FSCONFIG, fs, unix.FSCONFIG_SET_FD, uintptr(unsafe.Pointer(&pidnsKey[0])), 0, pidns, 0); e != 0 {
			rawFailed(p, op.step, partCall, e)
		}
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_FSCONFIG, fs, unix.FSCONFIG_CMD_CREATE, 0, 0, 0, 0); e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	mnt, _, e := syscall.RawSyscall(unix.SYS_FSMOUNT, fs, unix.FSMOUNT_CLOEXEC, attr)
	if e != 0 {
		rawFailed(p, op.step, partCall, e)
	}
	rawClose(fs)
	return mnt
}
