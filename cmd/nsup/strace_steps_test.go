package main

import (
	"encoding/binary"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nsup/nsup/planner"
)

// The strace test's matchers of the steps whose arguments are not paths
// of mounts: the working folder (chdir), the links (symlinkat), the
// namespaces joined (setns), the programs started (execve, their
// environment), the seccomp filter. Each checks what the plan says, as
// far as strace (-v: arrays and structures in full) prints it.

// chdirStep is a Chdir step: fchdir(2) of the root's handle (the child
// stage's chdir to the root before pivot_root: its clone moved onto
// itself, or the root opened without a symlink after its last mount), or
// of the folder opened at Path with O_DIRECTORY and no magic link (a
// working folder; "/" after the root switch). Never chdir(2) of a path.
func chdirStep(st planner.Step, op planner.Chdir, fds *fdState) func(event) bool {
	return func(e event) bool {
		a := splitArgs(e.args)
		if e.name != "fchdir" || !succeeded(e) || len(a) != 1 {
			return false
		}
		o := fds.fd(e.pid, a[0])
		if st.Stage == planner.Child && op.Path != "/" {
			return fds.rootHandle(e.pid, o, op.Path)
		}
		return o != nil && o.kind == fdHost && o.where == path.Clean(op.Path) &&
			strings.Contains(o.how, "O_DIRECTORY") && strings.Contains(o.how, "RESOLVE_NO_MAGICLINKS")
	}
}

// goExecChdir is the chdir("/") Go's os/exec makes in a child it starts
// with Dir "/" before its execve: a holder's, a keeper's and pasta's
// (executor/pod.go, pasta.go, keeper.go), part of their steps.
func goExecChdir(e event) bool {
	return e.name == "chdir" && succeeded(e) && e.args == `"/"`
}

// goExecSetsid is the setsid Go's os/exec makes in a child it starts in
// a session of its own (Setsid), before its chdir: a holder's and
// pasta's keeper's.
func goExecSetsid(e event) bool {
	return e.name == "setsid" && e.args == "" && childPid(e.ret) > 0
}

// setgroupsStep is a Setgroups step: setgroups(N, [GID, ...]), an empty
// list NULL.
func setgroupsStep(op planner.Setgroups) func(event) bool {
	var gs []string
	for _, g := range op.Groups {
		gs = append(gs, strconv.FormatUint(uint64(g), 10))
	}
	list := "[" + strings.Join(gs, ", ") + "]"
	if len(gs) == 0 {
		list = "NULL"
	}
	return func(e event) bool {
		return e.name == "setgroups" && succeeded(e) && e.args == strconv.Itoa(len(gs))+", "+list
	}
}

// idStep is setresgid or setresuid (name) of id, real, effective and
// saved alike.
func idStep(name string, id uint32) func(event) bool {
	n := strconv.FormatUint(uint64(id), 10)
	return func(e event) bool { return e.name == name && succeeded(e) && e.args == n+", "+n+", "+n }
}

// symlinkStep is a Symlink step: symlinkat(Target, FD, NAME), NAME the
// link's last element, FD its folder resolved from the root's handle, or
// beneath the held mount's fd (Beneath).
func symlinkStep(op planner.Symlink, fds *fdState) func(event) bool {
	dir, name := path.Split(path.Clean(op.Link))
	return func(e event) bool {
		a := splitArgs(e.args)
		return e.name == "symlinkat" && succeeded(e) && len(a) == 3 && a[0] == q(op.Target) && a[2] == q(name) &&
			fds.inRoot(e.pid, fds.fd(e.pid, a[1]), op.Root, dir, op.Beneath)
	}
}

// treeLink says whether e, a symlinkat of nsup's host threads, is one of
// a rootfs tree's being built into the cache (a Rootfs step's, made in a
// folder beside its Path, Path.tmp-N, renamed once complete): of a
// closure, one of its symlink Files, by its target, folder and name; of
// a tar, any link in that folder (the plan does not list a tar's files).
func treeLink(p *planner.Plan, fds *fdState, e event) bool {
	a := splitArgs(e.args)
	if e.name != "symlinkat" || !succeeded(e) || len(a) != 3 {
		return false
	}
	d := fds.fd(e.pid, a[1])
	if d == nil || d.kind != fdPath || !d.scoped || d.anchor.kind != fdHost {
		return false
	}
	for _, env := range p.Environments {
		for _, st := range env.Steps {
			r, ok := st.Op.(planner.Rootfs)
			if !ok || r.Path == "" || !strings.HasPrefix(d.anchor.where, path.Clean(r.Path)+".tmp-") {
				continue
			}
			if r.Type == "tar" {
				return true
			}
			for _, f := range r.Files {
				if f.Type == "symlink" && a[0] == q(f.Link) && path.Join("/", d.rel) == path.Dir(path.Join("/", f.Path)) && a[2] == q(path.Base(f.Path)) {
					return true
				}
			}
		}
	}
	return false
}

// nsPath is the namespace file a Setns step's fd must have been opened
// from: its Path; for a join by name, the joined environment's child's
// /proc/PID/ns file ("$ENV" its pid); for a pod's, its holder's; "" if
// that process is not known (yet).
func nsPath(op planner.Setns, fds *fdState) string {
	switch {
	case op.Pod != "":
		pid := fds.born["pod:"+op.Pod]
		if pid <= 0 {
			return ""
		}
		return "/proc/" + strconv.Itoa(pid) + "/ns/" + path.Base(op.Path)
	case op.Env != "":
		pid := fds.born["env:"+op.Env]
		if pid <= 0 || !strings.Contains(op.Path, "$"+op.Env) {
			return ""
		}
		return strings.Replace(op.Path, "$"+op.Env, strconv.Itoa(pid), 1)
	}
	return path.Clean(op.Path)
}

// setnsStep is a Setns step: setns(FD, NSTYPE), FD the namespace file the
// step names, opened on the host (or a copy of that fd).
func setnsStep(op planner.Setns, fds *fdState) func(event) bool {
	return func(e event) bool {
		a := splitArgs(e.args)
		if e.name != "setns" || !succeeded(e) || len(a) != 2 || !sameFlags(a[1], op.NSType) {
			return false
		}
		o, want := fds.fd(e.pid, a[0]), nsPath(op, fds)
		return want != "" && o != nil && o.kind == fdHost && o.where == want
	}
}

// strArray is a list of strings as strace -v prints argv and envp.
func strArray(ss []string) string {
	var qs []string
	for _, s := range ss {
		qs = append(qs, q(s))
	}
	return "[" + strings.Join(qs, ", ") + "]"
}

// withEnv is m that also wants envp (argument n of the call) to be env,
// in order.
func withEnv(m func(event) bool, n int, env []string) func(event) bool {
	return func(e event) bool {
		a := splitArgs(e.args)
		return m(e) && len(a) > n && a[n] == strArray(env)
	}
}

// seccompStep is a Seccomp step: seccomp(SECCOMP_SET_MODE_FILTER, Flags,
// PROG), PROG the plan's Program, instruction by instruction.
func seccompStep(op planner.Seccomp) func(event) bool {
	return func(e event) bool {
		a := splitArgs(e.args)
		if e.name != "seccomp" || !succeeded(e) || len(a) != 3 || a[0] != "SECCOMP_SET_MODE_FILTER" || !sameFlags(a[1], op.Flags) {
			return false
		}
		prog, ok := parseFilter(a[2])
		return ok && string(prog) == string(op.Program)
	}
}

// bpfNames are the names strace -v prints in a classic BPF program's
// instructions (linux/bpf_common.h, linux/filter.h, linux/seccomp.h).
var bpfNames = map[string]uint32{
	"BPF_LD": 0x00, "BPF_LDX": 0x01, "BPF_ST": 0x02, "BPF_STX": 0x03, "BPF_ALU": 0x04, "BPF_JMP": 0x05, "BPF_RET": 0x06, "BPF_MISC": 0x07,
	"BPF_W": 0x00, "BPF_H": 0x08, "BPF_B": 0x10,
	"BPF_IMM": 0x00, "BPF_ABS": 0x20, "BPF_IND": 0x40, "BPF_MEM": 0x60, "BPF_LEN": 0x80, "BPF_MSH": 0xa0,
	"BPF_ADD": 0x00, "BPF_SUB": 0x10, "BPF_MUL": 0x20, "BPF_DIV": 0x30, "BPF_OR": 0x40, "BPF_AND": 0x50,
	"BPF_LSH": 0x60, "BPF_RSH": 0x70, "BPF_NEG": 0x80, "BPF_MOD": 0x90, "BPF_XOR": 0xa0,
	"BPF_JA": 0x00, "BPF_JEQ": 0x10, "BPF_JGT": 0x20, "BPF_JGE": 0x30, "BPF_JSET": 0x40,
	"BPF_K": 0x00, "BPF_X": 0x08, "BPF_A": 0x10, "BPF_TAX": 0x00, "BPF_TXA": 0x80,
	"SECCOMP_RET_KILL_PROCESS": 0x80000000, "SECCOMP_RET_KILL_THREAD": 0, "SECCOMP_RET_TRAP": 0x00030000,
	"SECCOMP_RET_ERRNO": 0x00050000, "SECCOMP_RET_USER_NOTIF": 0x7fc00000, "SECCOMP_RET_TRACE": 0x7ff00000,
	"SECCOMP_RET_LOG": 0x7ffc0000, "SECCOMP_RET_ALLOW": 0x7fff0000,
}

// bpfValue is a value strace prints as names and numbers joined by "|".
func bpfValue(s string) (uint32, bool) {
	var v uint32
	for _, t := range strings.Split(s, "|") {
		t = strings.TrimSpace(t)
		if n, err := strconv.ParseUint(t, 0, 32); err == nil {
			v |= uint32(n)
		} else if n, ok := bpfNames[t]; ok {
			v |= n
		} else {
			return 0, false
		}
	}
	return v, true
}

// parseFilter reads strace -v's {len=N, filter=[BPF_STMT(CODE, K),
// BPF_JUMP(CODE, K, JT, JF), ...]} back into the program's bytes (struct
// sock_filter, little-endian as on the machines nsup runs on), false if
// it is not printed in full.
func parseFilter(s string) ([]byte, bool) {
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, false
	}
	f := splitArgs(s[1 : len(s)-1])
	if len(f) != 2 || !strings.HasPrefix(f[0], "len=") || !strings.HasPrefix(f[1], "filter=[") || !strings.HasSuffix(f[1], "]") {
		return nil, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(f[0], "len="))
	if err != nil {
		return nil, false
	}
	var out []byte
	for _, ins := range splitArgs(strings.TrimSuffix(strings.TrimPrefix(f[1], "filter=["), "]")) {
		name, args, ok := strings.Cut(ins, "(")
		if !ok || !strings.HasSuffix(args, ")") {
			return nil, false
		}
		a := splitArgs(strings.TrimSuffix(args, ")"))
		var v [4]uint32
		switch {
		case name == "BPF_STMT" && len(a) == 2, name == "BPF_JUMP" && len(a) == 4:
		default:
			return nil, false
		}
		for i, x := range a {
			if v[i], ok = bpfValue(x); !ok {
				return nil, false
			}
		}
		code, k := v[0], v[1]
		jt, jf := v[2], v[3]
		if code > 0xffff || jt > 0xff || jf > 0xff {
			return nil, false
		}
		out = binary.LittleEndian.AppendUint16(out, uint16(code))
		out = append(out, byte(jt), byte(jf))
		out = binary.LittleEndian.AppendUint32(out, k)
	}
	return out, len(out) == 8*n
}

// alterSteps are, for a real trace evs of plan p, altered copies of it,
// one argument changed each, by what was changed: the fd of the first
// fchdir (the next fd); the last symlinkat's target (of a Symlink step); each execve's and
// execveat's environment of the plan's Execve steps (a variable added);
// two setns calls' fds swapped (of two types, joined by one process); an
// instruction of each seccomp filter (an ALLOW made LOG, or else its
// length); the first capset that leaves nothing inheritable (a Capset
// step's, CAP_SYS_ADMIN added); the first prlimit64 that sets a limit
// (its soft limit one less); the first write of a CgroupWrite's value (a
// "0" more). want lists what the plan has of these and
// must be altered.
func alterSteps(p *planner.Plan, evs []event) (alts map[string][]event, want []string) {
	alts = map[string][]event{}
	var limits []string // the values CgroupWrite steps write, quoted
	alter := func(why string, i int, args []string) {
		out := append([]event(nil), evs...)
		out[i].args = strings.Join(args, ", ")
		alts[why] = out
	}
	addVar := func(arr string) string {
		if arr == "[]" {
			return `["LD_PRELOAD=/tmp/x.so"]`
		}
		return strings.TrimSuffix(arr, "]") + `, "LD_PRELOAD=/tmp/x.so"]`
	}
	for _, env := range p.Environments {
		setns := 0
		for _, st := range env.Steps {
			switch op := st.Op.(type) {
			case planner.Chdir:
				want = append(want, "fchdir")
			case planner.Symlink:
				want = append(want, "symlinkat")
			case planner.Seccomp:
				want = append(want, "seccomp")
			case planner.Capset:
				want = append(want, "capset")
			case planner.Prlimit:
				want = append(want, "prlimit64")
			case planner.CgroupWrite:
				want = append(want, "write")
				limits = append(limits, q(op.Value))
			case planner.Setns:
				if setns++; setns == 2 {
					want = append(want, "setns")
				}
			case planner.Execve:
				why := "execve env " + strArray(op.Argv)
				m := execMatch(op.Path, op.Argv)
				if op.ByFD {
					why, m = "execveat env "+strArray(op.Argv), execatMatch(op.Argv)
				}
				want = append(want, why)
				for i, e := range evs {
					if _, done := alts[why]; !done && m(e) {
						a := splitArgs(e.args)
						n := 2
						if op.ByFD {
							n = 3
						}
						a[n] = addVar(a[n])
						alter(why, i, a)
					}
				}
			}
		}
	}
	setnsAt := map[int]int{} // the first setns of each process
	idmaps := mapAlterations(p)
	want = append(want, idmaps.want...)
	for i, e := range evs {
		a := splitArgs(e.args)
		idmaps.alter(alts, evs, i)
		switch _, done := alts[e.name]; {
		case done:
		case e.name == "fchdir" && len(a) == 1:
			n, _ := strconv.Atoi(a[0])
			alter(e.name, i, []string{strconv.Itoa(n + 1)})
		case e.name == "symlinkat" && len(a) == 3 && slices.Contains(want, e.name):
			// The last: a Symlink step's, after the links of a tree
			// built (a tar's are not the plan's to check).
			for k := len(evs) - 1; k > i; k-- {
				if evs[k].name == e.name {
					i, a = k, splitArgs(evs[k].args)
					break
				}
			}
			a[0] = q("/proc/self/root")
			alter(e.name, i, a)
		case e.name == "capset" && strings.Contains(e.args, "inheritable=0}"):
			// A Capset step's: CAP_SYS_ADMIN kept too.
			alter(e.name, i, []string{strings.Replace(e.args, "{effective=", "{effective=1<<CAP_SYS_ADMIN|", 1)})
		case e.name == "prlimit64" && len(a) == 4 && a[3] == "NULL" && slices.Contains(want, e.name):
			// A Prlimit step's (or nsup's runtime's own, which is then
			// not what it found): its soft limit one less.
			if soft, hard, ok := rlimit(a[2]); ok && soft > 0 && soft != planner.RlimInfinity {
				a[2] = fmt.Sprintf("{rlim_cur=%d, rlim_max=%d}", soft-1, hard)
				if hard == planner.RlimInfinity {
					a[2] = fmt.Sprintf("{rlim_cur=%d, rlim_max=RLIM64_INFINITY}", soft-1)
				}
				alter(e.name, i, a)
			}
		case e.name == "write" && len(a) == 3 && slices.Contains(limits, a[1]):
			// A CgroupWrite's value written: one more character.
			n, _ := strconv.Atoi(a[2])
			a[1], a[2] = strings.TrimSuffix(a[1], `"`)+`0"`, strconv.Itoa(n+1)
			out := append([]event(nil), evs...)
			out[i].args, out[i].ret = strings.Join(a, ", "), a[2]
			alts[e.name] = out
		case e.name == "seccomp" && len(a) == 3:
			if strings.Contains(a[2], "SECCOMP_RET_ALLOW") {
				a[2] = strings.Replace(a[2], "SECCOMP_RET_ALLOW", "SECCOMP_RET_LOG", 1)
			} else {
				a[2] = strings.Replace(a[2], "{len=", "{len=1", 1)
			}
			alter(e.name, i, a)
		case e.name == "setns" && len(a) == 2:
			j, ok := setnsAt[e.pid]
			if !ok {
				setnsAt[e.pid] = i
				break
			}
			b := splitArgs(evs[j].args)
			if b[0] == a[0] || b[1] == a[1] {
				break
			}
			out := append([]event(nil), evs...)
			out[i].args = b[0] + ", " + a[1]
			out[j].args = a[0] + ", " + b[1]
			alts[e.name] = out
		}
	}
	return alts, want
}

var cgroupFdRe = regexp.MustCompile(`, cgroup=(\d+)\}`)

// intoCgroup says whether clone e puts the child in the Clone step's
// group as planned: clone3 with CLONE_INTO_CGROUP and the fd of the
// group's folder ($NSUP nsup's pid), opened on the host; none without
// one. (clone(2), where a filter of the host's refuses clone3, cannot:
// the launcher puts the child in by a write, which is not traced.)
func intoCgroup(e event, op planner.Clone, fds *fdState) bool {
	into := strings.Contains(e.args, "CLONE_INTO_CGROUP")
	if op.Cgroup == "" || e.name == "clone" {
		return !into
	}
	m := cgroupFdRe.FindStringSubmatch(e.args)
	if !into || m == nil {
		return false
	}
	o := fds.fd(e.pid, m[1])
	return o != nil && o.kind == fdHost && o.where == strings.ReplaceAll(op.Cgroup, planner.NsupPid, strconv.Itoa(fds.nsup))
}
