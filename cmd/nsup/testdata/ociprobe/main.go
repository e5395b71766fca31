// Command ociprobe reports, as one JSON object on stdout, what the
// environment it runs in looks like from inside: run as the main process
// of the same environment under nsup apply and under an OCI runtime
// (cmd/nsup/oci_root_test.go), its two reports are compared. Static
// (CGO_ENABLED=0), so that it needs nothing from the rootfs it lands in.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

type report struct {
	Hostname   string            `json:"hostname"`
	Domainname string            `json:"domainname"`
	PID        int               `json:"pid"`
	Status     map[string]string `json:"status"` // Uid, Gid, Groups, Cap*, NoNewPrivs, Seccomp, Umask
	Cwd        string            `json:"cwd"`
	Env        []string          `json:"env"`
	NS         map[string]string `json:"ns"` // type -> "net:[4026531840]"
	Mounts     []string          `json:"mounts"`
	Dev        []string          `json:"dev"`
	LoUp       bool              `json:"loUp"`
	TimeNS     string            `json:"timensOffsets"`
	Cgroup     string            `json:"cgroup"`
	Limits     string            `json:"limits"`
	OOMScore   string            `json:"oomScoreAdj"`
	Errors     []string          `json:"errors,omitempty"`
}

func main() {
	r := report{Status: map[string]string{}, NS: map[string]string{}}
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
			case "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Umask":
				r.Status[k] = strings.Join(strings.Fields(v), " ")
			}
		}
	}
	var err error
	if r.Cwd, err = os.Getwd(); err != nil {
		fail("getwd", err)
	}
	r.Env = os.Environ()
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
	r.OOMScore = strings.TrimSpace(read("/proc/self/oom_score_adj"))
	json.NewEncoder(os.Stdout).Encode(r)
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
