// Command ociprobe reports, as one JSON object on stdout, what the
// environment it runs in looks like from inside: run as the main process
// of the same environment under nsup apply and under an OCI runtime
// (cmd/nsup/oci_root_test.go), its two reports are compared. Static
// (CGO_ENABLED=0), so that it needs nothing from the rootfs it lands in.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

type report struct {
	Hostname   string            `json:"hostname"`
	Domainname string            `json:"domainname"`
	PID        int               `json:"pid"`
	Status     map[string]string `json:"status"` // Uid, Gid, Groups, Cap*, NoNewPrivs, Seccomp, Seccomp_filters, Umask
	Cwd        string            `json:"cwd"`
	Env        []string          `json:"env"`
	NS         map[string]string `json:"ns"` // type -> "net:[4026531840]"
	Mounts     []string          `json:"mounts"`
	Dev        []string          `json:"dev"`
	LoUp       bool              `json:"loUp"`
	TimeNS     string            `json:"timensOffsets"`
	Cgroup     string            `json:"cgroup"`
	Limits     string            `json:"limits"`
	// StartLimits are the limits the probe was started with: the Go
	// runtime raises its own soft RLIMIT_NOFILE at start (package
	// syscall), so that Limits shows the raised one.
	StartLimits string `json:"startLimits"`
	OOMScore    string `json:"oomScoreAdj"`
	// Syscalls is what a few system calls the default seccomp profile
	// denies return: "ok" or the errno's name.
	Syscalls map[string]string `json:"syscalls"`
	// Confined says, for each path a spec of the comparison masks or
	// makes read-only, what reading it gives and whether it may be
	// written: "read=empty write=EROFS".
	Confined map[string]string `json:"confined"`
	// Identity are /etc/passwd and /etc/group as the probe reads them
	// ("" when missing).
	Identity map[string]string `json:"identity"`
	Errors   []string          `json:"errors,omitempty"`
}

// confinedPaths are the paths looked at: Docker's (and nsup's) default
// masked and read-only paths, under /proc, /sys and /sys2 (the second
// sysfs of planner/oci/testdata/specs/all.yaml), and those
// cmd/nsup/testdata/oci/security.yaml names.
var confinedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	// procfs refuses to write its folders (EACCES, whatever the mount):
	// a file under /proc/sys says whether /proc/sys is read-only.
	"/proc/sys/kernel/domainname",
	"/sys2/firmware", "/sys2/devices/virtual/powercap",
	"/proc/uptime", "/sys/kernel", "/etc/profile.json", "/scratch", "/data",
}

func main() {
	r := report{Status: map[string]string{}, NS: map[string]string{}, Syscalls: map[string]string{}, Confined: map[string]string{}}
	fail := func(what string, err error) { r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", what, err)) }
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		fail("uname", err)
	}
	r.Hostname, r.Domainname = unix.ByteSliceToString(u.Nodename[:]), unix.ByteSliceToString(u.Domainname[:])
	r.PID = os.Getpid()
	if b, err := os.ReadFile("/proc/self/status"); err != nil {
		fail("status", err)
	} else {
		for _, l := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(l, ":")
			switch k {
			case "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters", "Umask":
				r.Status[k] = strings.Join(strings.Fields(v), " ")
			}
		}
	}
	var err error
	if r.Cwd, err = os.Getwd(); err != nil {
		fail("getwd", err)
	}
	r.Env = os.Environ()
	r.Identity = map[string]string{}
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		b, _ := os.ReadFile(f)
		r.Identity[f] = string(b)
	}
	for _, t := range []string{"mnt", "pid", "net", "ipc", "uts", "cgroup", "user", "time"} {
		if l, err := os.Readlink("/proc/self/ns/" + t); err != nil {
			fail("ns", err)
		} else {
			r.NS[t] = l
		}
	}
	r.Mounts, err = mounts()
	if err != nil {
		fail("mountinfo", err)
	}
	r.Dev = dev()
	if lo, err := net.InterfaceByName("lo"); err != nil {
		fail("lo", err)
	} else {
		r.LoUp = lo.Flags&net.FlagUp != 0
	}
	r.TimeNS = read("/proc/self/timens_offsets")
	r.Cgroup = read("/proc/self/cgroup")
	r.Limits = read("/proc/self/limits")
	if r.StartLimits, err = startLimits(); err != nil {
		fail("start limits", err)
	}
	r.OOMScore = strings.TrimSpace(read("/proc/self/oom_score_adj"))
	for _, p := range confinedPaths {
		r.Confined[p] = "read=" + readable(p) + " write=" + writable(p)
	}
	// Neither changes anything: the session keyring's id is looked up, not
	// made (create is 0); a Go process has several threads, so that the
	// kernel refuses a new user namespace (EINVAL) where the filter does
	// not (EPERM).
	session := unix.KEY_SPEC_SESSION_KEYRING
	_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(session), 0)
	r.Syscalls["keyctl(KEYCTL_GET_KEYRING_ID)"] = errnoName(e)
	_, _, e = unix.Syscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	r.Syscalls["unshare(CLONE_NEWUSER)"] = errnoName(e)
	json.NewEncoder(os.Stdout).Encode(r)
}

func errnoName(e unix.Errno) string {
	if e == 0 {
		return "ok"
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return e.Error()
}

func errName(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		return errnoName(e)
	}
	return err.Error()
}

// readable says what reading p gives: "empty", "data" (a byte, or a
// folder entry), or the errno.
func readable(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return errName(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return errName(err)
	}
	if st.IsDir() {
		names, err := f.Readdirnames(1)
		switch {
		case len(names) > 0:
			return "data"
		case err == io.EOF:
			return "empty"
		}
		return errName(err)
	}
	var b [1]byte
	n, err := f.Read(b[:])
	switch {
	case n > 0:
		return "data"
	case err == io.EOF:
		return "empty"
	}
	return errName(err)
}

// writable says whether p may be written, without writing:
// access(2) W_OK gives EROFS on a read-only mount.
func writable(p string) string {
	if err := unix.Access(p, unix.W_OK); err != nil {
		return errName(err)
	}
	return "ok"
}

// startLimits are the resource limits the probe was started with. The Go
// runtime gives the processes it starts its original soft RLIMIT_NOFILE
// back: a copy of the probe, stopped by ptrace at its execve before any of
// its code runs, has them, and is killed once they are read.
func startLimits() (string, error) {
	runtime.LockOSThread() // the tracer is this thread
	defer runtime.UnlockOSThread()
	p, err := os.StartProcess("/proc/self/exe", []string{"ociprobe (stopped)"}, &os.ProcAttr{Sys: &syscall.SysProcAttr{Ptrace: true}})
	if err != nil {
		return "", err
	}
	defer func() {
		p.Kill()
		p.Wait()
	}()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", p.Pid))
	return string(b), err
}

func read(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(b)
}

// mounts lists /proc/self/mountinfo as "TARGET FSTYPE SOURCE OPTIONS
// SUPER-OPTIONS PROPAGATION" (proc(5)): mount ids and device numbers,
// which differ from run to run, are left out.
func mounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		sep := -1
		for i, x := range fs {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(fs) < sep+4 {
			return nil, fmt.Errorf("bad line %q", sc.Text())
		}
		prop := "private"
		for _, o := range fs[6:sep] {
			switch {
			case strings.HasPrefix(o, "shared:"):
				prop = "shared"
			case strings.HasPrefix(o, "master:"):
				prop = "slave"
			case o == "unbindable":
				prop = "unbindable"
			}
		}
		out = append(out, strings.Join([]string{fs[4], fs[sep+1], fs[sep+2], fs[5], fs[sep+3], prop}, " "))
	}
	return out, sc.Err()
}

// dev lists /dev: each entry's name, type and mode, a link's target, a
// device's numbers.
func dev() []string {
	ents, err := os.ReadDir("/dev")
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	var out []string
	for _, e := range ents {
		p := filepath.Join("/dev", e.Name())
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			out = append(out, e.Name()+" error: "+err.Error())
			continue
		}
		s := fmt.Sprintf("%s %o", e.Name(), st.Mode)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			s += " -> " + l
		case unix.S_IFCHR, unix.S_IFBLK:
			s += fmt.Sprintf(" %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
