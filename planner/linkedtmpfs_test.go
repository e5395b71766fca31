package planner

import "testing"

// TestMountLinkedBelowTmpfsRefused (helper-66's review): a mount whose
// target leads through a symlink of a dir root below an earlier tmpfs
// (or mqueue), or lies below where such a mount's own target leads, was
// planned by its path from the root, its walk crossing mounts (it led
// into the tmpfs), and the writer of the tree pointed the link at a host
// folder bound inside after the plan: the missing folder was made there
// (TestRootMissingFolderLinkedThroughTmpfs). Refused now, naming where
// it leads, as below a bind; written as it leads it plans, and so does a
// masked path through such a link (a tmpfs's own files are fresh).
func TestMountLinkedBelowTmpfsRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/tmp", "rootfs/x/t", "rootfs/var", "rootfs/run", "rootfs/dev/mqueue"},
		map[string]string{"rootfs/opt": "/tmp", "rootfs/lnk": "x", "rootfs/var/run": "../run", "rootfs/opt2": "opt", "rootfs/mq": "dev/mqueue"})
	const tmp = "      - {type: tmpfs, target: /tmp}\n"
	checkRefusals(t, dir, "mnt, pid, ipc", "", fixedOptions(Options{Caller: &rootCaller}), []refusal{
		{tmp + "      - {type: tmpfs, target: /opt/new}\n", "", "/opt/new passes through the symlink /opt of the root (-> \"/tmp\") and leads below the tmpfs at /tmp (environments.a.mounts[0]), to /tmp/new"},
		// A link to a link to the tmpfs, and a bind's file.
		{tmp + "      - {type: bind, source: ./rootfs/bin/sh, target: /opt2/a/sh}\n", "", "leads below the tmpfs at /tmp (environments.a.mounts[0]), to /tmp/a/sh"},
		{"      - {type: tmpfs, target: /run}\n      - {type: tmpfs, target: /var/run/lock}\n", "", "leads below the tmpfs at /run (environments.a.mounts[0]), to /run/lock"},
		{"      - {type: tmpfs, target: /lnk/t}\n      - {type: tmpfs, target: /x/t/inner}\n", "", "lies below the tmpfs at /lnk/t (environments.a.mounts[0]), whose target passes through the symlink /lnk of the root (-> \"x\") to /x/t"},
		{"      - {type: mqueue, target: /dev/mqueue}\n      - {type: tmpfs, target: /mq/q}\n", "", "leads below the mqueue at /dev/mqueue (environments.a.mounts[0]), to /dev/mqueue/q"},
		// As they lead, they plan; so do masked paths through the link.
		{tmp + "      - {type: tmpfs, target: /tmp/new}\n", "", ""},
		{"      - {type: tmpfs, target: /lnk/t}\n      - {type: tmpfs, target: /lnk/t/inner}\n", "", ""},
		{tmp, "    security: {masked_paths: [/opt/x]}\n", ""},
		// Listed before the tmpfs, it is not below it: covered by it,
		// where it lands (shadowedByLater).
		{"      - {type: tmpfs, target: /opt/new}\n" + tmp, "", "t.yaml:7:9: environments.a.mounts[0]: the tmpfs at /opt/new (it lands at /tmp/new) lies below environments.a.mounts[1] at /tmp, listed after it, through the root's links, and is covered by it whole once mounted"},
	})
}
