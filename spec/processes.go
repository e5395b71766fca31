package spec

// An environment's processes: command, variables, working directory, user, stop timeout, children.

import (
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
			p.Command = append(p.Command, s)
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
	if v, ok := f.get("children"); ok {
		p.Children = d.processes(v.val, at+".children", false)
	}
	return p
}
