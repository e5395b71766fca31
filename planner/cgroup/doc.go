// Package cgroup finds where an environment's cgroups go on this host, at
// plan time: it reads the host's layout (/proc/self/mountinfo, which
// hierarchies are mounted where; /proc/self/cgroup, nsup's own group in
// each; cgroup.controllers and cgroup.subtree_control of the unified
// hierarchy) through an fs.FS, so that tests give it any layout (v2 only,
// v1 only, hybrid, as testdata/), and places each controller an
// environment needs: in the unified hierarchy (cgroup v2) when it is
// there, else in the v1 hierarchy that has it. It reads; it writes
// nothing, and imports nothing of nsup's.
package cgroup
