package kube

import (
	"strings"
	"testing"
)

// TestExportHostNamespacesSaid: what nsup keeps an environment that
// shares a host namespace from, which a Pod does not carry, is said. A
// review of the twelfth stop's fixes exported an environment in the
// host's pid and IPC namespaces (planned only in a user namespace that
// maps root elsewhere): the Pod had hostPID and hostIPC, runAsUser 0,
// no user namespace (Kubernetes gives none beside them) and the
// runtime's default profile, so its root was the host's in the host's
// pid namespace (kill -1, ptrace: what nsup's planner refuses), with
// the host's SysV IPC; the notes said only that the user namespace was
// not carried, nothing of Landlock's scopes or the filter's refusals.
func TestExportHostNamespacesSaid(t *testing.T) {
	_, notes := exportInline(t, `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [user, mnt]
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]
    processes: [{name: main, command: [/bin/sh]}]
`)
	text := notesText(notes)
	for _, want := range []string{
		"the Pod's root is the host's uid 0 in the host's pid namespace",
		"nsup keeps the environment from signalling the host's processes (Landlock) and from changing their limits and priorities (its filter); the Pod is kept from neither",
		"nsup's filter refuses the host's SysV IPC and message queues there; the runtime's default profile does not",
		"nsup keeps the environment from connecting to the host's abstract unix sockets (Landlock); the Pod is not",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no note %q in:\n%s", want, text)
		}
	}
}
