package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/nsup/nsup/spec"
)

// TestTimeOffsetBounds: offsets the kernel refuses when they are written
// (proc_timens_set_offset: the host's clock plus the offset within 0 and
// KTIME_SEC_MAX/2 seconds) are refused at plan time, at their key's
// value (as rlimits are), saying why; those just inside plan. The host here has been up
// 8h12m, CLOCK_MONOTONIC (which stops in suspend) reads 8h.
func TestTimeOffsetBounds(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, nil, nil)
	clocks := func() (time.Duration, time.Duration, error) { return 8 * time.Hour, 8*time.Hour + 12*time.Minute, nil }
	// 4611686018s: KTIME_SEC_MAX/2; 1281023h = 4611682800s.
	bound := "beyond the kernel's bound for a time namespace's clock (4611686018s, about 146 years; KTIME_SEC_MAX/2)"
	for _, c := range []struct {
		time, want, at string
	}{
		{time: "{boottime: -100000h}", at: "t.yaml:7:22", want: "environments.a.time.boottime: boottime -100000h would put the environment's boot time before 0: the host has been up 8h12m (the plan reads the clock; an offset of at least -8h12m works)"},
		{time: "{monotonic: -8h0m1s}", at: "t.yaml:7:23", want: "monotonic -8h0m1s would put the environment's CLOCK_MONOTONIC before 0: the host's reads 8h (the plan reads the clock; an offset of at least -8h works)"},
		{time: "{monotonic: -8h, boottime: -8h12m}"},
		{time: "{monotonic: 2000000h}", at: "t.yaml:7:23", want: "monotonic 2000000h is " + bound},
		{time: "{boottime: 1281024h}", want: "boottime 1281024h is " + bound},
		{time: "{boottime: -2562047h}", want: "boottime -2562047h would put"},
		{time: "{boottime: -2562047h47m16.854775808s}", want: "boottime -2562047h47m16.854775808s is beyond the kernel's bound for an offset (-9223372036s; KTIME_SEC_MAX)"},
		// Within the bound alone, beyond it with the host's clock added.
		{time: "{monotonic: 1281020h}", want: "monotonic 1281020h would put the environment's clock beyond the kernel's bound (4611686018s, about 146 years; KTIME_SEC_MAX/2) with the host's at 8h (the plan reads the clock)"},
		{time: "{monotonic: 1281015h, boottime: 1281014h}"},
		// Both at once, each at its own key.
		{time: "{monotonic: -9h, boottime: 2000000h}", want: "t.yaml:7:23: environments.a.time.monotonic: monotonic -9h would put"},
		{time: "{monotonic: -9h, boottime: 2000000h}", want: "t.yaml:7:38: environments.a.time.boottime: boottime 2000000h is beyond"},
	} {
		text := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt, pid, time]\n    processes: [{name: main, command: [/bin/sh]}]\n    time: " + c.time + "\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{CacheDir: dir, Caller: &rootCaller, Clocks: clocks}))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want planned", c.time, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want refused: %q", c.time, err, c.want)
		case c.at != "" && !strings.Contains(err.Error(), c.at+": "):
			t.Errorf("%s: %v, want at %s", c.time, err, c.at)
		}
	}
	// Exported, the plan is run elsewhere: only the bound is checked.
	for _, c := range []struct{ time, want string }{{"{boottime: -100000h}", ""}, {"{monotonic: 2000000h}", bound}} {
		text := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt, pid, time]\n    processes: [{name: main, command: [/bin/sh]}]\n    time: " + c.time + "\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{CacheDir: dir, Caller: &rootCaller, Clocks: clocks, Export: true}))
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("exported %s: %v, want %q", c.time, err, c.want)
		}
	}
}
