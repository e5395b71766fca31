package planner

// The offsets of a new time namespace, checked against the kernel's
// rules for them (proc_timens_set_offset, kernel/time/namespace.c): for
// each clock, the host's clock now plus the offset must lie within 0 and
// KTIME_SEC_MAX/2 seconds (else ERANGE when the offsets are written).

import (
	"math"
	"strings"
	"time"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// ktimeSecMax is the kernel's KTIME_SEC_MAX: the seconds of KTIME_MAX.
const ktimeSecMax = math.MaxInt64 / int64(time.Second)

// timensMaxSec is the most seconds a clock of a time namespace may read
// when its offset is written: KTIME_SEC_MAX/2 (about 146 years), so that
// KTIME_MAX stays out of reach.
const timensMaxSec = ktimeSecMax / 2

// hostClocks reads this host's CLOCK_MONOTONIC and CLOCK_BOOTTIME.
func hostClocks() (monotonic, boottime time.Duration, err error) {
	var m, b unix.Timespec
	if err = unix.ClockGettime(unix.CLOCK_MONOTONIC, &m); err == nil {
		err = unix.ClockGettime(unix.CLOCK_BOOTTIME, &b)
	}
	return time.Duration(m.Nano()), time.Duration(b.Nano()), err
}

// checkTimeOffsets refuses offsets the kernel refuses: one beyond
// KTIME_SEC_MAX/2 seconds never works; one that would put the clock
// before 0, or past that bound, given the host's clock now, does not work
// on this host now. The clocks only grow while the host runs, so a
// negative offset that passes here passes when the plan is applied, a
// saved one too, until the host reboots (the clocks start again at 0).
// An exported plan is run elsewhere: only the bound is checked.
func (ec *envCompiler) checkTimeOffsets() {
	t := ec.e.Time
	if t == nil {
		return
	}
	var mono, boot time.Duration
	now := !ec.compiler.opts.Export
	if now {
		read := ec.compiler.opts.Clocks
		if read == nil {
			read = hostClocks
		}
		var err error
		if mono, boot, err = read(); err != nil {
			ec.errorf(t.Pos, ec.field+".time", "the host's clocks cannot be read: %v", err)
			return
		}
	}
	for _, c := range []struct {
		key       string
		off, host time.Duration
		pos       spec.Pos
		before    string // what would be before 0
	}{
		{"monotonic", t.Monotonic, mono, t.MonotonicPos, "the environment's CLOCK_MONOTONIC before 0: the host's reads %s"},
		{"boottime", t.Boottime, boot, t.BoottimePos, "the environment's boot time before 0: the host has been up %s"},
	} {
		field := ec.field + ".time." + c.key
		sec, _ := SplitOffset(int64(c.off))
		switch {
		case sec < -ktimeSecMax:
			ec.errorf(c.pos, field, "%s %s is beyond the kernel's bound for an offset (%ds; KTIME_SEC_MAX)", c.key, durationText(c.off), -ktimeSecMax)
		case sec > timensMaxSec:
			ec.errorf(c.pos, field, "%s %s is beyond the kernel's bound for a time namespace's clock (%ds, about 146 years; KTIME_SEC_MAX/2)", c.key, durationText(c.off), timensMaxSec)
		case !now:
		case c.off < -c.host:
			ec.errorf(c.pos, field, "%s %s would put "+c.before+" (the plan reads the clock; an offset of at least %s works)", c.key, durationText(c.off), durationText(wholeSeconds(c.host)), durationText(-wholeSeconds(c.host)))
		case c.off > 0 && c.off > time.Duration(timensMaxSec+1)*time.Second-1-c.host:
			ec.errorf(c.pos, field, "%s %s would put the environment's clock beyond the kernel's bound (%ds, about 146 years; KTIME_SEC_MAX/2) with the host's at %s (the plan reads the clock)", c.key, durationText(c.off), timensMaxSec, durationText(wholeSeconds(c.host)))
		}
	}
}

// wholeSeconds is d to the second below, as a message says it.
func wholeSeconds(d time.Duration) time.Duration { return d.Truncate(time.Second) }

// durationText is d as a spec writes it: 100000h, 8h12m, 1m30s.
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
