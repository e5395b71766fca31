package executor_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestRootDevptsMax: root inside opens /dev/ptmx as often as it can; its
// devpts (type dev) stops it at 1024 ptys (ENOSPC), whatever its limits.
// The kernel's pool of ptys is shared by every devpts but the host's
// own (kernel.pty.max less kernel.pty.reserve: 3072 by default); without
// a max of its own, one environment took all 3071 that were free (a
// review of the limits, by hand), and no other environment, nor any
// container of the host's, could open a terminal while it ran. It opens
// 1100 at most, so that the test itself never takes the pool.
func TestRootDevptsMax(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	secProbe(t, root)
	p := compile(t, dir, `version: 1
environments:
  pty:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: dev, target: /dev}
    processes:
      - {name: main, command: [/probe, "ptys:1100"]}
`)
	res := probeResults(runOK(t, p))
	f := strings.Fields(res["ptys"])
	if len(f) != 2 {
		t.Fatalf("probe: ptys: %q", res["ptys"])
	}
	n, _ := strconv.Atoi(f[0])
	t.Logf("%d ptys opened, then %s", n, f[1])
	if n > 1024 || f[1] != "ENOSPC" {
		t.Errorf("%d ptys opened (then %s): want at most 1024, then ENOSPC (the devpts's max)", n, f[1])
	}
}
