package main

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The strace matcher checks the working folder, the links, the programs'
// environments, the namespaces joined, the group a child is born in,
// landlock's ruleset, the confinement (prctl, capset, prlimit64), the
// writes of cgroup files and id maps, and the seccomp filter against the
// plan (no root needed): a synthetic trace, in strace -v's format and of
// the executor's calls, of nsup's own calls (its runtime's start, its
// soft RLIMIT_NOFILE raised, the runtime monitor's slack raised and a
// thread it made), db (its closure tree's link, its pids limit, born in
// its group, its root bound onto itself, a link made in it, landlock,
// the bounding set, no_new_privs, not dumpable, the chdirs around
// pivot_root, init by fd and its capabilities on its two threads, its
// filter, a process with its limit, ids and parent-death signal in
// /srv), web (a forked copy joining db's user and pid namespaces by name
// and a network namespace by path, its child root in db's user
// namespace), cache (a pod's holder started and confining itself on its
// two threads, its network namespace joined, pasta started by its
// keeper) and users (a new user namespace, setgroups denied, its maps).
// It matches its plan; with any one of those arguments changed, a call
// left out or added, or a step made by another process than its
// stage's, it does not.

func bpf(code uint16, jt, jf uint8, k uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, code)
	return binary.LittleEndian.AppendUint32(append(b, jt, jf), k)
}

var stepPlan = &planner.Plan{Environments: []planner.Env{
	{Name: "db", Steps: []planner.Step{
		{Stage: planner.Host, Op: planner.Rootfs{Type: "closure", Path: matchRoot, Files: []planner.File{
			{Path: "/usr/bin", Type: "dir"}, {Path: "/bin", Type: "symlink", Link: "usr/bin"}}}},
		{Stage: planner.Host, Op: planner.CgroupWrite{Path: "/sys/fs/cgroup/pids/nsup/db." + planner.NsupPid + "/pids.max", Value: "64"}},
		{Stage: planner.Host, Op: planner.CgroupJoin{Path: "/sys/fs/cgroup/pids/nsup/db." + planner.NsupPid}},
		{Stage: planner.Host, Op: planner.Clone{Flags: unix.CLONE_NEWNS | unix.CLONE_NEWPID, Cgroup: "/sys/fs/cgroup/nsup/db." + planner.NsupPid}},
		{Stage: planner.Host, Op: planner.CgroupJoin{Path: "/sys/fs/cgroup/pids"}},
		{Stage: planner.Child, Op: planner.Mount{Source: matchRoot, Target: matchRoot, Flags: unix.MS_BIND | unix.MS_REC}},
		{Stage: planner.Child, Op: planner.Symlink{Target: "/proc/self/fd", Link: "/dev/fd", Root: matchRoot}},
		{Stage: planner.Child, Op: planner.Landlock{Scoped: 1}},
		{Stage: planner.Child, Op: planner.InheritCaps{}},
		{Stage: planner.Child, Op: planner.CapbsetDrop{Keep: stepKeep}},
		{Stage: planner.Child, Op: planner.Prctl{Option: unix.PR_SET_NO_NEW_PRIVS, Arg: 1}},
		{Stage: planner.Child, Op: planner.Setgroups{}},
		{Stage: planner.Child, Op: planner.Setsid{}},
		{Stage: planner.Child, Op: planner.Prctl{Option: unix.PR_SET_DUMPABLE, Arg: 0}},
		{Stage: planner.Child, Op: planner.Chdir{Path: matchRoot}},
		{Stage: planner.Child, Op: planner.PivotRoot{NewRoot: ".", PutOld: "."}},
		{Stage: planner.Child, Op: planner.Umount2{Target: ".", Flags: unix.MNT_DETACH}},
		{Stage: planner.Child, Op: planner.Chdir{Path: "/"}},
		{Stage: planner.Child, Op: planner.Execve{Path: "/proc/self/exe", Argv: planner.InitArgv, Env: []string{}, ByFD: true}},
		{Stage: planner.Init, Op: planner.Prctl{Option: unix.PR_SET_DUMPABLE, Arg: 0}},
		{Stage: planner.Init, Op: planner.Capset{Keep: []string{"CAP_KILL", "CAP_CHOWN"}}},
		{Stage: planner.Init, Op: planner.Prctl{Option: unix.PR_SET_NAME, Name: "nsup-init"}},
		{Stage: planner.Init, Op: planner.Seccomp{Flags: unix.SECCOMP_FILTER_FLAG_TSYNC, Program: append(append(append(
			bpf(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, 0, 4),
			bpf(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 1, 0xc000003e)...),
			bpf(unix.BPF_RET|unix.BPF_K, 0, 0, unix.SECCOMP_RET_ALLOW)...),
			bpf(unix.BPF_RET|unix.BPF_K, 0, 0, unix.SECCOMP_RET_ERRNO|1)...)}},
		{Stage: planner.Init, Op: planner.Spawn{Process: "main", Main: true}},
		{Stage: planner.Proc, Op: planner.Prlimit{Resource: unix.RLIMIT_NOFILE, Soft: 1024, Hard: 4096}},
		{Stage: planner.Proc, Op: planner.Setresgid{GID: 0}},
		{Stage: planner.Proc, Op: planner.Setresuid{UID: 1000}},
		{Stage: planner.Proc, Op: planner.Prctl{Option: unix.PR_SET_PDEATHSIG, Arg: 9}},
		{Stage: planner.Proc, Op: planner.Chdir{Path: "/srv"}},
		{Stage: planner.Proc, Op: planner.Execve{Path: "/bin/sh", Argv: []string{"/bin/sh", "-c", "true"}, Env: []string{"PATH=/bin", "HOME=/root"}}},
		{Stage: planner.Init, Op: planner.Prctl{Option: unix.PR_SET_PDEATHSIG, Arg: 0}},
	}},
	{Name: "web", Steps: []planner.Step{
		{Stage: planner.Host, Op: planner.Fork{}},
		{Stage: planner.Forked, Op: planner.Setns{Env: "db", Path: "/proc/$db/ns/user", NSType: unix.CLONE_NEWUSER}},
		{Stage: planner.Forked, Op: planner.Setns{Env: "db", Path: "/proc/$db/ns/pid", NSType: unix.CLONE_NEWPID}},
		{Stage: planner.Forked, Op: planner.Setns{Path: "/run/netns/blue", NSType: unix.CLONE_NEWNET}},
		{Stage: planner.Forked, Op: planner.Clone{Flags: unix.CLONE_NEWNS | unix.CLONE_PARENT, UserRoot: true, DropGroups: true}},
	}},
	{Name: "cache", Steps: []planner.Step{
		{Stage: planner.Host, Op: planner.Hold{Pod: "cache", Types: unix.CLONE_NEWNET, Record: "/run/nsup/p/cache.json"}},
		{Stage: planner.Host, Op: planner.Setns{Pod: "cache", Path: "/proc/$pod:cache/ns/net", NSType: unix.CLONE_NEWNET}},
		{Stage: planner.Host, Op: planner.Clone{Flags: unix.CLONE_NEWNS}},
		{Stage: planner.Host, Op: planner.Pasta{Program: "/usr/bin/pasta", Args: []string{"--config-net"}}},
	}},
	{Name: "users", Steps: []planner.Step{
		{Stage: planner.Host, Op: planner.Clone{Flags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS, UserRoot: true}},
		{Stage: planner.Host, Op: planner.DenySetgroups{}},
		{Stage: planner.Host, Op: planner.UIDMap{Lines: []planner.IDMapLine{{Inside: 0, Outside: 1000, Count: 1}}}},
		{Stage: planner.Host, Op: planner.GIDMap{Lines: []planner.IDMapLine{{Inside: 0, Outside: 1000, Count: 1}}}},
	}},
}}

// stepKeep are the capabilities db keeps: all but CAP_NET_RAW and
// CAP_SYS_ADMIN, whichever the kernel's last is (not read here: the
// test binary serves as nsup's helpers, which must open nothing when the
// package starts).
var stepKeep = func() []string {
	var keep []string
	for c := 0; c < 64; c++ {
		if c != unix.CAP_NET_RAW && c != unix.CAP_SYS_ADMIN {
			keep = append(keep, capName(c))
		}
	}
	return keep
}()

// stepTraceText is the trace: nsup's own calls first (its runtime's
// start, the monitor's slack raised, a thread the monitor made), then
// the steps, and the holder's confinement on its two threads.
var stepTraceText = stepTraceSteps + holderTrace()

func holderTrace() string {
	var b strings.Builder
	for _, tid := range []string{"300", "303"} {
		b.WriteString(tid + " prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0\n")
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if c == unix.CAP_SYS_PTRACE {
			continue
		}
		for _, tid := range []string{"300", "303"} {
			b.WriteString(tid + " prctl(PR_CAPBSET_DROP, " + capName(c) + ") = 0\n")
		}
	}
	for _, tid := range []string{"300", "303"} {
		b.WriteString(tid + " capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_SYS_PTRACE, permitted=1<<CAP_SYS_PTRACE, inheritable=0}) = 0\n")
	}
	return b.String()
}

const stepTraceSteps = `100 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 262144, " Go: immortal metadata") = -1 EINVAL (Invalid argument)
100 prlimit64(0, RLIMIT_NOFILE, NULL, {rlim_cur=1024, rlim_max=4096}) = 0
100 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=4095, rlim_max=4096}, NULL) = 0
100 clone(child_stack=0x7f0000000000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, tls=0x7f0000000000) = 110
100 prctl(PR_GET_TIMERSLACK) = 50000
100 openat(AT_FDCWD, "/proc/110/timerslack_ns", O_WRONLY|O_CLOEXEC) = 11
100 write(11, "10000000", 8) = 8
100 close(11) = 0
100 write(1, "nsup: apply\n", 12) = 12
110 clone(child_stack=0x7f0000000000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, tls=0x7f0000000000) = 111
100 prctl(PR_SET_TIMERSLACK, 50000) = 0
100 prctl(PR_CAPBSET_READ, CAP_CHOWN) = 1
100 openat(AT_FDCWD, "/c/root.tmp-1", O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY) = 3
100 openat2(3, ".", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 4
100 symlinkat("usr/bin", 4, "bin") = 0
100 close(4) = 0
100 close(3) = 0
100 openat(AT_FDCWD, "/run/netns/blue", O_RDONLY|O_CLOEXEC|O_NOCTTY) = 7
100 openat(AT_FDCWD, "/proc/self/exe", O_RDONLY|O_CLOEXEC|O_PATH) = 5
100 openat(AT_FDCWD, "/sys/fs/cgroup/nsup/db.100", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = 9
100 openat(AT_FDCWD, "/sys/fs/cgroup/pids/nsup/db.100/pids.max", O_WRONLY|O_CLOEXEC) = 12
100 write(12, "64", 2) = 2
100 close(12) = 0
100 openat(AT_FDCWD, "/sys/fs/cgroup/pids/nsup/db.100/tasks", O_WRONLY|O_CLOEXEC) = 12
100 write(12, "0", 1) = 1
100 close(12) = 0
100 prctl(PR_GET_DUMPABLE) = 1 (SUID_DUMP_USER)
100 clone3({flags=CLONE_NEWNS|CLONE_NEWPID|CLONE_INTO_CGROUP, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x10000, cgroup=9}, 88) = 101
101 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
101 openat2(AT_FDCWD, "/c/root", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS}, 24) = 3
101 open_tree(3, "", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH|AT_RECURSIVE) = 4
101 move_mount(4, "", 3, "", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH) = 0
101 close(3) = 0
101 openat2(4, "dev", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 3
101 symlinkat("/proc/self/fd", 3, "fd") = 0
101 close(3) = 0
101 landlock_create_ruleset({handled_access_fs=0, ...}, 24, 0) = 3
101 landlock_restrict_self(3, 0) = 0
101 close(3) = 0
100 openat(AT_FDCWD, "/sys/fs/cgroup/pids/tasks", O_WRONLY|O_CLOEXEC) = 12
100 write(12, "0", 1) = 1
100 close(12) = 0
101 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|1<<CAP_KILL|1<<CAP_SYS_ADMIN, permitted=1<<CAP_CHOWN|1<<CAP_KILL|1<<CAP_SYS_ADMIN, inheritable=1<<CAP_CHOWN|1<<CAP_KILL|1<<CAP_SYS_ADMIN}) = 0
101 prctl(PR_CAPBSET_DROP, CAP_NET_RAW) = 0
101 prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0
101 prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0
101 setgroups(0, NULL) = 0
101 setsid() = 1
101 prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE) = 0
101 fchdir(4) = 0
101 pivot_root(".", ".") = 0
101 umount2(".", MNT_DETACH) = 0
101 openat2(AT_FDCWD, "/", {flags=O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY, resolve=RESOLVE_NO_MAGICLINKS}, 24) = 3
101 fchdir(3) = 0
101 close(3) = 0
100 openat(AT_FDCWD, "/proc/101/ns/user", O_RDONLY|O_CLOEXEC|O_NOCTTY) = 10
100 openat(AT_FDCWD, "/proc/101/ns/pid", O_RDONLY|O_CLOEXEC|O_NOCTTY) = 6
100 clone(child_stack=NULL, flags=SIGCHLD) = 200
200 setns(10, CLONE_NEWUSER) = 0
200 setns(6, CLONE_NEWPID) = 0
200 setns(7, CLONE_NEWNET) = 0
200 clone3({flags=CLONE_PARENT|CLONE_NEWNS, exit_signal=0, stack=0x7f0000000000, stack_size=0x10000}, 88) = 201
201 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
201 setgroups(0, NULL) = -1 EPERM (Operation not permitted)
201 setresgid(0, 0, 0) = 0
201 setresuid(0, 0, 0) = 0
201 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
101 execveat(5, "", ["nsup", "__nsup_init"], [], AT_EMPTY_PATH) = 0
100 prctl(PR_SET_DUMPABLE, SUID_DUMP_USER) = 0
101 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 262144, " Go: immortal metadata") = -1 EINVAL (Invalid argument)
101 prlimit64(0, RLIMIT_NOFILE, NULL, {rlim_cur=4095, rlim_max=4096}) = 0
101 clone(child_stack=0x7f0000000000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, tls=0x7f0000000000) = 103
101 prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE) = 0
103 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|1<<CAP_KILL, permitted=1<<CAP_CHOWN|1<<CAP_KILL, inheritable=0}) = 0
101 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|1<<CAP_KILL, permitted=1<<CAP_CHOWN|1<<CAP_KILL, inheritable=0}) = 0
101 prctl(PR_SET_NAME, "nsup-init") = 0
101 seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, {len=4, filter=[BPF_STMT(BPF_LD|BPF_W|BPF_ABS, 0x4), BPF_JUMP(BPF_JMP|BPF_K|BPF_JEQ, 0xc000003e, 0, 0x1), BPF_STMT(BPF_RET|BPF_K, SECCOMP_RET_ALLOW), BPF_STMT(BPF_RET|BPF_K, SECCOMP_RET_ERRNO|0x1)]}) = 0
101 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f0000000000) = 102
102 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=4096}, NULL) = 0
102 setresgid(0, 0, 0) = 0
102 setresuid(1000, 1000, 1000) = 0
102 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
102 openat2(AT_FDCWD, "/srv", {flags=O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY, resolve=RESOLVE_NO_MAGICLINKS}, 24) = 3
102 fchdir(3) = 0
102 close(3) = 0
102 execve("/bin/sh", ["/bin/sh", "-c", "true"], ["PATH=/bin", "HOME=/root"]) = 0
103 prctl(PR_SET_PDEATHSIG, 0) = 0
100 clone(child_stack=NULL, flags=CLONE_NEWNET|SIGCHLD) = 300
300 setsid() = 300
300 chdir("/") = 0
300 prlimit64(0, RLIMIT_NOFILE, NULL, {rlim_cur=4095, rlim_max=4096}) = 0
300 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=4096}, NULL) = 0
300 execve("/proc/self/exe", ["nsup", "__nsup_hold", "cache", "net", "/run/nsup/p/cache.json"], []) = 0
300 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 262144, " Go: immortal metadata") = -1 EINVAL (Invalid argument)
300 prctl(PR_SET_NAME, "nsup-pod") = 0
300 prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE) = 0
300 clone(child_stack=0x7f0000000000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, tls=0x7f0000000000) = 303
100 openat(AT_FDCWD, "/proc/300/ns/net", O_RDONLY|O_CLOEXEC|O_NOCTTY) = 8
100 setns(8, CLONE_NEWNET) = 0
100 clone3({flags=CLONE_NEWNS, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x10000}, 88) = 301
301 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
100 clone(child_stack=NULL, flags=SIGCHLD) = 400
400 setsid() = 400
400 chdir("/") = 0
400 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
400 execve("/proc/self/exe", ["nsup", "__nsup_keep", "2", "/usr/bin/pasta", "--config-net"], []) = 0
400 prctl(PR_SET_NAME, "nsup-keeper") = 0
400 clone(child_stack=0x7f0000000000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, tls=0x7f0000000000) = 401
401 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f0000000000) = 402
402 chdir("/") = 0
402 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
402 execve("/usr/bin/pasta", ["/usr/bin/pasta", "--config-net"], []) = 0
100 clone3({flags=CLONE_NEWUSER|CLONE_NEWNS, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x10000}, 88) = 500
500 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
100 openat(AT_FDCWD, "/proc/500/setgroups", O_WRONLY|O_CLOEXEC) = 12
100 write(12, "deny", 4) = 4
100 close(12) = 0
100 openat(AT_FDCWD, "/proc/500/uid_map", O_WRONLY|O_CLOEXEC) = 12
100 write(12, "0 1000 1\n", 9) = 9
100 close(12) = 0
100 openat(AT_FDCWD, "/proc/500/gid_map", O_WRONLY|O_CLOEXEC) = 13
100 write(13, "0 1000 1\n", 9) = 9
100 close(13) = 0
500 setresgid(0, 0, 0) = 0
500 setresuid(0, 0, 0) = 0
500 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
`

func TestStraceMatcherChecksSteps(t *testing.T) {
	match := func(text string) (unmatched, missing []string) {
		all := parseTrace(t, text)
		return matchTrace(stepPlan, all, hostThreads(all))
	}
	if un, miss := match(stepTraceText); len(un)+len(miss) > 0 {
		t.Fatalf("the trace does not match its plan:\nunmatched:\n  %s\nmissing:\n  %s", strings.Join(un, "\n  "), strings.Join(miss, "\n  "))
	}
	// What the root test does to every real trace.
	alts, want := alterSteps(stepPlan, parseTrace(t, stepTraceText))
	for _, w := range want {
		if alts[w] == nil {
			t.Errorf("alterSteps altered nothing for %s", w)
		} else if un, miss := matchTrace(stepPlan, alts[w], hostThreads(alts[w])); len(un)+len(miss) == 0 {
			t.Errorf("alterSteps: a trace with %s altered still matches its plan", w)
		}
	}
	for _, c := range []struct{ why, old, new string }{
		// chdir
		{"the chdir to the root by its path", "101 fchdir(4) = 0", `101 chdir("/c/root") = 0`},
		{"the chdir to the root through the root opened following symlinks, not its handle", "101 fchdir(4) = 0",
			"101 openat2(AT_FDCWD, \"/c/root\", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS}, 24) = 3\n101 fchdir(3) = 0"},
		{"the chdir to the root through a folder in it", "101 fchdir(4) = 0",
			"101 openat2(4, \"dev\", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 3\n101 fchdir(3) = 0"},
		{"the chdir to / by its path", "101 fchdir(3) = 0\n101 close(3) = 0\n100", "101 chdir(\"/\") = 0\n100"},
		{"the chdir to / through a folder opened following magic links", `"/", {flags=O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY, resolve=RESOLVE_NO_MAGICLINKS}`,
			`"/", {flags=O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY, resolve=0}`},
		{"the process's working folder another", `openat2(AT_FDCWD, "/srv"`, `openat2(AT_FDCWD, "/tmp"`},
		{"the process's working folder through a magic link", `openat2(AT_FDCWD, "/srv"`, `openat2(AT_FDCWD, "/proc/self/fd/9"`},
		// symlinkat
		{"the link's target another", `symlinkat("/proc/self/fd", 3, "fd")`, `symlinkat("/", 3, "fd")`},
		{"the link's name another", `symlinkat("/proc/self/fd", 3, "fd")`, `symlinkat("/proc/self/fd", 3, "fe")`},
		{"the link made in another folder", `openat2(4, "dev"`, `openat2(4, "etc"`},
		{"the link's folder resolved by its host path, not from the root's handle",
			`openat2(4, "dev", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}`,
			`openat2(AT_FDCWD, "/c/root/dev", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS}`},
		{"the tree's link to another target", `symlinkat("usr/bin", 4, "bin")`, `symlinkat("/usr/bin", 4, "bin")`},
		{"the tree's link made outside the tree being built", `"/c/root.tmp-1"`, `"/c/other.tmp-1"`},
		{"a link the tree does not have", `symlinkat("usr/bin", 4, "bin")`, `symlinkat("usr/bin", 4, "sbin")`},
		// execve, execveat
		{"the process's environment with a variable added", `["PATH=/bin", "HOME=/root"]`, `["PATH=/bin", "HOME=/root", "LD_PRELOAD=/x.so"]`},
		{"the process's environment without a variable", `["PATH=/bin", "HOME=/root"]`, `["PATH=/bin"]`},
		{"the process's environment with a value changed", `["PATH=/bin", "HOME=/root"]`, `["PATH=/tmp:/bin", "HOME=/root"]`},
		{"the process's argv another", `["/bin/sh", "-c", "true"]`, `["/bin/sh", "-c", "false"]`},
		{"init's environment not empty", `["nsup", "__nsup_init"], []`, `["nsup", "__nsup_init"], ["X=1"]`},
		{"init executed from another file's fd", `"/proc/self/exe", O_RDONLY`, `"/tmp/nsup", O_RDONLY`},
		// setns
		{"the pid and net joins' fds swapped", "200 setns(6, CLONE_NEWPID) = 0\n200 setns(7, CLONE_NEWNET) = 0",
			"200 setns(7, CLONE_NEWPID) = 0\n200 setns(6, CLONE_NEWNET) = 0"},
		{"db's pid namespace joined from another process's /proc", `"/proc/101/ns/pid"`, `"/proc/1/ns/pid"`},
		{"another network namespace file joined than the plan's path", `"/run/netns/blue"`, `"/run/netns/red"`},
		{"a join through an fd never opened", "200 setns(7, CLONE_NEWNET)", "200 setns(8, CLONE_NEWNET)"},
		{"the pod's net namespace joined from another process's /proc", `"/proc/300/ns/net"`, `"/proc/301/ns/net"`},
		{"the holder's working folder another", `300 chdir("/")`, `300 chdir("/tmp")`},
		{"the holder started with another record", `"/run/nsup/p/cache.json"]`, `"/run/nsup/q/cache.json"]`},
		{"the holder started for another pod", `"__nsup_hold", "cache"`, `"__nsup_hold", "db"`},
		{"the holder's execve by another process", `300 execve("/proc/self/exe"`, `100 execve("/proc/self/exe"`},
		{"pasta's keeper in nsup's working folder", `400 chdir("/")`, `100 chdir("/")`},
		{"pasta's keeper in nsup's session", "400 setsid() = 400", "100 setsid() = 100"},
		{"pasta executed by its keeper, not the keeper's child", `402 execve("/usr/bin/pasta"`, `400 execve("/usr/bin/pasta"`},
		{"pasta started with other arguments", `["/usr/bin/pasta", "--config-net"]`, `["/usr/bin/pasta", "--config-net", "-t", "22"]`},
		// the process of the step's stage, and its success
		{"web's join made by the host, not the forked copy", "200 setns(6, CLONE_NEWPID)", "100 setns(6, CLONE_NEWPID)"},
		{"db's pivot_root made by web's forked copy", `101 pivot_root(".", ".")`, `200 pivot_root(".", ".")`},
		{"db's pivot_root failed", `pivot_root(".", ".") = 0`, `pivot_root(".", ".") = -1 EINVAL (Invalid argument)`},
		{"db's detach failed", `umount2(".", MNT_DETACH) = 0`, `umount2(".", MNT_DETACH) = -1 EINVAL (Invalid argument)`},
		{"db's filter loaded by its process, not init", "101 seccomp(", "102 seccomp("},
		{"the filter refused", "SECCOMP_RET_ERRNO|0x1)]}) = 0", "SECCOMP_RET_ERRNO|0x1)]}) = -1 EFAULT (Bad address)"},
		// clone3's group, landlock's ruleset
		{"db born in another group", `"/sys/fs/cgroup/nsup/db.100"`, `"/sys/fs/cgroup/nsup/web.100"`},
		{"db born in the group of another nsup's", `"/sys/fs/cgroup/nsup/db.100"`, `"/sys/fs/cgroup/nsup/db.555"`},
		{"db born in nsup's group", "CLONE_NEWPID|CLONE_INTO_CGROUP, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x10000, cgroup=9}",
			"CLONE_NEWPID, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x10000}"},
		{"landlock of a ruleset that handles access to files", "{handled_access_fs=0, ...}", "{handled_access_fs=LANDLOCK_ACCESS_FS_EXECUTE, ...}"},
		{"landlock of a ruleset that scopes nothing", "{handled_access_fs=0, ...}", "{handled_access_fs=0}"},
		{"landlock of the root's handle, not the ruleset", "landlock_restrict_self(3, 0)", "landlock_restrict_self(4, 0)"},
		// sessions and ids
		{"the groups kept", "101 setgroups(0, NULL) = 0", "101 setgroups(1, [0]) = 0"},
		{"the session not made", "101 setsid() = 1", "101 setsid() = -1 EPERM (Operation not permitted)"},
		{"the process's uid another", "setresuid(1000, 1000, 1000)", "setresuid(0, 0, 0)"},
		{"the process's uid set by init, not the process", "102 setresuid(1000, 1000, 1000)", "101 setresuid(1000, 1000, 1000)"},
		{"the process's limit set by init, not the process", "102 prlimit64(0, RLIMIT_NOFILE", "101 prlimit64(0, RLIMIT_NOFILE"},
		{"the process's saved uid kept", "setresuid(1000, 1000, 1000)", "setresuid(1000, 1000, 0)"},
		{"the process's gid another", "102 setresgid(0, 0, 0)", "102 setresgid(1000, 1000, 1000)"},
		{"the holder in nsup's session", "300 setsid() = 300\n", ""},
		// seccomp
		{"the filter's ALLOW made LOG", "SECCOMP_RET_ALLOW)", "SECCOMP_RET_LOG)"},
		{"the filter's errno another", "SECCOMP_RET_ERRNO|0x1)", "SECCOMP_RET_ERRNO|0x26)"},
		{"the filter's jump another", "0xc000003e, 0, 0x1)", "0xc000003e, 0x1, 0)"},
		{"the filter's architecture another", "0xc000003e", "0x40000003"},
		{"the filter one instruction short", "{len=4,", "{len=3,"},
		{"the filter without TSYNC", "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,", "seccomp(SECCOMP_SET_MODE_FILTER, 0,"},
		// the clone step's child: its parent-death signal, its change
		// to root of the user namespace it joined
		{"db's child without its parent-death signal", "101 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n101 openat2", "101 openat2"},
		{"web's child not root of its user namespace", "201 setresuid(0, 0, 0) = 0\n", ""},
		{"web's child another gid in its user namespace", "201 setresgid(0, 0, 0)", "201 setresgid(1, 1, 1)"},
		{"web's child keeping its groups", "201 setgroups(0, NULL) = -1 EPERM (Operation not permitted)\n", ""},
		{"web's child without its signal again after the change of ids", "201 setresuid(0, 0, 0) = 0\n201 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n", "201 setresuid(0, 0, 0) = 0\n"},
		// prctl, capset, prlimit64 steps
		{"a capability of the bounding set left", "101 prctl(PR_CAPBSET_DROP, CAP_NET_RAW) = 0\n", ""},
		{"a kept capability dropped from the bounding set", "101 prctl(PR_CAPBSET_DROP, CAP_NET_RAW) = 0\n", "101 prctl(PR_CAPBSET_DROP, CAP_NET_RAW) = 0\n101 prctl(PR_CAPBSET_DROP, CAP_KILL) = 0\n"},
		{"the bounding set dropped out of order", "101 prctl(PR_CAPBSET_DROP, CAP_NET_RAW) = 0\n101 prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0\n",
			"101 prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0\n101 prctl(PR_CAPBSET_DROP, CAP_NET_RAW) = 0\n"},
		{"no_new_privs not set", "101 prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0\n", ""},
		{"no_new_privs refused", "101 prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0", "101 prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = -1 EINVAL (Invalid argument)"},
		{"the child stage left dumpable", "101 prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE) = 0\n101 fchdir", "101 prctl(PR_SET_DUMPABLE, SUID_DUMP_USER) = 0\n101 fchdir"},
		{"nothing made inheritable for init", "inheritable=1<<CAP_CHOWN|1<<CAP_KILL|1<<CAP_SYS_ADMIN}", "inheritable=0}"},
		{"init keeping another capability", "101 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|1<<CAP_KILL, permitted=1<<CAP_CHOWN|1<<CAP_KILL,",
			"101 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|1<<CAP_KILL|1<<CAP_SYS_ADMIN, permitted=1<<CAP_CHOWN|1<<CAP_KILL|1<<CAP_SYS_ADMIN,"},
		{"init's other thread keeping another capability", "103 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|1<<CAP_KILL, permitted=1<<CAP_CHOWN|1<<CAP_KILL,",
			"103 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|1<<CAP_KILL|1<<CAP_SYS_ADMIN, permitted=1<<CAP_CHOWN|1<<CAP_KILL|1<<CAP_SYS_ADMIN,"},
		{"init's capset made twice by one thread", "103 capset(", "101 capset("},
		{"init's capset with something inheritable", "permitted=1<<CAP_CHOWN|1<<CAP_KILL, inheritable=0}) = 0\n101 prctl(PR_SET_NAME",
			"permitted=1<<CAP_CHOWN|1<<CAP_KILL, inheritable=1<<CAP_KILL}) = 0\n101 prctl(PR_SET_NAME"},
		{"init named otherwise", `101 prctl(PR_SET_NAME, "nsup-init")`, `101 prctl(PR_SET_NAME, "sh")`},
		{"init's release by another process", "103 prctl(PR_SET_PDEATHSIG, 0)", "102 prctl(PR_SET_PDEATHSIG, 0)"},
		{"the process's soft limit another", "102 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=1024,", "102 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=4095,"},
		{"the process's limit another resource", "102 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=1024,", "102 prlimit64(0, RLIMIT_NPROC, {rlim_cur=1024,"},
		{"the process without its parent-death signal", "102 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n", ""},
		{"the process's parent-death signal another", "102 prctl(PR_SET_PDEATHSIG, SIGKILL)", "102 prctl(PR_SET_PDEATHSIG, SIGTERM)"},
		// the holder's, the keeper's and pasta's own
		{"the holder keeping a capability", "303 prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0\n", ""},
		{"the holder's other thread keeping more than CAP_SYS_PTRACE", "303 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_SYS_PTRACE,",
			"303 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_SYS_PTRACE|1<<CAP_SYS_ADMIN,"},
		{"the holder dumpable", "300 prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE) = 0\n", ""},
		{"the holder's environment not empty", `"/run/nsup/p/cache.json"], []`, `"/run/nsup/p/cache.json"], ["HOME=/root"]`},
		{"the keeper without its parent-death signal", "400 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n", ""},
		{"the keeper named otherwise", `400 prctl(PR_SET_NAME, "nsup-keeper")`, `400 prctl(PR_SET_NAME, "pasta")`},
		{"pasta without its parent-death signal", "402 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n", ""},
		{"pasta's environment not empty", `["/usr/bin/pasta", "--config-net"], []`, `["/usr/bin/pasta", "--config-net"], ["HOME=/root"]`},
		{"pasta forked by a process that is not its keeper", "401 clone(child_stack=NULL", "300 clone(child_stack=NULL"},
		// nsup's own calls (ownCalls)
		{"nsup's slack set to another value", "100 prctl(PR_SET_TIMERSLACK, 50000)", "100 prctl(PR_SET_TIMERSLACK, 10000000)"},
		{"the holder made by the runtime's monitor thread", "100 clone(child_stack=NULL, flags=CLONE_NEWNET|SIGCHLD) = 300", "110 clone(child_stack=NULL, flags=CLONE_NEWNET|SIGCHLD) = 300"},
		{"the holder made by a thread the monitor made", "100 clone(child_stack=NULL, flags=CLONE_NEWNET|SIGCHLD) = 300", "111 clone(child_stack=NULL, flags=CLONE_NEWNET|SIGCHLD) = 300"},
		{"nsup's dumpable given back as another value", "100 prctl(PR_SET_DUMPABLE, SUID_DUMP_USER)", "100 prctl(PR_SET_DUMPABLE, SUID_DUMP_ROOT)"},
		{"nsup's soft limit raised past its hard one less one", "100 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=4095, rlim_max=4096}, NULL)", "100 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=4096, rlim_max=4096}, NULL)"},
		{"nsup's hard limit lowered", "100 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=4095, rlim_max=4096}, NULL)", "100 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=4095, rlim_max=4095}, NULL)"},
		{"the holder's limit set to another than nsup's at its start", "300 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=1024,", "300 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=2048,"},
		{"init raising its limit, which its runtime found at its hard one less one", "101 prlimit64(0, RLIMIT_NOFILE, NULL, {rlim_cur=4095, rlim_max=4096}) = 0\n",
			"101 prlimit64(0, RLIMIT_NOFILE, NULL, {rlim_cur=4095, rlim_max=4096}) = 0\n101 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=4096, rlim_max=4096}, NULL) = 0\n"},
		{"the child stage raising its limit", "101 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n", "101 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n101 prlimit64(0, RLIMIT_NOFILE, {rlim_cur=4095, rlim_max=4096}, NULL) = 0\n"},
		{"the child stage naming nsup's memory (it is no Go program)", "101 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n",
			"101 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n101 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 262144, \" Go: immortal metadata\") = -1 EINVAL (Invalid argument)\n"},
		{"the child stage reading the bounding set", "101 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n", "101 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0\n101 prctl(PR_CAPBSET_READ, CAP_CHOWN) = 1\n"},
		// writes of cgroup files, id maps, setgroups
		{"the pids limit another", `100 write(12, "64", 2) = 2`, `100 write(12, "65", 2) = 2`},
		{"the pids limit written to another group's", `"/sys/fs/cgroup/pids/nsup/db.100/pids.max"`, `"/sys/fs/cgroup/pids/nsup/web.100/pids.max"`},
		{"the pids limit not written", "100 write(12, \"64\", 2) = 2\n", ""},
		{"the pids limit written in part", `100 write(12, "64", 2) = 2`, `100 write(12, "64", 2) = 1`},
		{"a cgroup file written that no step writes", "100 write(12, \"64\", 2) = 2\n", "100 write(12, \"64\", 2) = 2\n100 write(12, \"max\", 3) = 3\n"},
		{"nsup's thread not back in its own group", "100 openat(AT_FDCWD, \"/sys/fs/cgroup/pids/tasks\", O_WRONLY|O_CLOEXEC) = 12\n100 write(12, \"0\", 1) = 1\n", ""},
		{"the child moved into the group, not nsup's thread", `100 openat(AT_FDCWD, "/sys/fs/cgroup/pids/nsup/db.100/tasks", O_WRONLY|O_CLOEXEC) = 12
100 write(12, "0", 1) = 1`, `100 openat(AT_FDCWD, "/sys/fs/cgroup/pids/nsup/db.100/tasks", O_WRONLY|O_CLOEXEC) = 12
100 write(12, "101", 3) = 3`},
		{"setgroups allowed", `100 write(12, "deny", 4) = 4`, `100 write(12, "allow", 5) = 5`},
		{"the uid map another", `100 write(12, "0 1000 1\n", 9) = 9`, `100 write(12, "0 0 1\n", 6) = 6`},
		{"the gid map written to another process's", `"/proc/500/gid_map"`, `"/proc/501/gid_map"`},
		{"the child root before its gid map is written", "100 openat(AT_FDCWD, \"/proc/500/gid_map\", O_WRONLY|O_CLOEXEC) = 13\n100 write(13, \"0 1000 1\\n\", 9) = 9\n100 close(13) = 0\n500 setresgid(0, 0, 0) = 0\n500 setresuid(0, 0, 0) = 0\n",
			"500 setresgid(0, 0, 0) = 0\n500 setresuid(0, 0, 0) = 0\n100 openat(AT_FDCWD, \"/proc/500/gid_map\", O_WRONLY|O_CLOEXEC) = 13\n100 write(13, \"0 1000 1\\n\", 9) = 9\n100 close(13) = 0\n"},
		{"the filter not printed (strace without -v)", `{len=4, filter=[BPF_STMT(BPF_LD|BPF_W|BPF_ABS, 0x4), BPF_JUMP(BPF_JMP|BPF_K|BPF_JEQ, 0xc000003e, 0, 0x1), BPF_STMT(BPF_RET|BPF_K, SECCOMP_RET_ALLOW), BPF_STMT(BPF_RET|BPF_K, SECCOMP_RET_ERRNO|0x1)]}`,
			`{len=4, filter=0x7f0000000000}`},
	} {
		if strings.Count(stepTraceText, c.old) != 1 {
			t.Fatalf("%s: %q is not in the trace once", c.why, c.old)
		}
		if un, miss := match(strings.Replace(stepTraceText, c.old, c.new, 1)); len(un)+len(miss) == 0 {
			t.Errorf("%s: the trace still matches its plan", c.why)
		}
	}
}

// TestStraceMatcherChecksSequence: across environments, the host's steps
// and a detached environment's held steps must be made in the order the
// plan lists them (planner's Sequence): a's release made before b's
// clone, as apply made it before the fix of the detached plan's order,
// is reported; made after b's state, it is not; nor is a step inside an
// environment that overlaps a later one's in the foreground.
func TestStraceMatcherChecksSequence(t *testing.T) {
	env := func(name string) planner.Env {
		return planner.Env{Name: name, Steps: []planner.Step{
			{Stage: planner.Host, Op: planner.Clone{Flags: unix.CLONE_NEWNS}},
			{Stage: planner.Child, Op: planner.Sethostname{Name: name}},
			{Stage: planner.Host, Op: planner.SaveState{Path: "/run/nsup/" + name + "/state.json"}},
			{Stage: planner.Init, Op: planner.Prctl{Option: unix.PR_SET_PDEATHSIG, Arg: 0}},
		}}
	}
	p := &planner.Plan{Detach: true, Environments: []planner.Env{env("a"), env("b")}}
	evs := make([]event, 8)
	for i := range evs {
		evs[i] = event{pid: 100 + i, name: "call"}
	}
	a, b := func(s int) planner.StepRef { return planner.StepRef{Env: 0, Step: s} }, func(s int) planner.StepRef { return planner.StepRef{Env: 1, Step: s} }
	made := map[planner.StepRef]int{a(0): 0, a(1): 1, a(2): 2, a(3): 3, b(0): 4, b(1): 5, b(2): 6, b(3): 7}
	if bad := outOfSequence(p, evs, made); len(bad) != 1 || !strings.Contains(bad[0], "a step 3") || !strings.Contains(bad[0], "b step 2") {
		t.Errorf("a released before b's clone and state: %q", bad)
	}
	made[a(3)], made[b(3)] = 7, 3
	if bad := outOfSequence(p, evs, made); len(bad) != 1 || !strings.Contains(bad[0], "b step 3") {
		t.Errorf("b released before a: %q", bad)
	}
	made[a(3)], made[b(3)] = 6, 7
	made[a(2)] = 5 // a's state after b's clone
	if bad := outOfSequence(p, evs, made); len(bad) != 1 || !strings.Contains(bad[0], "b step 0") || !strings.Contains(bad[0], "a step 2") {
		t.Errorf("a's state after b's clone: %q", bad)
	}
	made[a(2)], made[b(2)] = 2, 5
	made[a(1)] = 4 // inside a, after b's clone: not the host's
	made[b(0)] = 3
	if bad := outOfSequence(p, evs, made); len(bad) != 0 {
		t.Errorf("in the plan's order: %q", bad)
	}
}

// TestStraceMatcherPlacesLockLogState: the host's lock, log and state
// steps make no call a queue matches, but their openat places them in
// the order across environments (with only the groups and the clone
// placed, a release made just after a later environment's lock passed
// for one made at its wait: health.yaml -d with the release listed
// before web's lock).
func TestStraceMatcherPlacesLockLogState(t *testing.T) {
	p := &planner.Plan{Detach: true, Environments: []planner.Env{{Name: "a", Steps: []planner.Step{
		{Stage: planner.Host, Op: planner.Flock{Path: "/run/nsup/a/lock", State: "/run/nsup/a/state.json"}},
		{Stage: planner.Host, Op: planner.Stdio{Stdin: "/dev/null", Stdout: "/run/nsup/a/output.log"}},
		{Stage: planner.Host, Op: planner.SaveState{Path: "/run/nsup/a/state.json"}},
	}}}}
	placed := placedBy(p, newFdState())
	for i, c := range []struct {
		args string
		want int
	}{
		{`AT_FDCWD, "/run/nsup/a/lock", O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC, 0600`, 0},
		{`AT_FDCWD, "/run/nsup/a/output.log", O_WRONLY|O_CREAT|O_TRUNC|O_APPEND|O_NOFOLLOW|O_CLOEXEC, 0600`, 1},
		{`AT_FDCWD, "/run/nsup/a/state.json.tmp", O_WRONLY|O_CREAT|O_TRUNC|O_NOFOLLOW|O_CLOEXEC, 0600`, 2},
		{`AT_FDCWD, "/run/nsup/a/lock", O_RDONLY|O_CLOEXEC`, -1}, // nsup ps's read of the exit status
		{`AT_FDCWD, "/run/nsup/a/state.json", O_RDONLY|O_CLOEXEC`, -1},
	} {
		got := -1
		if r := placed[trail(event{name: "openat", args: c.args}, newFdState())]; len(r) == 1 {
			got = r[0].Step
		}
		if got != c.want {
			t.Errorf("%d: openat(%s) placed step %d, want %d", i, c.args, got, c.want)
		}
	}
}

// TestStraceMatcherPlacesHostSteps: the host's steps that make a folder
// (the state directory, a volume, a bind's missing source, a group:
// mkdirat, by path or from an fd) and the control socket (bind), traced
// only to be placed, and a cached rootfs tree (its folder opened, once
// built) have a place: in the plan's order they match, and any one of
// b's made first, before a's steps the plan lists earlier, is out of
// order. Before, these calls were not traced and the steps had no place:
// b's state directory or socket made before a's was released passed
// unseen.
func TestStraceMatcherPlacesHostSteps(t *testing.T) {
	env := func(n string) planner.Env {
		return planner.Env{Name: n, Steps: []planner.Step{
			{Stage: planner.Host, Op: planner.Mkdir{Path: "/run/nsup/p/" + n, Mode: 0o700}},
			{Stage: planner.Host, Op: planner.Flock{Path: "/run/nsup/p/" + n + "/lock", State: "/run/nsup/p/" + n + "/state.json"}},
			{Stage: planner.Host, Op: planner.Rootfs{Type: "closure", Path: "/cache/closure/" + n}},
			{Stage: planner.Host, Op: planner.Volume{Name: n, Path: "/var/lib/nsup/volumes/p/" + n, Lock: "/var/lib/nsup/volumes/p/" + n + ".lock", Mode: 0o755, UID: -1, GID: -1}},
			{Stage: planner.Host, Op: planner.MkdirAll{Path: "/srv/" + n + "/src", Mode: 0o755}},
			{Stage: planner.Host, Op: planner.Listen{Path: "/run/nsup/p/" + n + "/control.sock"}},
			{Stage: planner.Host, Op: planner.CgroupMkdir{Path: "/sys/fs/cgroup/nsup/" + n + "." + planner.NsupPid}},
			{Stage: planner.Host, Op: planner.SaveState{Path: "/run/nsup/p/" + n + "/state.json"}},
		}}
	}
	p := &planner.Plan{Detach: true, Environments: []planner.Env{env("a"), env("b")}}
	// What each step leaves in nsup's trace (pid 100), by step.
	calls := func(n string, fd int) []string {
		return []string{
			`100 mkdirat(AT_FDCWD, "/run/nsup/p/` + n + `", 0700) = 0`,
			`100 openat(AT_FDCWD, "/run/nsup/p/` + n + `/lock", O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC, 0600) = ` + strconv.Itoa(fd),
			// Missing, built (nsup's), opened for its lock.
			`100 openat(AT_FDCWD, "/cache/closure/` + n + `", O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_DIRECTORY) = -1 ENOENT (No such file or directory)
100 openat(AT_FDCWD, "/cache/closure/` + n + `.build", O_RDWR|O_CREAT|O_CLOEXEC, 0600) = 40
100 close(40) = 0
100 openat(AT_FDCWD, "/cache/closure/` + n + `", O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_DIRECTORY) = 41
100 close(41) = 0`,
			`100 openat(AT_FDCWD, "/var/lib/nsup/volumes/p/` + n + `.lock", O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC, 0600) = 35
100 flock(35, LOCK_SH|LOCK_NB) = 0
100 mkdirat(AT_FDCWD, "/var/lib/nsup/volumes/p/` + n + `", 0755) = 0`,
			`100 openat(AT_FDCWD, "/", O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY) = 20
100 openat2(20, "srv", {flags=O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH}, 24) = 21
100 close(20) = 0
100 openat2(21, "` + n + `", {flags=O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH}, 24) = 22
100 close(21) = 0
100 openat2(22, "src", {flags=O_RDONLY|O_CLOEXEC|O_PATH|O_DIRECTORY, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH}, 24) = -1 ENOENT (No such file or directory)
100 mkdirat(22, "src", 0755) = 0
100 close(22) = 0`,
			`100 bind(` + strconv.Itoa(fd+1) + `, {sa_family=AF_UNIX, sun_path="/run/nsup/p/` + n + `/control.sock"}, 110) = 0`,
			`100 mkdirat(AT_FDCWD, "/sys/fs/cgroup/nsup/` + n + `.100", 0755) = 0`,
			`100 openat(AT_FDCWD, "/run/nsup/p/` + n + `/state.json.tmp", O_WRONLY|O_CREAT|O_TRUNC|O_NOFOLLOW|O_CLOEXEC, 0600) = 30
100 close(30) = 0`,
		}
	}
	a, b := calls("a", 10), calls("b", 12)
	match := func(groups []string) []string {
		all := parseTrace(t, strings.Join(groups, "\n")+"\n")
		un, _ := matchTrace(p, all, hostThreads(all))
		return un
	}
	if un := match(append(slices.Clone(a), b...)); len(un) > 0 {
		t.Fatalf("in the plan's order:\n  %s", strings.Join(un, "\n  "))
	}
	for k := range b {
		// b's step k made first, a's steps and b's others after.
		groups := append([]string{b[k]}, a...)
		groups = append(groups, slices.Delete(slices.Clone(b), k, k+1)...)
		op := planner.FormatOp(p.Environments[1].Steps[k].Op)
		if un := match(groups); len(un) != 1 || !strings.Contains(un[0], "made before a step the plan lists earlier: b step "+strconv.Itoa(k)+" ("+op+")") {
			t.Errorf("b's step %d (%s) made first:\n  %s", k, op, strings.Join(un, "\n  "))
		}
	}
}

// TestStraceMatcherVolumeLock: a Volume step is its lock file's
// flock(LOCK_SH|LOCK_NB) by nsup: missing without it, or with another
// file's or an exclusive lock; nsup's other flocks (its state's lock) are
// its own.
func TestStraceMatcherVolumeLock(t *testing.T) {
	lock := "/var/lib/nsup/volumes/p/data.lock"
	p := &planner.Plan{Environments: []planner.Env{{Name: "a", Steps: []planner.Step{
		{Stage: planner.Host, Op: planner.Volume{Name: "data", Path: "/var/lib/nsup/volumes/p/data", Lock: lock, Mode: 0o755, UID: -1, GID: -1}},
	}}}}
	open := `100 openat(AT_FDCWD, "` + lock + `", O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC, 0600) = 35
100 openat(AT_FDCWD, "/run/nsup/p/a/lock", O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC, 0600) = 36
100 flock(36, LOCK_EX|LOCK_NB) = 0
`
	for i, c := range []struct {
		flock   string
		missing bool
	}{
		{"100 flock(35, LOCK_SH|LOCK_NB) = 0\n", false},
		{"", true},
		{"100 flock(35, LOCK_EX|LOCK_NB) = 0\n", true},
		{"100 flock(36, LOCK_SH|LOCK_NB) = 0\n", true},
		{"100 flock(35, LOCK_SH|LOCK_NB) = -1 EAGAIN (Resource temporarily unavailable)\n", true},
	} {
		all := parseTrace(t, open+c.flock)
		un, missing := matchTrace(p, all, hostThreads(all))
		if len(un) > 0 || (len(missing) > 0) != c.missing {
			t.Errorf("%d: %q: unmatched %q, missing %q", i, c.flock, un, missing)
		}
	}
}

// TestStraceMatcherSlackRefused: rootless, CalmSysmon's write of the
// runtime monitor's timer slack is refused (EPERM: another thread's
// slack takes CAP_SYS_NICE) and changes nothing: the trace matches, and
// a process the monitor makes then has nsup's slack. Another failure is
// no such refusal.
func TestStraceMatcherSlackRefused(t *testing.T) {
	const write = `100 write(11, "10000000", 8) = 8`
	match := func(text string) (unmatched, missing []string) {
		all := parseTrace(t, text)
		return matchTrace(stepPlan, all, hostThreads(all))
	}
	refused := strings.Replace(stepTraceText, write, `100 write(11, "10000000", 8) = -1 EPERM (Operation not permitted)`, 1)
	if un, miss := match(refused); len(un)+len(miss) > 0 {
		t.Errorf("with the slack's write refused, the trace does not match its plan:\nunmatched:\n  %s\nmissing:\n  %s", strings.Join(un, "\n  "), strings.Join(miss, "\n  "))
	}
	const holder = "100 clone(child_stack=NULL, flags=CLONE_NEWNET|SIGCHLD) = 300"
	if un, miss := match(strings.Replace(refused, holder, "110"+strings.TrimPrefix(holder, "100"), 1)); len(un)+len(miss) > 0 {
		t.Errorf("with the slack's write refused, the holder made by the monitor does not match:\nunmatched:\n  %s\nmissing:\n  %s", strings.Join(un, "\n  "), strings.Join(miss, "\n  "))
	}
	if un, miss := match(strings.Replace(stepTraceText, write, `100 write(11, "10000000", 8) = -1 EINVAL (Invalid argument)`, 1)); len(un)+len(miss) == 0 {
		t.Error("the slack's write failing otherwise than refused still matches")
	}
}
