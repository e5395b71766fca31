// Package executor applies a plan: it is the last part of
// spec → plan → apply, and it does exactly the plan's steps, in order, and
// nothing else (see planner/doc.go for the steps of one environment).
//
// Three processes share the work of one environment:
//
//   - the host stage (Apply, apply.go): in nsup itself, it resolves or
//     builds the root tree (package executor/store: a closure copied, a
//     tar archive unpacked, into the cache, whose entry it holds locked
//     while the environment runs), joins namespaces, and creates
//     the child with the launcher (launch.go) from one goroutine locked
//     to its OS thread: a raw clone, whose child does the launch steps
//     (keyring, bounding and inheritable sets, no_new_privs) while it is
//     one thread, then executes the child stage. User, mount, pid and
//     time namespaces are joined by a forked, single-threaded copy of
//     nsup first (stage fork). The host writes what must be written from
//     outside (the id maps), then hands the remaining steps to the child
//     over a socketpair (wire.go) and waits for "ok" or the failed step;
//   - the child stage (RunStage, stage.go): nsup re-executed in the new
//     namespaces (planner.StageArgv); one switch applies the steps: mounts
//     resolved inside the root with openat2(2) (resolve.go), bind sources
//     opened without following a symlink, the root switch by
//     pivot_root(2), capabilities on every thread, the seccomp filter
//     (TSYNC), close_range(2);
//   - init (init.go): the same process staying on as PID 1 to start the
//     process tree (spawn.go: every process inside, nsup exec's too, is
//     started by one raw clone that sets its limits and credentials),
//     reap, forward signals and stop the tree (output.go prefixes the
//     lines of several processes); with init: false the child stage
//     instead ends by execve(2) of the main process.
//
// A detached plan (nsup apply -d) adds host steps that make the
// environment's state directory, lock, log and control socket before the
// clone (detach.go) and its state file once the tree is started, in
// package executor/lifecycle's format (lifecycle.State, WriteState);
// Apply holds every environment until all are up, then lets the last step
// of each go, which ends the child's parent-death signal. From then on
// the environment is on its own: its init serves nsup exec on the control
// socket (control.go is init's side; the protocol's messages and the
// client, lifecycle.Exec, are lifecycle's), and lifecycle reads the state
// back for nsup ps, logs and down.
//
// What lives where: this package applies a plan (apply.go, detach.go),
// launches (launch.go, spawn.go) and runs the stages (stage.go, sys.go,
// wire.go, stdio.go, pty.go, resolve.go) and init with the processes it
// starts (init.go, control.go, output.go). The store of root trees (the
// cache, closure copies, the tar unpacker, paths resolved inside a tree)
// is executor/store; detached environments seen from outside (the state
// file, ps, exec's client, logs, down) are executor/lifecycle. Both import
// only planner; this package imports them.
//
// The child stage calls the kernel through a seam (sys.go), so that a test
// runs every operation through its switch; stdio.go shares fds 0, 1 and 2
// among the environments of a plan.
//
// "$TID" in a write's path (the plan's /proc/$TID/timens_offsets) is the
// locked thread that unshared the time namespace; "$CHILD" the child's
// pid. The launcher's child becomes root of its user namespace (a new one
// whose maps have a 0, or a joined one) before its execve, which would
// otherwise leave it without capabilities (capabilities(7)).
//
// A failed step is reported with its origin in the spec, its number and
// call as the plan prints them, and the errno. Nothing is left behind:
// all mounts happen in the child's private mount namespace and vanish with
// it; killing the child (PID 1 of its pid namespace) ends every process of
// the environment; a partial cache entry is removed.
//
// The host's nsup binary is visible inside an environment as /proc/1/exe
// while init runs (CVE-2019-5736). It cannot be opened for writing then
// (ETXTBSY, execve(2)), and init outlives every process of its pid
// namespace; a detached init is moreover not dumpable, so that no process
// inside reaches /proc/1/exe or init's fds at all. A sealed copy (memfd,
// as runc does) would close the case of a joined pid namespace, at the
// price of a plan whose execve is no longer /proc/self/exe. Not done yet.
package executor
