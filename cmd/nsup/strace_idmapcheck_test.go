package main

import (
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The strace matcher checks the id maps nsup has others write (no root
// needed): a synthetic trace, in strace -v's format, of a rootless apply
// whose environment sub has its maps written by newuidmap and newgidmap
// (os/exec's fork by nsup, the helper's execve, its own calls as a
// setuid program, which relevant drops, and its write of the map from
// /proc/PID's fd), and whose pod's holder has a user namespace, whose
// maps os/exec writes in nsup's process before the holder goes on. It
// matches its plan; with a map's value, its file, its process, the
// helper's arguments, program or environment changed, or a call left
// out, added or made by another process, it does not.

var mapHelperPlan = &planner.Plan{Environments: []planner.Env{
	{Name: "sub", Steps: []planner.Step{
		{Stage: planner.Host, Op: planner.Clone{Flags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS, UserRoot: true}},
		{Stage: planner.Host, Op: planner.UIDMap{Lines: subLines, Helper: "/usr/bin/newuidmap"}},
		{Stage: planner.Host, Op: planner.GIDMap{Lines: subLines, Helper: "/usr/bin/newgidmap"}},
	}},
	{Name: "web", Steps: []planner.Step{
		{Stage: planner.Host, Op: planner.Hold{Pod: "web", Types: unix.CLONE_NEWUSER | unix.CLONE_NEWNET, Record: "/run/user/1000/nsup/p/.pods/web.json",
			UIDMap: []planner.IDMapLine{{Inside: 0, Outside: 1000, Count: 1}}, GIDMap: []planner.IDMapLine{{Inside: 0, Outside: 1000, Count: 1}}, DenySetgroups: true}},
		{Stage: planner.Host, Op: planner.Fork{}},
		{Stage: planner.Forked, Op: planner.Setns{Pod: "web", Path: "/proc/$pod:web/ns/user", NSType: unix.CLONE_NEWUSER}},
		{Stage: planner.Forked, Op: planner.Setns{Pod: "web", Path: "/proc/$pod:web/ns/net", NSType: unix.CLONE_NEWNET}},
		{Stage: planner.Forked, Op: planner.Clone{Flags: unix.CLONE_NEWNS | unix.CLONE_PARENT, UserRoot: true, DropGroups: true}},
	}},
}}

var subLines = []planner.IDMapLine{{Inside: 0, Outside: 1000, Count: 1}, {Inside: 1, Outside: 3000000, Count: 1000}}

const mapHelperTrace = `100 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 262144, " Go: immortal metadata") = -1 EINVAL (Invalid argument)
100 clone3({flags=CLONE_NEWUSER|CLONE_NEWNS, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x10000}, 88) = 500
500 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
100 openat(AT_FDCWD, "/dev/null", O_RDONLY|O_CLOEXEC) = 8
100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|SIGCHLD, parent_tid=[16]) = 510
510 dup3(8, 0, 0) = 0
510 execve("/usr/bin/newuidmap", ["/usr/bin/newuidmap", "500", "0", "1000", "1", "1", "3000000", "1000"], []) = 0
510 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
510 close(3) = 0
510 openat(AT_FDCWD, "/proc/500/", O_RDONLY|O_DIRECTORY) = 3
510 prctl(PR_SET_KEEPCAPS, 1) = 0
510 setresuid(-1, 1000, -1) = 0
510 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_SETUID, permitted=1<<CAP_SETUID, inheritable=0}) = 0
510 openat(AT_FDCWD, "/etc/subuid", O_RDONLY|O_NOCTTY|O_NONBLOCK|O_NOFOLLOW) = 4
510 openat(3, "uid_map", O_WRONLY) = 5
510 write(5, "0 1000 1\n1 3000000 1000\n", 24) = 24
510 close(5) = 0
100 close(8) = 0
100 openat(AT_FDCWD, "/dev/null", O_RDONLY|O_CLOEXEC) = 8
100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|SIGCHLD, parent_tid=[16]) = 520
520 dup3(8, 0, 0) = 0
520 execve("/usr/bin/newgidmap", ["/usr/bin/newgidmap", "500", "0", "1000", "1", "1", "3000000", "1000"], []) = 0
520 openat(AT_FDCWD, "/proc/500/", O_RDONLY|O_DIRECTORY) = 3
520 prctl(PR_SET_KEEPCAPS, 1) = 0
520 openat(3, "gid_map", O_WRONLY) = 5
520 write(5, "0 1000 1\n1 3000000 1000\n", 24) = 24
520 close(5) = 0
100 close(8) = 0
500 setresgid(0, 0, 0) = 0
500 setresuid(0, 0, 0) = 0
500 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
100 clone(child_stack=NULL, flags=CLONE_PIDFD|CLONE_NEWUSER|CLONE_NEWNET|SIGCHLD, parent_tid=[21]) = 300
100 openat(AT_FDCWD, "/proc/300/uid_map", O_RDWR) = 19
100 write(19, "0 1000 1\n", 9) = 9
100 close(19) = 0
100 openat(AT_FDCWD, "/proc/300/setgroups", O_RDWR) = 19
100 write(19, "deny", 4) = 4
100 close(19) = 0
100 openat(AT_FDCWD, "/proc/300/gid_map", O_RDWR) = 19
100 write(19, "0 1000 1\n", 9) = 9
100 close(19) = 0
300 setsid() = 300
300 chdir("/") = 0
300 execve("/proc/self/exe", ["nsup", "__nsup_hold", "web", "user,net", "/run/user/1000/nsup/p/.pods/web.json"], []) = 0
300 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0x7f0000000000, 262144, " Go: immortal metadata") = -1 EINVAL (Invalid argument)
300 prctl(PR_SET_NAME, "nsup-pod") = 0
300 prctl(PR_SET_DUMPABLE, SUID_DUMP_DISABLE) = 0
300 clone(child_stack=0x7f0000000000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, tls=0x7f0000000000) = 303
100 openat(AT_FDCWD, "/proc/300/ns/user", O_RDONLY|O_CLOEXEC|O_NOCTTY) = 10
100 openat(AT_FDCWD, "/proc/300/ns/net", O_RDONLY|O_CLOEXEC|O_NOCTTY) = 11
100 clone(child_stack=NULL, flags=SIGCHLD) = 200
200 setns(10, CLONE_NEWUSER) = 0
200 setns(11, CLONE_NEWNET) = 0
200 clone3({flags=CLONE_PARENT|CLONE_NEWNS, exit_signal=0, stack=0x7f0000000000, stack_size=0x10000}, 88) = 201
201 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
201 setgroups(0, NULL) = -1 EPERM (Operation not permitted)
201 setresgid(0, 0, 0) = 0
201 setresuid(0, 0, 0) = 0
201 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
`

func TestStraceMatcherChecksIDMapHelpers(t *testing.T) {
	text := mapHelperTrace + holderTrace()
	match := func(text string) (unmatched, missing []string) {
		all := parseTrace(t, text)
		evs := relevant(all, "/usr/local/bin/nsup", mapHelpers(mapHelperPlan))
		return matchTrace(mapHelperPlan, evs, hostThreads(all))
	}
	if un, miss := match(text); len(un)+len(miss) > 0 {
		t.Fatalf("the trace does not match its plan:\nunmatched:\n  %s\nmissing:\n  %s", strings.Join(un, "\n  "), strings.Join(miss, "\n  "))
	}
	// What the root test does to every real trace.
	all := parseTrace(t, text)
	alts, want := alterSteps(mapHelperPlan, relevant(all, "/usr/local/bin/nsup", mapHelpers(mapHelperPlan)))
	for _, w := range []string{altMapValue, altMapProcess, altHelperPid} {
		if !strings.Contains(strings.Join(want, "\n"), w) {
			t.Errorf("alterSteps does not alter %s", w)
		}
	}
	for _, w := range want {
		if alts[w] == nil {
			t.Errorf("alterSteps altered nothing for %s", w)
		} else if un, miss := matchTrace(mapHelperPlan, alts[w], hostThreads(alts[w])); len(un)+len(miss) == 0 {
			t.Errorf("alterSteps: a trace with %s altered still matches its plan", w)
		}
	}
	const uidExec = `510 execve("/usr/bin/newuidmap", ["/usr/bin/newuidmap", "500", "0", "1000", "1", "1", "3000000", "1000"], [])`
	const gidBlock = "100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|SIGCHLD, parent_tid=[16]) = 520\n"
	const childRoot = "500 setresgid(0, 0, 0) = 0\n500 setresuid(0, 0, 0) = 0\n"
	const holderMaps = `100 openat(AT_FDCWD, "/proc/300/uid_map", O_RDWR) = 19
100 write(19, "0 1000 1\n", 9) = 9
100 close(19) = 0
100 openat(AT_FDCWD, "/proc/300/setgroups", O_RDWR) = 19
100 write(19, "deny", 4) = 4
100 close(19) = 0
100 openat(AT_FDCWD, "/proc/300/gid_map", O_RDWR) = 19
100 write(19, "0 1000 1\n", 9) = 9
100 close(19) = 0
`
	for _, c := range []struct{ why, old, new string }{
		// a helper's map
		{"the helper's uid map another", `510 write(5, "0 1000 1\n1 3000000 1000\n", 24) = 24`, `510 write(5, "0 1000 1\n1 3000000 1001\n", 24) = 24`},
		{"the helper's uid map one line short", `510 write(5, "0 1000 1\n1 3000000 1000\n", 24) = 24`, `510 write(5, "0 1000 1\n", 9) = 9`},
		{"the helper's uid map written in part", `510 write(5, "0 1000 1\n1 3000000 1000\n", 24) = 24`, `510 write(5, "0 1000 1\n1 3000000 1000\n", 24) = 9`},
		{"the helper's uid map not written", "510 write(5, \"0 1000 1\\n1 3000000 1000\\n\", 24) = 24\n", ""},
		{"the helper's uid map written to another process's", `510 openat(AT_FDCWD, "/proc/500/", O_RDONLY|O_DIRECTORY) = 3`, `510 openat(AT_FDCWD, "/proc/501/", O_RDONLY|O_DIRECTORY) = 3`},
		{"the helper's uid map opened by its path for another process", `510 openat(3, "uid_map", O_WRONLY) = 5`, `510 openat(AT_FDCWD, "/proc/501/uid_map", O_WRONLY) = 5`},
		{"the helper's uid map opened from a file of the process's, not its folder", `510 openat(3, "uid_map", O_WRONLY) = 5`,
			"510 openat(AT_FDCWD, \"/proc/500/ns\", O_RDONLY|O_DIRECTORY) = 6\n510 openat(6, \"uid_map\", O_WRONLY) = 5"},
		{"the helper's uid map written to its gid map", `510 openat(3, "uid_map", O_WRONLY) = 5`, `510 openat(3, "gid_map", O_WRONLY) = 5`},
		{"the helper writing a map no step of its writes too", "510 close(5) = 0\n",
			"510 close(5) = 0\n510 openat(3, \"gid_map\", O_WRONLY) = 6\n510 write(6, \"0 1000 1\\n\", 9) = 9\n"},
		{"the helper writing another process's map too", "510 close(5) = 0\n",
			"510 close(5) = 0\n510 openat(AT_FDCWD, \"/proc/1/uid_map\", O_WRONLY) = 6\n510 write(6, \"0 1000 1\\n1 3000000 1000\\n\", 24) = 24\n"},
		{"the uid map written by nsup, not the helper", "510 openat(3, \"uid_map\", O_WRONLY) = 5\n510 write(5,",
			"100 openat(AT_FDCWD, \"/proc/500/uid_map\", O_WRONLY) = 5\n100 write(5,"},
		{"the helper starting a process", "510 close(5) = 0\n", "510 close(5) = 0\n510 clone(child_stack=NULL, flags=SIGCHLD) = 530\n"},
		// its execve
		{"the helper told another process", uidExec, strings.Replace(uidExec, `"500"`, `"501"`, 1)},
		{"the helper's lines in its arguments another", uidExec, strings.Replace(uidExec, `"1000"]`, `"1001"]`, 1)},
		{"the helper's arguments a line short", uidExec, strings.Replace(uidExec, `, "1", "3000000", "1000"]`, `]`, 1)},
		{"another helper executed", uidExec, strings.ReplaceAll(uidExec, "/usr/bin/newuidmap", "/tmp/newuidmap")},
		{"the gid map's helper for the uid map", uidExec, strings.ReplaceAll(uidExec, "/usr/bin/newuidmap", "/usr/bin/newgidmap")},
		{"the helper's environment not empty", uidExec, strings.Replace(uidExec, "], [])", `], ["LD_PRELOAD=/tmp/x.so"])`, 1)},
		{"the helper executed by nsup, not its child", uidExec, strings.Replace(uidExec, "510 ", "100 ", 1)},
		{"the helper forked by the environment's child, not nsup", "100 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|SIGCHLD, parent_tid=[16]) = 510",
			"500 clone(child_stack=NULL, flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|SIGCHLD, parent_tid=[16]) = 510"},
		{"the child root before the helper's gid map is written", gidBlock + "520 dup3", childRoot + gidBlock + "520 dup3"},
		// a holder's maps
		{"the holder's uid map another", "\"/proc/300/uid_map\", O_RDWR) = 19\n100 write(19, \"0 1000 1\\n\", 9) = 9",
			"\"/proc/300/uid_map\", O_RDWR) = 19\n100 write(19, \"0 0 1\\n\", 6) = 6"},
		{"the holder's setgroups allowed", `100 write(19, "deny", 4) = 4`, `100 write(19, "allow", 5) = 5`},
		{"the holder's gid map written to another process's", `"/proc/300/gid_map"`, `"/proc/301/gid_map"`},
		{"the holder's maps not written", holderMaps, ""},
		{"the holder's maps written by the holder", holderMaps, strings.ReplaceAll(holderMaps, "100 ", "300 ")},
		{"the holder's maps written after it went on", holderMaps + "300 setsid() = 300\n", "300 setsid() = 300\n" + holderMaps},
	} {
		if strings.Count(text, c.old) != 1 {
			t.Fatalf("%s: %q is not in the trace once", c.why, c.old)
		}
		if un, miss := match(strings.Replace(text, c.old, c.new, 1)); len(un)+len(miss) == 0 {
			t.Errorf("%s: the trace still matches its plan", c.why)
		}
	}
}
