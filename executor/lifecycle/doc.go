// Package lifecycle is a detached environment seen from outside, once
// apply (the last part of spec → plan → apply) has let it go: what nsup
// ps, exec, logs and down do, and the formats they share with the
// executor that wrote them.
//
//   - state.go: the state directory (STATEDIR/ENV: lock, state.json,
//     output.log, control.sock; CheckStateDir) and the state file's
//     format, State, which executor's state step writes with WriteState
//     and everything here reads.
//   - ps.go: List, Inspect and Tree (nsup ps).
//   - identify.go: whether an environment runs, read without taking
//     anything: its lock held (/proc/locks) and its init still the
//     recorded process (Identify: start time and namespaces).
//   - down.go: Down (nsup down); logs.go: Logs (nsup logs).
//   - control.go: the control protocol's messages, shared by nsup exec's
//     client side (exec.go: Exec) and init's server side
//     (executor/control.go).
//   - term.go: the pseudo-terminal helpers of nsup exec -t, which the
//     foreground relay of executor's Openpty step uses too.
//   - cgroups.go: the groups nsup made for environments: RemoveGroup
//     (executor's end of an environment, down), CleanCgroups (what ended
//     environments left, at apply, down and ps).
//
// It imports planner (the state directory's file names),
// planner/cgroup (where the groups are), internal/owndir (the state
// directory is the caller's alone) and internal/textsafe (the runes
// Printable hides) and nothing else of nsup's; it
// never prints, and never exits: cmd/nsup does.
package lifecycle
