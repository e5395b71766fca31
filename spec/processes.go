package spec

// An environment's processes: command, variables, working directory, user, stop timeout, restart policy, healthcheck, children.

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// stopTimeout is a process's grace period: a duration, not negative. It
// returns nil when the value is invalid (the error is reported).
func (d *decoder) stopTimeout(n *yaml.Node, at string) *Duration {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.duration(n, at) // reports what the value is instead
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		d.duration(n, at)
		return nil
	case v < 0:
		d.errorf(n, at, "must not be negative, got %s", quote(n.Value))
		return nil
	}
	return &Duration{Value: v, Pos: pos(n)}
}

// processes decodes a list of processes. Every item yields a *Process, even
// a broken one, so that index i of the result is item i of the YAML list,
// which validate's paths rely on.
func (d *decoder) processes(n *yaml.Node, at string, top bool) []*Process {
	if !d.isList(n, at) {
		return nil
	}
	if top && len(n.Content) == 0 {
		d.errorf(n, at, "must have at least one process")
	}
	out := make([]*Process, 0, len(n.Content))
	for i, item := range n.Content {
		out = append(out, d.process(item, index(at, i)))
	}
	return out
}

func (d *decoder) process(n *yaml.Node, at string) *Process {
	p := &Process{Pos: pos(n)}
	var h hints
	if len(d.envs) > 0 {
		// Decoded inside its environment's: the last one begun.
		e := d.envs[len(d.envs)-1].env
		h = hints{env: e.Name, envLine: e.Pos.Line}
	}
	f, ok := d.fieldsOr(n, at, func(name string, near bool) string { return elsewhere(levelProcess, name, near, h) }, processKeys...)
	if !ok {
		return p
	}
	d.require(f, n, at, "name", "command")
	if v, ok := f.get("name"); ok {
		if s, ok := d.str(v.val, at+".name"); ok {
			if s == "" {
				d.errorf(v.val, at+".name", "must not be empty")
			} else {
				p.Name, p.NamePos = s, pos(v.val)
			}
		}
	}
	if v, ok := f.get("command"); ok && d.isList(v.val, at+".command") {
		if len(v.val.Content) == 0 {
			d.errorf(v.val, at+".command", "must not be empty: give at least the program to run")
		}
		for i, item := range v.val.Content {
			ip := index(at+".command", i)
			s, ok := d.str(item, ip)
			if ok && i == 0 && s == "" {
				d.errorf(item, ip, "must not be empty: it is the program to run")
			}
			p.Command, p.CommandPos = append(p.Command, s), append(p.CommandPos, pos(item))
		}
	}
	if v, ok := f.get("env"); ok {
		p.Env = d.envVars(v.val, at+".env")
	}
	if v, ok := f.get("cwd"); ok {
		p.Cwd = d.absPath(v.val, at+".cwd", absPathMsg)
	}
	if v, ok := f.get("user"); ok {
		p.User = d.user(v.val, at+".user")
	}
	if v, ok := f.get("stop_timeout"); ok {
		p.StopTimeout = d.stopTimeout(v.val, at+".stop_timeout")
	}
	if v, ok := f.get("rlimits"); ok {
		p.Rlimits = d.rlimits(v.val, at+".rlimits")
	}
	if v, ok := f.get("restart"); ok {
		p.Restart = d.restart(v.val, at+".restart")
	}
	if v, ok := f.get("healthcheck"); ok {
		p.Healthcheck = d.healthcheck(v.val, at+".healthcheck")
	}
	if v, ok := f.get("children"); ok {
		p.Children = d.processes(v.val, at+".children", false)
	}
	return p
}

// restartMsg is the message for a restart value that is none of compose's.
const restartMsg = "must be no, on-failure, on-failure:N (N restarts at most, N at least 1) or always"

// restart decodes a restart policy: "no", "on-failure", "on-failure:N" or
// "always". It returns nil for "no" and for a bad value (reported).
func (d *decoder) restart(n *yaml.Node, at string) *Restart {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" && n.Value == "false" {
		return nil // YAML 1.1's no: the policy "no"
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		if n.Kind != yaml.AliasNode {
			d.errorf(n, at, "%s, got %s", restartMsg, describe(n))
		}
		return nil
	}
	r := &Restart{Policy: n.Value, Pos: pos(n)}
	switch policy, max, hasMax := strings.Cut(n.Value, ":"); {
	case n.Value == RestartNo:
		return nil
	case n.Value == RestartAlways, n.Value == RestartOnFailure:
		return r
	case policy == RestartOnFailure && hasMax:
		m, err := strconv.Atoi(max)
		if err != nil || m < 1 || max[0] == '+' {
			d.errorf(n, at, "%s, got %s (write on-failure for no limit)", restartMsg, quote(n.Value))
			return nil
		}
		r.Policy, r.Max = RestartOnFailure, m
		return r
	}
	d.report(pos(n), at, unknownMsg("restart policy", n.Value, []string{RestartNo, RestartOnFailure, RestartAlways}))
	return nil
}

// healthKeys are the keys of a healthcheck.
var healthKeys = []string{"command", "interval", "timeout", "retries", "start_period"}

// healthcheck decodes a process's healthcheck, its defaults applied; nil
// when it is not a mapping with a command.
func (d *decoder) healthcheck(n *yaml.Node, at string) *Healthcheck {
	f, ok := d.fields(n, at, healthKeys...)
	if !ok {
		return nil
	}
	h := &Healthcheck{Pos: pos(n), Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout, Retries: DefaultHealthRetries}
	d.require(f, n, at, "command")
	good := true
	if v, ok := f.get("command"); ok && d.isList(v.val, at+".command") {
		if len(v.val.Content) == 0 {
			d.errorf(v.val, at+".command", "must not be empty: give at least the program to run")
			good = false
		}
		for i, item := range v.val.Content {
			ip := index(at+".command", i)
			s, ok := d.str(item, ip)
			if ok && i == 0 && s == "" {
				d.errorf(item, ip, "must not be empty: it is the program to run")
			}
			good = good && ok && (i > 0 || s != "")
			h.Command, h.CommandPos = append(h.Command, s), append(h.CommandPos, pos(item))
		}
	} else {
		good = false
	}
	for _, k := range []struct {
		key  string
		dst  *time.Duration
		zero bool // 0 is allowed
	}{{"interval", &h.Interval, false}, {"timeout", &h.Timeout, false}, {"start_period", &h.StartPeriod, true}} {
		v, ok := f.get(k.key)
		if !ok {
			continue
		}
		dur := d.stopTimeout(v.val, at+"."+k.key)
		switch {
		case dur == nil:
			good = false
		case dur.Value == 0 && !k.zero:
			d.errorf(v.val, at+"."+k.key, "must be more than 0, got %s", quote(v.val.Value))
			good = false
		default:
			*k.dst = dur.Value
		}
	}
	if v, ok := f.get("retries"); ok {
		r, ok := d.integer(v.val, at+".retries")
		switch {
		case !ok:
			good = false
		case r < 1 || r > maxHealthRetries:
			d.errorf(v.val, at+".retries", "must be between 1 and %d, got %d", maxHealthRetries, r)
			good = false
		default:
			h.Retries = int(r)
		}
	}
	if !good {
		return nil
	}
	return h
}

// maxHealthRetries bounds a healthcheck's retries.
const maxHealthRetries = 1000
