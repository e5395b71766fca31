package main

// A file's errors at once for every command that reads a spec: the
// schema's, the cross-field rules' and the host's, in one run.

import (
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// hostCompile is how a command plans a spec (planner.Compile with its
// options, for environments envs), which withHostErrors and parseAll run
// on what of an invalid spec could be read.
type hostCompile func(s *spec.Spec, envs []string) (*planner.Plan, error)

// parseAll is parseSpecVars for a command that plans the spec with
// compile, for envs (all when empty): the error of an invalid spec holds
// too what compile finds on this host in the environments that could be
// read (withHostErrors). Every command that reads a spec to plan it (run,
// shell, lock, export, restart, as plan and apply) so prints all of a
// file's errors in one run, not the spec's first and the host's after
// those are fixed (helper-152's list).
func parseAll(file string, vars spec.Vars, envs []string, compile hostCompile) (*spec.Spec, error) {
	s, err := parseSpecVars(file, vars)
	if err != nil {
		return nil, withHostErrors(err, envs, compile)
	}
	return s, nil
}
