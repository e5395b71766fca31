package planner

// Namespace files joined by path: looked at once per plan, and named in
// the plan by what they were then, so that apply joins the namespace the
// plan was judged on and no other.

import (
	"os"

	"github.com/nsup/nsup/internal/regfile"

	"golang.org/x/sys/unix"
)

// NSIdentity is a namespace's identity as its file shows it: the inode
// number of the namespace (what readlink(2) of /proc/PID/ns/TYPE shows
// as TYPE:[INODE]) and of the user namespace that owns it (ioctl(2)
// NS_GET_USERNS; 0 where that is outside the caller's user namespace,
// or for the caller's first user namespace, which has no owner). Every
// namespace file is on the one nsfs, so the inode numbers name them.
type NSIdentity struct {
	NS    uint64 `json:"ns,omitempty"`
	Owner uint64 `json:"owner,omitempty"`
}

// IdentifyNS is the identity of the namespace file open as fd.
func IdentifyNS(fd int) (NSIdentity, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return NSIdentity{}, err
	}
	id := NSIdentity{NS: st.Ino}
	owner, err := unix.IoctlRetInt(fd, unix.NS_GET_USERNS)
	switch {
	case err == unix.EPERM:
		return id, nil // outside the caller's user namespace
	case err != nil:
		return NSIdentity{}, err // not a namespace file
	}
	defer os.NewFile(uintptr(owner), "owner").Close()
	if err := unix.Fstat(owner, &st); err != nil {
		return NSIdentity{}, err
	}
	id.Owner = st.Ino
	return id, nil
}

// nsFile is what the plan learnt of a namespace file joined by path.
type nsFile struct {
	opened bool // it could be opened (else apply cannot either)
	err    error
	id     NSIdentity
	nstype CloneFlags // ioctl(2) NS_GET_NSTYPE
}

// known: the file was opened and is a namespace's.
func (f nsFile) known() bool { return f.opened && f.err == nil }

// nsFile opens path once per plan and says what it is: every check of a
// join by path (whose namespace it is, who owns it, whether it is nsup's
// own) is made on that one look, and the plan's Setns carries its
// identity, which apply checks on the file it opens. Looked at again, a
// /proc/PID path could name another process's namespace by then (the
// PID reused).
func (ec *envCompiler) nsFile(path string) nsFile {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if f, ok := ec.nsFiles[path]; ok {
		return f
	}
	f := openNSFile(path)
	if ec.nsFiles == nil {
		ec.nsFiles = map[string]nsFile{}
	}
	ec.nsFiles[path] = f
	return f
}

// ErrNotNS is OpenNS's refusal of what is not a namespace file.
var ErrNotNS = regfile.ErrNotNS

// OpenNS opens the namespace file at path for reading, and nothing else
// (regfile.OpenNS): a join's path is the spec's, and a FIFO named there
// (/proc/self/cwd/fifo, the caller's folder a repository) blocked nsup
// plan for good, a device was opened, root's under sudo (a watchdog arms
// on its open). The plan and apply open it so.
func OpenNS(path string) (*os.File, error) { return regfile.OpenNS(path) }

func openNSFile(path string) nsFile {
	file, err := OpenNS(path)
	if err != nil {
		return nsFile{err: err}
	}
	defer file.Close()
	fd := int(file.Fd())
	id, err := IdentifyNS(fd)
	f := nsFile{opened: true, err: err, id: id}
	if err == nil {
		t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
		f.nstype, f.err = CloneFlags(t), err
	}
	return f
}

// selfNS is the inode of nsup's own namespace of type t (a user
// namespace's is that of the host's, for the owner checks); 0 if unknown.
func selfNS(t string) uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/"+t, &st) != nil {
		return 0
	}
	return st.Ino
}
