package planner

import (
	"strings"
	"testing"
)

// TestHostShareNotes: an environment whose namespaces lack net is in the
// host's network namespace, where it connects to every port the host
// listens on (127.0.0.1's too) and listens on the host's addresses. A
// reviewer of a spec's plan saw that only as CLONE_NEWNET missing from
// the clone's flags: the plan says it in a note, and likewise the host's
// pid namespace (planned in a user namespace that maps root elsewhere).
// An environment with a network of its own, or one that joins another's
// by name, gets no such note.
func TestHostShareNotes(t *testing.T) {
	root := shRoot(t)
	const netNote = "environments.web.namespaces: no net (nor a network namespace of its own joined): the environment is in the host's network namespace"
	const pidNote = "environments.web.namespaces: no pid (nor a pid namespace of its own joined): the environment is in the host's pid namespace"
	const idmap = "\n    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}"
	env := func(ns, more string) string {
		return `version: 1
environments:
  db:
    rootfs: {dir: ` + root + `}
    namespaces: [mnt, pid, net]
    processes: [{name: main, command: [/bin/sh]}]
  web:
    rootfs: {dir: ` + root + `}
    namespaces: [` + ns + `]` + more + `
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	for _, c := range []struct {
		ns, more string
		net, pid bool
	}{
		{"mnt, pid", "", true, false},
		{"mnt, pid, net", "", false, false},
		{"mnt, pid", "\n    join: {net: db}", false, false},
		{"user, mnt", idmap, true, true},
		{"user, mnt, net", idmap, false, true},
	} {
		p, err := compileLimits(t, env(c.ns, c.more), rootCaller, "hybrid")
		if err != nil {
			t.Errorf("%s%s: %v", c.ns, c.more, err)
			continue
		}
		var notes string
		for _, e := range p.Environments {
			if e.Name == "web" {
				notes = strings.Join(e.Notes, "\n")
			}
		}
		if strings.Contains(notes, netNote) != c.net || strings.Contains(notes, pidNote) != c.pid {
			t.Errorf("%s%s: want the host's net noted %v, pid %v; notes:\n%s", c.ns, c.more, c.net, c.pid, notes)
		}
	}
}
