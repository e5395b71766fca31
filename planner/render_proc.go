package planner

// How the text plan words a process's clone: its output prefix, stop
// timeout, restart policy and healthcheck.

import (
	"fmt"
	"time"
)

// output renders an output label: the prefix of each line the process
// writes.
func output(label string) string {
	if label == "" {
		return ""
	}
	return fmt.Sprintf(", output prefixed %s", q(label+" | "))
}

// bareStop renders how nsup stops the main process of an init: false
// environment (Execve.StopTimeout), "" for another process.
func bareStop(ms *int64) string {
	switch {
	case ms == nil:
		return ""
	case *ms == 0:
		return "; stopped by nsup (no init): SIGKILL at the first SIGINT or SIGTERM"
	}
	return fmt.Sprintf("; stopped by nsup (no init): the first SIGINT or SIGTERM sent on, SIGKILL %v later or at a second", time.Duration(*ms)*time.Millisecond)
}

// stopTimeout renders a process's stop_timeout when it is not the default.
func stopTimeout(ms int64) string {
	if ms == DefaultStopTimeout {
		return ""
	}
	return fmt.Sprintf(", stop_timeout %v", time.Duration(ms)*time.Millisecond)
}

// restart renders a process's restart policy: when init restarts it,
// after what back-off, and, for the main process, when the environment
// ends.
func restart(r *RestartPolicy, main bool) string {
	if r == nil {
		return ""
	}
	when := "restarted whatever its exit status"
	policy := r.Policy
	if r.Policy == "on-failure" {
		when = "restarted if it exits non-zero"
		if r.Max > 0 {
			policy = fmt.Sprintf("on-failure:%d", r.Max)
			when += fmt.Sprintf(", %d times at most", r.Max)
		}
	}
	end := ""
	if main {
		end = "; the environment ends when it exits and is not restarted"
		if r.Policy == "always" {
			end = "; the environment ends only when stopped"
		}
	}
	return fmt.Sprintf(", restart %s: %s, after %v doubling up to %v (back to %v once it has run %v)%s",
		policy, when, RestartBackoffMin, RestartBackoffMax, RestartBackoffMin, RestartBackoffReset, end)
}

// healthcheck renders a process's healthcheck.
func healthcheck(h *Healthcheck) string {
	if h == nil {
		return ""
	}
	argv := h.Argv
	if h.Path != "" && len(argv) > 0 && h.Path != argv[0] {
		argv = append([]string{h.Path}, argv[1:]...)
	}
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	start := ""
	if h.StartPeriodMs > 0 {
		start = fmt.Sprintf(", failures in its first %v not counted until a success", ms(h.StartPeriodMs))
	}
	return fmt.Sprintf(", healthcheck %s as this process, every %v, killed after %v, unhealthy after %d failures in a row%s",
		qlist(argv), ms(h.IntervalMs), ms(h.TimeoutMs), h.Retries, start)
}
