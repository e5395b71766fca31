package executor_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nsup/nsup/executor"
	"golang.org/x/sys/unix"
)

// TestRootTimeOffsetBounds: offsets just inside the kernel's bounds,
// which the planner lets through, apply: a boot time offset that takes
// the host's uptime (read when planning) back to 0, and a monotonic one
// that takes CLOCK_MONOTONIC to a minute short of KTIME_SEC_MAX/2
// seconds; inside, the clocks are the host's plus them.
func TestRootTimeOffsetBounds(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		skipOrFail(t, "needs gcc")
	}
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	src := filepath.Join(dir, "clock.c")
	os.WriteFile(src, []byte(clockProbe), 0o644)
	if out, err := exec.Command(gcc, "-static", "-O1", "-o", filepath.Join(root, "clock"), src).CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("gcc -static: %v\n%s", err, out))
	}
	track(t, filepath.Join(root, "clock"))
	const maxSec = (1<<63 - 1) / int64(time.Second) / 2 // KTIME_SEC_MAX/2
	for _, nss := range []string{"[mnt, pid, time]", "[user, mnt, pid, time]"} {
		t.Run(nss, func(t *testing.T) {
			var mNow, bNow unix.Timespec
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &mNow)
			unix.ClockGettime(unix.CLOCK_BOOTTIME, &bNow)
			mono := time.Duration(maxSec-mNow.Sec-1-60) * time.Second
			boot := -time.Duration(bNow.Sec) * time.Second
			p := compile(t, dir, fmt.Sprintf(`version: 1
environments:
  clock:
    rootfs: {dir: ./rootfs}
    namespaces: %s
    time: {monotonic: %ds, boottime: %ds}
    mounts:
      - {type: proc, target: /proc}
    processes:
      - {name: main, command: [/bin/sh, -c, "/clock; cat /proc/uptime"]}
`, nss, mono/time.Second, boot/time.Second))
			var before, after, bBefore, bAfter unix.Timespec
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &before)
			unix.ClockGettime(unix.CLOCK_BOOTTIME, &bBefore)
			st, out, errOut, err := run(t, p, executor.Options{})
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &after)
			unix.ClockGettime(unix.CLOCK_BOOTTIME, &bAfter)
			if err != nil || st != 0 {
				t.Fatalf("apply: %d %v\n%s\n%s", st, err, errOut, planText(p))
			}
			var m, b int64
			var up float64
			if n, _ := fmt.Sscan(out, &m, &b, &up); n != 3 {
				t.Fatalf("probe printed %q", out)
			}
			if m-int64(mono) < before.Nano() || m-int64(mono) > after.Nano() {
				t.Errorf("CLOCK_MONOTONIC inside %d ns, want the host's (%d..%d) + %v", m, before.Nano(), after.Nano(), mono)
			}
			if m/1e9 > maxSec {
				t.Errorf("CLOCK_MONOTONIC inside %d s, past KTIME_SEC_MAX/2", m/1e9)
			}
			if b < 0 || b-int64(boot) < bBefore.Nano() || b-int64(boot) > bAfter.Nano() {
				t.Errorf("CLOCK_BOOTTIME inside %d ns, want the host's (%d..%d) %v", b, bBefore.Nano(), bAfter.Nano(), boot)
			}
			if lo, hi := float64(bBefore.Nano()+int64(boot))/1e9-0.01, float64(bAfter.Nano()+int64(boot))/1e9+0.01; up < 0 || up < lo || up > hi {
				t.Errorf("/proc/uptime inside %.2f s, want %.2f..%.2f", up, lo, hi)
			}
		})
	}
}
