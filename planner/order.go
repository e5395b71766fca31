package planner

// Which environments a plan holds, in which order: after those whose namespaces they join by name.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
)

// order selects the environments to plan, each after those whose
// namespaces it joins by name (they must exist before it can enter them):
// spec.JoinOrder. spec.Parse has already refused cycles.
func (c *compiler) order() ([]*spec.Environment, error) {
	envs, missing := c.s.JoinOrder(c.opts.Envs...)
	if len(missing) > 0 {
		var names []string
		for _, e := range c.s.Environments {
			names = append(names, e.Name)
		}
		return nil, fmt.Errorf("%s: no environment named %s (the file has %s)",
			c.s.File, strings.Join(quoteAll(missing), ", "), strings.Join(names, ", "))
	}
	return c.keep(envs), nil
}

// keep leaves out of envs, detached with Options.Running, an environment
// the caller did not name that runs, if what the plan holds needs of it
// only its health (depends_on) or namespaces its pod's holder holds: a
// join of another of its namespaces needs its processes, which a plan
// cannot hold (it is then planned, and apply says it runs already).
func (c *compiler) keep(envs []*spec.Environment) []*spec.Environment {
	o := c.opts
	if !o.Detach || o.Running == nil || len(o.Envs) == 0 || c.projectDir == "" {
		return envs
	}
	var out []*spec.Environment
	for _, e := range envs {
		if slices.Contains(o.Envs, e.Name) || !o.Running(filepath.Join(c.projectDir, e.Name)) || c.joinedOwn(envs, e.Name) {
			out = append(out, e)
			continue
		}
		if c.kept == nil {
			c.kept = map[string]bool{}
		}
		c.kept[e.Name] = true
	}
	return out
}

// joinedOwn says whether one of envs joins a namespace of name that is
// not its pod's.
func (c *compiler) joinedOwn(envs []*spec.Environment, name string) bool {
	for _, e := range envs {
		for _, j := range e.Join {
			if j.Ref == name && c.pods[name]&nsFlag(j.Type) == 0 {
				return true
			}
		}
	}
	return false
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
