// Package executor applies a plan: it is the last part of
// spec → plan → apply, and it does exactly the plan's steps, in order, and
// nothing else (see planner/doc.go for the steps of one environment). The
// planner's stage table says which stage performs which operation; Apply
// checks the plan against it first, and each stage has one switch:
//
//   - host (host.go, do): nsup itself resolves or builds the root tree
//     (package executor/store: a closure copied, a tar archive unpacked,
//     into the cache, whose entry it holds locked while the environment
//     runs), joins net, ipc, uts and cgroup namespaces on a thread locked
//     for the environment (envrun.go; a lone foreground environment that
//     joins and makes no namespace for the thread is applied on Apply's
//     own, locked for the while: nsup's main thread, which the process
//     keeps, KeepMainThread), writes the id maps of a new user
//     namespace (idmap.go) and, detached, makes the state directory,
//     lock, log and control socket (detach.go);
//   - fork and child (launch.go): one launcher creates every
//     environment's child by a raw clone3(2) from that thread (a forked,
//     single-threaded copy of nsup first when it joins a user, mount, pid
//     or time namespace). The child is the child stage, and makes raw
//     system calls only: its steps, and the proc steps of a process it
//     becomes or forks, are a rawProg prepared before the clone
//     (rawprep.go, the raw stages' one switch), run by nosplit code
//     (raw.go) with every signal blocked, no allocation and no write of a
//     pointer, as the child half of Go's syscall.forkAndExecInChild. A
//     failed step is reported as (step, part, errno) over a pipe its
//     execve closes; the raw code ends its own process (exit_group) then,
//     and nothing else of this package exits. A child that will execute a
//     program shares nsup's memory until then, on a stack of its own
//     (clone_amd64.s; a copy on other architectures): nothing is copied.
//     The child stage mounts inside the root through openat2(2)
//     RESOLVE_IN_ROOT fds (the resolver store's closure builder uses too),
//     switches the root by pivot_root(2), confines itself (bounding set,
//     no_new_privs, capabilities, seccomp, close_range(2)) and ends in one
//     of three ways: init: false, the execve of the main process; one
//     process in the foreground in a pid namespace of its own, a fork of
//     it (CLONE_VM|CLONE_VFORK, its proc steps) and, as its PID 1, a
//     minimal monitor that reaps, forwards signals and exits with its
//     status (rawproc.go, rawDoMonitor); otherwise the execveat(2) of nsup's
//     own binary as the environment's init;
//   - init (initstage.go, init.go): nsup's init, PID 1, for a process
//     tree, prefixed output (output.go), a detached environment or a
//     joined pid namespace. The host sends it its steps over a socketpair
//     (wire.go); it confines itself (kernel seam: sys.go) and starts each
//     process (a Spawn step and its proc steps, spawn.go: the same raw
//     stage), reaps, forwards signals and stops the tree, restarts what
//     a restart policy says to and runs healthchecks (supervise.go);
//     detached, it serves nsup exec and nsup ps's status on its control
//     socket (control.go: a command starts as the named process's proc
//     steps say). It reports its main process's health on the setup
//     channel when the host waits for it (health.go: WaitHealthy).
//
// A detached plan (nsup apply -d) records the environment's state once
// the tree is started, in package executor/lifecycle's format
// (lifecycle.State, WriteState); Apply holds every environment until all
// are up, then lets the last step of each go, which ends the child's
// parent-death signal. From then on the environment is on its own, and
// lifecycle reads the state back for nsup ps, logs, exec and down.
//
// What lives where: this package applies a plan (apply.go, signals.go,
// envrun.go, host.go, detach.go, idmap.go, pty.go, stdio.go), launches
// (launch.go, launched.go, clone_*.go, raw.go, rawfs.go, rawproc.go,
// rawprep.go) and runs init (initstage.go, init.go, supervise.go,
// spawn.go, control.go, output.go, sys.go, wire.go). The store of root
// trees (the cache, closure copies, the tar unpacker, paths resolved
// inside a tree) is executor/store; detached environments seen from
// outside (the state file, ps, exec's client, logs, down) are
// executor/lifecycle. Both import only planner; this package imports
// them, and internal/owndir (who besides a folder's owner may write it:
// create: true's refusals, volumes.go). Only cmd/nsup prints or exits, but for what this package hands
// the environments: os.Stdout and os.Stderr as their default fds 1 and 2,
// init's prefixed copies of them, and a raw program's exit_group.
//
// "$TID" in a host write's path (the plan's /proc/$TID/timens_offsets) is
// the locked thread that unshared the time namespace; "$CHILD" the
// child's pid. The launcher's child becomes root of its user namespace (a
// new one whose maps have a 0, or a joined one) before its first step.
//
// A failed step is reported with its origin in the spec, its number and
// call as the plan prints them, and the errno. Nothing is left behind:
// all mounts happen in the child's private mount namespace and vanish with
// it; killing the child (PID 1 of its pid namespace) ends every process of
// the environment; a partial cache entry is removed.
//
// The host's nsup binary is visible inside an environment as /proc/1/exe
// while nsup's PID 1 runs (CVE-2019-5736). It cannot be opened for
// writing then (ETXTBSY, execve(2)), and PID 1 outlives every process of
// its pid namespace and is not dumpable, so that no process inside
// reaches /proc/1/exe or its fds at all. A sealed copy (memfd, as runc
// does) would close the case of a joined pid namespace. Not done yet.
package executor
