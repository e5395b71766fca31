// Package planner compiles a spec into a Plan: the ordered list of every
// operation nsup apply will perform, each named after its syscall, with
// its stage and the YAML node that caused it. It is the middle of
// spec → plan → apply: it reads the host (ELF files for closures, the
// rootfs to resolve commands, the cgroup layout through planner/cgroup;
// a file named by a spec or an ELF file only if it is a regular one,
// through internal/regfile) but never writes anything. Names it shows
// (in notes, errors and a root's listing) are escaped by Shown, with
// internal/textsafe's set for names.
//
// The steps of one environment, in order (the reasons are beside the code
// that plans each: rootfs.go, namespaces.go and pods.go, user.go,
// mounts.go, security.go and filter.go, process.go; which stage performs
// which operation is stages.go's table):
//
//	host  rootfs(KIND, PATH, DIGEST, N files)       resolve or build the root tree (not for a joined mnt)
//	host  open_tree("/dev/null"), read-only         the null device for fds 0-2 that are the host's (root, no confining user ns)
//	host  openpty()                                 nsup's stdin a terminal: a pty of the environment's own
//	host  mkdir(GROUP/nsup/ENV); write(FILE, LIMIT)  its cgroups and limits (limits.go, planner/cgroup), root only
//	host  unshare(CLONE_NEWTIME); write(timens_offsets)   a new time namespace outside a user namespace
//	host  setns(PATH, CLONE_NEWX)                   one per join of net, ipc, uts, cgroup
//	host  clone3({flags=CLONE_NEW...})              the launcher's child, in new namespaces (and its unified group)
//	  or, to join user, mount, pid or time (and for any join, rootless):
//	host  fork()                                    a single-threaded copy of nsup
//	fork  setns(PATH, CLONE_NEWX)                   one per join, user first
//	fork  clone3({flags=CLONE_NEW...|CLONE_PARENT}) the child, nsup's
//	host  write("/proc/$CHILD/uid_map", ...)        user namespace maps (and gid_map, setgroups "deny"),
//	host  newidmap(newuidmap, $CHILD, MAP)          or through the setuid helpers (rootless, ranges)
//	child keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) the child stage: raw system calls, one thread,
//	child setgroups(0, [])                          prepared before the clone
//	child capset(inheritable = permitted)           only when nsup's init follows (see below)
//	child prctl(PR_CAPBSET_DROP, ...); prctl(PR_SET_NO_NEW_PRIVS, 1)
//	child setsid()
//	child unshare(CLONE_NEWTIME); write(timens_offsets)   a new time namespace in a user namespace
//	child open_tree(<the terminal>, CLONE); ...; dup3   a terminal, no dev: fds 0-2 reopened read-only
//	child mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)
//	child mount(ROOT, ROOT, NULL, MS_BIND|MS_REC, NULL); mount_setattr(ROOT, NODEV)   or overlay(ROOT)
//	child mount(...)/symlink(...)/mount_setattr(...)  the spec's mounts, in order, in the root, each
//	                                                followed by the masked and read-only paths it holds
//	child ioctl(SIOCSIFFLAGS, "lo", IFF_UP); sethostname; setdomainname
//	child chdir(ROOT); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")
//	child mount_setattr("/", 0, MOUNT_ATTR_RDONLY)  readonly root
//
// then one of three endings. With init: false, the child stage confines
// itself and becomes the main process:
//
//	child prctl(PR_SET_DUMPABLE, 0); capset(KEEP); close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)
//	child seccomp(SECCOMP_SET_MODE_FILTER, 0, PROGRAM)   last (before capset without no_new_privs)
//	proc  prlimit64; [ioctl(TIOCSCTTY)]; setresgid; setresuid; prctl(PR_SET_PDEATHSIG, 9); chdir
//	proc  execve(PATH, ARGV, ENV); stopped by nsup (no init): ... SIGKILL STOP_TIMEOUT later
//
// One process in the foreground, in a pid namespace of its own: the same
// confinement (and prctl(PR_SET_NAME, "nsup-init")), then
//
//	child clone(SIGCHLD): MAIN; this process stays as PID 1   Monitor: reaps, forwards, exits with its status
//	proc  prlimit64; ...; execve(PATH, ARGV, ENV)   the main process's steps, as above
//
// Otherwise (a tree, prefixed output, detached, a joined pid namespace)
// nsup's init, which confines itself:
//
//	child execveat(fd of "/proc/self/exe", "", ["nsup", "__nsup_init"], [], AT_EMPTY_PATH)
//	init  prctl(PR_SET_DUMPABLE, 0); capset(KEEP) on every thread; prctl(PR_SET_NAME)
//	init  [prctl(PR_SET_CHILD_SUBREAPER, 1)]; close_range(3, ...); seccomp(..., TSYNC, PROGRAM)
//	init  clone(SIGCHLD): PROCESS ...               Spawn: one per process of the tree,
//	                                                with its restart policy and healthcheck
//	proc  prlimit64; [setsid; ioctl(TIOCSCTTY)]; setresgid; setresuid; prctl(PR_SET_PDEATHSIG, 9); chdir; execve
//
// An environment with depends_on: {ENV: healthy} begins (after its lock,
// detached) with
//
//	host  wait(ENV healthy)                         WaitHealthy: until ENV's init reports it healthy
//
// A detached plan (Options.Detach, nsup apply -d) adds, per environment:
//
//	host  mkdir(STATE/ENV, 0700); flock(STATE/ENV/lock)   before anything else
//	host  open(0 < /dev/null, 1 2 >> STATE/ENV/output.log); listen(STATE/ENV/control.sock)
//	host  state(STATE/ENV/state.json)                after the tree is started
//	init  prctl(PR_SET_PDEATHSIG, 0)                 last: released, once every environment
//	                                                is up (listed after them all), or before
//	                                                a later wait(ENV healthy) (listed there)
package planner
