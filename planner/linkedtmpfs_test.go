package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

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
	for _, d := range []string{"rootfs/bin", "rootfs/tmp", "rootfs/x/t", "rootfs/var", "rootfs/run", "rootfs/dev/mqueue"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "rootfs/bin/sh"), []byte("#!"), 0o755)
	os.Symlink("/tmp", filepath.Join(dir, "rootfs/opt"))
	os.Symlink("x", filepath.Join(dir, "rootfs/lnk"))
	os.Symlink("../run", filepath.Join(dir, "rootfs/var/run"))
	os.Symlink("opt", filepath.Join(dir, "rootfs/opt2"))
	os.Symlink("dev/mqueue", filepath.Join(dir, "rootfs/mq"))
	compile := func(mounts, rest string) error {
		text := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt, pid, ipc]\n    mounts:\n" + mounts + rest + "    processes: [{name: main, command: [/bin/sh]}]\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{Caller: &rootCaller}))
		return err
	}
	const tmp = "      - {type: tmpfs, target: /tmp}\n"
	for _, c := range []struct {
		mounts, rest, want string // want: "" plans
	}{
		{tmp + "      - {type: tmpfs, target: /opt/new}\n", "", "/opt/new passes through the symlink /opt of the root (-> /tmp) and leads below the tmpfs at /tmp (environments.a.mounts[0]), to /tmp/new"},
		// A link to a link to the tmpfs, and a bind's file.
		{tmp + "      - {type: bind, source: ./rootfs/bin/sh, target: /opt2/a/sh}\n", "", "leads below the tmpfs at /tmp (environments.a.mounts[0]), to /tmp/a/sh"},
		{"      - {type: tmpfs, target: /run}\n      - {type: tmpfs, target: /var/run/lock}\n", "", "leads below the tmpfs at /run (environments.a.mounts[0]), to /run/lock"},
		{"      - {type: tmpfs, target: /lnk/t}\n      - {type: tmpfs, target: /x/t/inner}\n", "", "lies below the tmpfs at /lnk/t (environments.a.mounts[0]), whose target passes through the symlink /lnk of the root (-> x) to /x/t"},
		{"      - {type: mqueue, target: /dev/mqueue}\n      - {type: tmpfs, target: /mq/q}\n", "", "leads below the mqueue at /dev/mqueue (environments.a.mounts[0]), to /dev/mqueue/q"},
		// As they lead, they plan; so do masked paths through the link.
		{tmp + "      - {type: tmpfs, target: /tmp/new}\n", "", ""},
		{"      - {type: tmpfs, target: /lnk/t}\n      - {type: tmpfs, target: /lnk/t/inner}\n", "", ""},
		{tmp, "    security: {masked_paths: [/opt/x]}\n", ""},
		// Listed before the tmpfs, it is not below it.
		{"      - {type: tmpfs, target: /opt/new}\n" + tmp, "", ""},
	} {
		err := compile(c.mounts, c.rest)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s%s: %v, want planned", c.mounts, c.rest, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s%s: %v, want refused: %q", c.mounts, c.rest, err, c.want)
		}
	}
}
