package planner

import "testing"

// TestMaskThroughLinkToKernelMountRefused (helper-65's review): a masked
// or read-only path, or a mount, spelled through a symlink of a dir root
// that leads below a proc, a sysfs or a dev of the spec's lies below no
// mount as written: linkedBelowBind looked for binds only, and the path
// was the root's own, skipped when the tree's folder lacked it and else
// placed by its path after every mount, where the writer of the tree
// sent it to a folder of its own (TestRootMaskThroughLinkToProc: root
// inside read the real /proc/keys). Refused now, naming where it leads;
// the same paths written as they lead, a link to a tmpfs's folder, and
// the default masks of a proc whose target passes through a link, plan.
func TestMaskThroughLinkToKernelMountRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/proc", "rootfs/sys", "rootfs/dev", "rootfs/run", "rootfs/var", "rootfs/x/proc", "empty"},
		map[string]string{"rootfs/lnk": "proc", "rootfs/s": "/sys", "rootfs/d": "dev", "rootfs/p": "x", "rootfs/var/run": "../run"})
	const (
		proc  = "      - {type: proc, target: /proc}\n"
		sysfs = "      - {type: sysfs, target: /sys}\n"
		dev   = "      - {type: dev, target: /dev}\n"
	)
	checkRefusals(t, dir, "mnt, pid, net", "", fixedOptions(Options{Caller: &rootCaller}), []refusal{
		{proc, "    security: {masked_paths: [/lnk/keys]}\n", "leads below the proc at /proc (environments.a.mounts[0]), to /proc/keys"},
		{proc, "    security: {masked_paths: [/lnk/../lnk/sys/kernel]}\n", "to /proc/sys/kernel"},
		{sysfs, "    security: {masked_paths: [/s/firmware]}\n", "leads below the sysfs at /sys (environments.a.mounts[0]), to /sys/firmware"},
		{dev, "    security: {masked_paths: [/d/shm]}\n", "leads below the dev at /dev (environments.a.mounts[0]), to /dev/shm"},
		// A mount that hides one of proc's, by its path through the link.
		{proc + "      - {type: tmpfs, target: /lnk/sys, readonly: true}\n", "", "leads below the proc at /proc (environments.a.mounts[0]), to /proc/sys"},
		// proc's own target through a link, a masked path written as it
		// leads.
		{"      - {type: proc, target: /p/proc}\n", "    security: {masked_paths: [/x/proc/keys]}\n", "lies below the proc at /p/proc (environments.a.mounts[0]), whose target passes through the symlink /p of the root (-> \"x\") to /x/proc"},
		{proc, "    security: {masked_paths: [/proc/keys]}\n", ""},
		{"      - {type: proc, target: /p/proc}\n", "", ""},
		{"      - {type: proc, target: /p/proc}\n", "    security: {masked_paths: [/p/proc/keys]}\n", ""},
		{"      - {type: tmpfs, target: /run}\n", "    security: {masked_paths: [/var/run/x]}\n", ""},
		// A mount listed before proc is not below it: covered by it,
		// where it lands (shadowedByLater).
		{"      - {type: tmpfs, target: /lnk/sys}\n" + proc, "", "t.yaml:7:9: environments.a.mounts[0]: the tmpfs at /lnk/sys (it lands at /proc/sys) lies below environments.a.mounts[1] at /proc, listed after it, through the root's links, and is covered by it whole once mounted"},
	})
}
