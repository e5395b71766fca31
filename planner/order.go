package planner

// Which environments a plan holds, in which order: after those whose namespaces they join by name.

import (
	"fmt"
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
	return envs, nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
