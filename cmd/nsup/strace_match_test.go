package main

import (
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The strace test's matcher follows fds (no root needed): a synthetic
// trace, in strace's format and of the executor's calls (rawfs.go,
// rawheld.go), of a root bound onto itself, two binds held below it
// (/data, and /data/conf and /data/conf2 beneath /data's fd), a tmpfs
// beneath /data/conf's fd and one in the root. It matches its plan; with
// the tmpfs beneath /data/conf resolved from another fd (the wrong held
// slot, /data's, the root's), or a step from a stale or closed fd, it does
// not.

const matchRoot = "/c/root"

var matchPlan = &planner.Plan{Environments: []planner.Env{{Name: "nested", Steps: []planner.Step{
	{Stage: planner.Host, Op: planner.Clone{Flags: unix.CLONE_NEWNS}},
	{Stage: planner.Child, Op: planner.Mount{Target: "/", Flags: unix.MS_REC | unix.MS_PRIVATE}},
	{Stage: planner.Child, Op: planner.Mount{Source: matchRoot, Target: matchRoot, Flags: unix.MS_BIND | unix.MS_REC}},
	{Stage: planner.Child, Op: planner.MountSetattr{Path: matchRoot, Recursive: true, Set: unix.MOUNT_ATTR_NODEV}},
	{Stage: planner.Child, Op: planner.Mount{Source: "/h/data", Target: "/data", Root: matchRoot, InRoot: true, Create: "dir",
		Flags: unix.MS_BIND | unix.MS_REC, Held: true, Detached: true}},
	{Stage: planner.Child, Op: planner.MountSetattr{ByFD: true, Recursive: true, Set: unix.MOUNT_ATTR_RDONLY}},
	{Stage: planner.Child, Op: planner.Mount{Source: "/h/conf", Target: "/data/conf", Root: matchRoot, InRoot: true, Beneath: "/data",
		Flags: unix.MS_BIND | unix.MS_REC, Held: true, Detached: true}},
	{Stage: planner.Child, Op: planner.MountSetattr{ByFD: true, Recursive: true, Set: unix.MOUNT_ATTR_RDONLY}},
	{Stage: planner.Child, Op: planner.Mount{Source: "/h/conf2", Target: "/data/conf2", Root: matchRoot, InRoot: true, Beneath: "/data",
		Flags: unix.MS_BIND | unix.MS_REC, Held: true, Detached: true}},
	{Stage: planner.Child, Op: planner.MountSetattr{ByFD: true, Recursive: true, Set: unix.MOUNT_ATTR_RDONLY}},
	{Stage: planner.Child, Op: planner.Mount{Source: "tmpfs", Target: "/data/conf/sub", FSType: "tmpfs", Root: matchRoot, InRoot: true,
		Beneath: "/data/conf", Flags: unix.MS_NOSUID | unix.MS_NODEV}},
	{Stage: planner.Child, Op: planner.Mount{Source: "proc", Target: "/data/proc", FSType: "proc", Root: matchRoot, InRoot: true,
		Beneath: "/data", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, Held: true}},
	{Stage: planner.Child, Op: planner.Mount{Source: "/dev/null", Target: "/data/proc/keys", Root: matchRoot, InRoot: true,
		Beneath: "/data/proc", Flags: unix.MS_BIND}},
	{Stage: planner.Child, Op: planner.Mount{Source: "tmpfs", Target: "/tmp", FSType: "tmpfs", Root: matchRoot, InRoot: true,
		Flags: unix.MS_NOSUID | unix.MS_NODEV}},
}}}}

const matchTraceText = `100 clone3({flags=CLONE_NEWNS, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x10000}, 88) = 101
101 prctl(PR_SET_PDEATHSIG, SIGKILL) = 0
101 mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL) = 0
101 openat2(AT_FDCWD, "/c/root", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS}, 24) = 3
101 open_tree(3, "", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH|AT_RECURSIVE) = 4
101 move_mount(4, "", 3, "", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH) = 0
101 close(3) = 0
101 openat2(4, ".", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 3
101 mount_setattr(3, "", AT_EMPTY_PATH|AT_RECURSIVE, {attr_set=MOUNT_ATTR_NODEV, attr_clr=0, propagation=0 /* MS_??? */, userns_fd=0}, 32) = 0
101 close(3) = 0
101 openat2(AT_FDCWD, "/h/data", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS}, 24) = 3
101 openat2(4, "data", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 5
101 open_tree(3, "", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH|AT_RECURSIVE) = 6
101 move_mount(6, "", 5, "", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH) = 0
101 close(3) = 0
101 close(5) = 0
101 fcntl(6, F_DUPFD_CLOEXEC, 0) = 3
101 mount_setattr(6, "", AT_EMPTY_PATH|AT_RECURSIVE, {attr_set=MOUNT_ATTR_RDONLY, attr_clr=0, propagation=0 /* MS_??? */, userns_fd=0}, 32) = 0
101 close(6) = 0
101 openat2(AT_FDCWD, "/h/conf", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS}, 24) = 5
101 openat2(3, "conf", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 6
101 open_tree(5, "", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH|AT_RECURSIVE) = 7
101 move_mount(7, "", 6, "", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH) = 0
101 close(5) = 0
101 close(6) = 0
101 fcntl(7, F_DUPFD_CLOEXEC, 0) = 5
101 mount_setattr(7, "", AT_EMPTY_PATH|AT_RECURSIVE, {attr_set=MOUNT_ATTR_RDONLY, attr_clr=0, propagation=0 /* MS_??? */, userns_fd=0}, 32) = 0
101 close(7) = 0
101 openat2(AT_FDCWD, "/h/conf2", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS}, 24) = 6
101 openat2(3, "conf2", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 7
101 open_tree(6, "", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH|AT_RECURSIVE) = 8
101 move_mount(8, "", 7, "", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH) = 0
101 close(6) = 0
101 close(7) = 0
101 fcntl(8, F_DUPFD_CLOEXEC, 0) = 6
101 mount_setattr(8, "", AT_EMPTY_PATH|AT_RECURSIVE, {attr_set=MOUNT_ATTR_RDONLY, attr_clr=0, propagation=0 /* MS_??? */, userns_fd=0}, 32) = 0
101 close(8) = 0
101 openat2(5, "sub", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 7
101 mount("tmpfs", "/proc/self/fd/7", "tmpfs", MS_NOSUID|MS_NODEV, NULL) = 0
101 close(7) = 0
101 openat2(3, "proc", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 7
101 fsopen("proc", FSOPEN_CLOEXEC) = 8
101 fsconfig(8, FSCONFIG_SET_STRING, "source", "proc", 0) = 0
101 fsconfig(8, FSCONFIG_CMD_CREATE, NULL, NULL, 0) = 0
101 fsmount(8, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC) = 9
101 close(8) = 0
101 move_mount(9, "", 7, "", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH) = 0
101 close(7) = 0
101 openat2(AT_FDCWD, "/dev/null", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS}, 24) = 7
101 openat2(9, "keys", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 8
101 mount("/proc/self/fd/7", "/proc/self/fd/8", NULL, MS_BIND, NULL) = 0
101 close(7) = 0
101 close(8) = 0
101 openat2(4, "tmp", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 7
101 mount("tmpfs", "/proc/self/fd/7", "tmpfs", MS_NOSUID|MS_NODEV, NULL) = 0
101 close(7) = 0
`

func TestStraceMatcherFollowsFds(t *testing.T) {
	match := func(text string) (unmatched, missing []string) {
		all := parseTrace(t, text)
		return matchTrace(matchPlan, all, hostThreads(all))
	}
	if un, miss := match(matchTraceText); len(un)+len(miss) > 0 {
		t.Fatalf("the trace does not match its plan:\nunmatched:\n  %s\nmissing:\n  %s", strings.Join(un, "\n  "), strings.Join(miss, "\n  "))
	}
	// What the root test does to every trace with a step beneath a held
	// mount.
	all := parseTrace(t, matchTraceText)
	if other := fromOtherAnchor(all); other == nil {
		t.Error("fromOtherAnchor found no path resolved from a held mount's fd")
	} else if un, miss := matchTrace(matchPlan, other, hostThreads(all)); len(un)+len(miss) == 0 {
		t.Error("fromOtherAnchor's trace still matches its plan")
	}
	for _, c := range []struct{ why, old, new string }{
		{"the tmpfs beneath /data/conf resolved from /data/conf2's held fd (the wrong slot)",
			`openat2(5, "sub"`, `openat2(6, "sub"`},
		{"the tmpfs beneath /data/conf resolved from /data's held fd, by the same path",
			`openat2(5, "sub"`, `openat2(3, "conf/sub"`},
		{"the tmpfs beneath /data/conf resolved from the root's handle, by the same path",
			`openat2(5, "sub"`, `openat2(4, "data/conf/sub"`},
		{"the tmpfs beneath /data/conf resolved from /data/conf's host folder (the bind's source, not its mount)",
			"101 close(5) = 0\n101 close(6) = 0\n101 fcntl(7, F_DUPFD_CLOEXEC, 0) = 5\n",
			"101 close(6) = 0\n101 fcntl(7, F_DUPFD_CLOEXEC, 0) = 10\n"},
		{"/data/conf's bind moved onto a folder resolved from the root's handle, not /data's held fd",
			`openat2(3, "conf",`, `openat2(4, "data/conf",`},
		{"/data/conf's bind moved from a clone of another source",
			`open_tree(5, "", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH|AT_RECURSIVE) = 7`, `open_tree(3, "", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH|AT_RECURSIVE) = 7`},
		{"/data/conf's clone not recursive (MS_REC)",
			`open_tree(5, "", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH|AT_RECURSIVE) = 7`, `open_tree(5, "", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH) = 7`},
		{"/data/conf's setattr of /data's mount, not the bind just made",
			`mount_setattr(7, ""`, `mount_setattr(3, ""`},
		{"a bind's source opened following symlinks",
			`openat2(AT_FDCWD, "/h/conf", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS}`,
			`openat2(AT_FDCWD, "/h/conf", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS}`},
		{"a path beneath a held fd resolved without RESOLVE_IN_ROOT",
			`openat2(5, "sub", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}`,
			`openat2(5, "sub", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS}`},
		{"the mask beneath the proc resolved from /data's held fd",
			`openat2(9, "keys"`, `openat2(3, "proc/keys"`},
		{"the proc made with other attributes than its flags",
			`fsmount(8, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC)`, `fsmount(8, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV)`},
		{"the proc of another type",
			`fsopen("proc"`, `fsopen("sysfs"`},
		{"the tmpfs in the root resolved from /data's held fd",
			`openat2(4, "tmp"`, `openat2(3, "../tmp"`},
		{"the tmpfs in the root resolved from the root's path before its bind (a stale handle)",
			`openat2(4, "tmp", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 7`,
			`openat2(AT_FDCWD, "/c/root/tmp", {flags=O_RDONLY|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_NO_SYMLINKS}, 24) = 7`},
		{"the tmpfs in the root mounted on an fd closed (the one of the mask's target)",
			`openat2(4, "tmp", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 7`,
			`openat2(4, "tmp", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH, resolve=RESOLVE_NO_MAGICLINKS|RESOLVE_IN_ROOT}, 24) = 10`},
		{"the root's setattr through the root's folder opened before its bind (under it)",
			"101 close(3) = 0\n101 openat2(4, \".\"", "101 openat2(3, \".\""},
	} {
		if strings.Count(matchTraceText, c.old) != 1 {
			t.Fatalf("%s: %q is not in the trace once", c.why, c.old)
		}
		if un, miss := match(strings.Replace(matchTraceText, c.old, c.new, 1)); len(un)+len(miss) == 0 {
			t.Errorf("%s: the trace still matches its plan", c.why)
		}
	}
}

// TestStraceFdsCloseReordered: strace may print one thread's close of fd
// N after another thread's call that made N, though the close ran first
// (the made fd was then used, and worked). Such a close keeps the new
// fd; a close after any other event, or by the thread that made it,
// ends it.
func TestStraceFdsCloseReordered(t *testing.T) {
	const thread = "201 clone(child_stack=0x1, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, tls=0x2) = 202\n"
	const open = "201 openat(AT_FDCWD, \"/sys/fs/cgroup/pids/x/tasks\", O_WRONLY|O_CLOEXEC) = 14\n"
	for _, c := range []struct {
		why, trace string
		open       bool
	}{
		{"another thread's close printed right after the open", thread + open + "202 close(14) = 0\n", true},
		{"another thread's close after an event between", thread + open + "201 fcntl(14, F_GETFL) = 0x1 (flags O_WRONLY)\n202 close(14) = 0\n", false},
		{"the opening thread's own close", thread + open + "201 close(14) = 0\n", false},
	} {
		s := newFdState()
		for _, e := range parseTrace(t, c.trace) {
			s.apply(e)
		}
		if o := s.fd(201, "14"); (o != nil) != c.open || o != nil && o.at() != "/sys/fs/cgroup/pids/x/tasks" {
			t.Errorf("%s: fd 14 is %+v, want open: %v", c.why, o, c.open)
		}
	}
}

// TestStraceMatcherChildMkdir: a folder the child stage makes must be one
// a step makes when it is missing (here the bind's target /data, made
// beneath the root's handle, 0755); one no step makes, with another mode,
// or resolved from another fd is not in the plan.
func TestStraceMatcherChildMkdir(t *testing.T) {
	const at = `101 openat2(4, "data", {flags=O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH`
	if strings.Count(matchTraceText, at) != 1 {
		t.Fatalf("%q is not in the trace once", at)
	}
	match := func(mkdir string) (unmatched, missing []string) {
		all := parseTrace(t, strings.Replace(matchTraceText, at, mkdir+"\n"+at, 1))
		return matchTrace(matchPlan, all, hostThreads(all))
	}
	if un, miss := match(`101 mkdirat(4, "data", 0755) = 0`); len(un)+len(miss) > 0 {
		t.Errorf("the bind's missing target, made: the trace does not match its plan:\nunmatched:\n  %s\nmissing:\n  %s", strings.Join(un, "\n  "), strings.Join(miss, "\n  "))
	}
	for _, c := range []struct{ why, mkdir string }{
		{"a folder no step makes", `101 mkdirat(4, "elsewhere", 0755) = 0`},
		{"the target made with another mode", `101 mkdirat(4, "data", 0777) = 0`},
		{"the target made by path from the host's root", `101 mkdirat(AT_FDCWD, "/c/root/data", 0755) = 0`},
		{"an overlay's layer with no overlay planned", `101 mkdirat(4, "upper", 0700) = 0`},
	} {
		if un, miss := match(c.mkdir); len(un)+len(miss) == 0 {
			t.Errorf("%s: the trace still matches its plan", c.why)
		}
	}
}
