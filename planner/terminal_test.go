package planner

import (
	"strings"
	"testing"
)

// With a terminal and no dev mount, the child reopens the terminal's fds
// through a read-only clone (ReadOnlyTerminal), root and rootless, before
// any mount and before the main process's TIOCSCTTY; with a dev, its
// Console step does, and with a mount namespace joined, nsup's Openpty
// step (ReadOnly), the child being unable to clone the host's node, and
// rootless nsup's through its helper (Helper). Before helper-100's
// change rootless nsup reopened nothing without a dev, and before
// helper-112's nothing with a mount namespace joined.
func TestReadOnlyTerminalPlanned(t *testing.T) {
	const base = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
`
	const dev = base + `    mounts: [{type: dev, target: /dev}]
`
	const joined = `version: 1
environments:
  a:
    rootfs: {dir: ./rootfs}
    join: {mnt: b}
    namespaces: [pid]
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
`
	for _, c := range []struct {
		name, yaml     string
		caller         Caller
		child, console int
		hostRO         bool
	}{
		{"root", base, rootCaller, 1, 0, false},
		{"rootless", base, userCaller, 1, 0, false},
		{"root, dev", dev, rootCaller, 0, 1, false},
		{"rootless, dev", dev, userCaller, 0, 1, false},
		{"root, mnt joined", joined, rootCaller, 0, 0, true},
		// The unprivileged nsup clones no mount, nor the child in a
		// namespace that holds no mount of the host's: nsup's helper, in
		// a user namespace of its own, does. Until helper-112's change
		// nothing reopened it, and root inside (the user) chmod'ed the
		// host's /dev/pts/N 666 (TestRootRootlessTerminalJoinedMnt).
		{"rootless, mnt joined", strings.Replace(joined, "{mnt: b}", "{mnt: b, user: b}", 1), userCaller, 0, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := compileText(t, c.yaml, Options{Terminal: true, Caller: &c.caller, Envs: []string{"a"}})
			if err != nil {
				t.Fatal(err)
			}
			child, console, hostRO, mounted, ctty := 0, 0, false, false, false
			for _, st := range ops(p, "a") {
				switch op := st.Op.(type) {
				case ReadOnlyTerminal:
					child++
					if st.Stage != Child || mounted || ctty {
						t.Errorf("%s in stage %s, after a mount %v, after TIOCSCTTY %v", FormatOp(op), st.Stage, mounted, ctty)
					}
				case Console:
					console++
				case Openpty:
					hostRO = op.ReadOnly
					if op.Helper != (op.ReadOnly && !c.caller.Privileged) {
						t.Errorf("%s: Helper %v for a caller privileged %v", FormatOp(op), op.Helper, c.caller.Privileged)
					}
				case Mount:
					mounted = true
				case Setctty:
					ctty = true
				}
			}
			if child != c.child || console != c.console || hostRO != c.hostRO || !ctty {
				t.Errorf("ReadOnlyTerminal %d, Console %d, Openpty.ReadOnly %v, TIOCSCTTY %v; want %d, %d, %v, true",
					child, console, hostRO, ctty, c.child, c.console, c.hostRO)
			}
		})
	}
}
