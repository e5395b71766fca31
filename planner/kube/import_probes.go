package kube

// Import's containers: their probes, a main process's healthcheck.

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/spec"
)

// probes reads the container's probes: an exec readinessProbe (else an
// exec livenessProbe) is the main process's healthcheck.
func (m *importer) probes(co *obj, static map[string]string) *yaml.Node {
	readiness, liveness := co.get("readinessProbe"), co.get("livenessProbe")
	if s := co.get("startupProbe"); s != nil && !empty(s) {
		m.note(s, co.at+".startupProbe", "not carried: nsup's healthcheck has a start_period, not a check of its own for the start")
	}
	var h *yaml.Node
	if readiness != nil && !empty(readiness) {
		h = m.probe(readiness, co.at+".readinessProbe", static)
	}
	if liveness != nil && !empty(liveness) {
		if h != nil {
			m.note(liveness, co.at+".livenessProbe", "not carried: nsup's healthcheck is the readinessProbe, and nsup restarts no process for failing it")
		} else {
			h = m.probe(liveness, co.at+".livenessProbe", static)
			if h != nil {
				m.note(liveness, co.at+".livenessProbe", "translated: a healthcheck, whose failures make the process unhealthy: nsup does not restart it (Kubernetes kills the container)")
			}
		}
	}
	return h
}

// probe is one exec probe as a healthcheck, nil for another kind.
func (m *importer) probe(n *yaml.Node, at string, static map[string]string) *yaml.Node {
	po := m.object(n, at)
	if po == nil {
		return nil
	}
	ex := m.object(po.get("exec"), at+".exec")
	if ex == nil {
		po.rest(nil, "not carried: nsup's healthcheck runs a command (exec)")
		return nil
	}
	argv, _ := ex.strings("command")
	ex.rest(nil, notCarried)
	if len(argv) == 0 || argv[0] == "" {
		m.fail(ex.n, at+".exec.command", "an exec probe needs a command, its program not empty")
		return nil
	}
	lookup := func(k string) (string, bool) { v, ok := static[k]; return v, ok }
	var cmd []string
	for _, a := range argv {
		out, _ := expand(a, lookup)
		cmd = append(cmd, out)
	}
	period, timeout, failures, success, delay := int64(10), int64(1), int64(3), int64(1), int64(0)
	read := func(k string, v *int64, min int64) {
		if x, xn := po.integer(k); xn != nil {
			if x < min {
				m.fail(xn, at+"."+k, "must be at least %d", min)
				return
			}
			*v = x
		}
	}
	read("periodSeconds", &period, 1)
	read("timeoutSeconds", &timeout, 1)
	read("failureThreshold", &failures, 1)
	read("successThreshold", &success, 1)
	read("initialDelaySeconds", &delay, 0)
	po.rest(map[string]string{
		"terminationGracePeriodSeconds": "not carried: nsup kills no process for failing its healthcheck",
	}, notCarried)
	if success > 1 {
		m.note(po.keyNode("successThreshold"), at+".successThreshold", "not carried: one passing check makes the process healthy under nsup, not %d", success)
	}
	if delay != period {
		m.note(po.keyNode("initialDelaySeconds"), at+".initialDelaySeconds", "translated: nsup's first check comes one interval (%ds) after the start, not %ds", period, delay)
	}
	if failures > 1000 {
		m.note(po.keyNode("failureThreshold"), at+".failureThreshold", "translated: nsup's retries are 1000 at most")
		failures = 1000
	}
	h := mapping(false, "command", command(cmd), "interval", str(fmt.Sprintf("%ds", period)), "timeout", str(fmt.Sprintf("%ds", timeout)))
	if failures != int64(spec.DefaultHealthRetries) {
		set(h, "retries", integer(failures))
	}
	return h
}
