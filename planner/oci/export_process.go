package oci

// Export's process: capabilities, resource limits, name, skipped paths.

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// caps is the process's capabilities, made when first needed.
func (x *exporter) caps() *specs.LinuxCapabilities {
	if x.cfg.Process.Capabilities == nil {
		x.cfg.Process.Capabilities = &specs.LinuxCapabilities{}
	}
	return x.cfg.Process.Capabilities
}

// rlimits adds resource limits of the main process to process.rlimits.
func (x *exporter) rlimits(rs ...planner.Prlimit) {
	for _, r := range rs {
		x.cfg.Process.Rlimits = append(x.cfg.Process.Rlimits, specs.POSIXRlimit{Type: r.Resource.String(), Hard: r.Hard, Soft: r.Soft})
	}
}

// skippedPaths notes the paths of the spec's own masked_paths and
// readonly_paths that the plan does not confine: they were not there when
// planned (the plan skips them, as runtimes skip a missing path).
func (x *exporter) skippedPaths() {
	s := x.e.Security
	if s == nil {
		return
	}
	for _, l := range []struct {
		paths *spec.Paths
		key   string
		got   []string
		oci   string
	}{
		{s.MaskedPaths, "masked_paths", x.cfg.Linux.MaskedPaths, "linux.maskedPaths"},
		{s.ReadonlyPaths, "readonly_paths", x.cfg.Linux.ReadonlyPaths, "linux.readonlyPaths"},
	} {
		if l.paths == nil {
			continue
		}
		for i, p := range l.paths.Paths {
			if !slices.Contains(l.got, p.Value) {
				x.note(p.Pos, fmt.Sprintf("%s.security.%s[%d]", x.key, l.key, i),
					"not there when planned, so neither confined by nsup nor listed in %s", l.oci)
			}
		}
	}
}

func (x *exporter) processName() {
	if len(x.e.Process) > 0 {
		x.cfg.Annotations[AnnotationProcess] = x.e.Process[0].Name
	}
}

// callerValues leaves out of an image's config the variables whose values
// came from nsup's caller (the .env file beside the spec, or nsup's
// environment), each with a note: an image is made to be shared, and
// whoever gets it reads its config, where a token of a 0600 .env would
// be for good once pushed; the runtime is given them when it starts the
// container. A bundle (export --oci) keeps them: it is the caller's
// (0600), run where it is made.
func (x *exporter) callerValues() {
	type def struct {
		v   spec.EnvVar
		key string
	}
	var defs []def
	// The plan's own slice: not edited in place.
	x.cfg.Process.Env = slices.Clone(x.cfg.Process.Env)
	for _, v := range x.e.Env {
		defs = append(defs, def{v, x.key + ".env." + v.Name})
	}
	if len(x.e.Process) > 0 {
		for _, v := range x.e.Process[0].Env {
			defs = slices.DeleteFunc(defs, func(d def) bool { return d.v.Name == v.Name })
			defs = append(defs, def{v, x.key + ".processes[0].env." + v.Name})
		}
	}
	for _, d := range defs {
		uses := x.s.CallerValued(d.v)
		if len(uses) == 0 {
			continue
		}
		var from []string
		for _, u := range uses {
			from = append(from, fmt.Sprintf("%s from %s", u.Text, u.From))
		}
		n := len(x.cfg.Process.Env)
		x.cfg.Process.Env = slices.DeleteFunc(x.cfg.Process.Env, func(kv string) bool { return strings.HasPrefix(kv, d.v.Name+"=") })
		if len(x.cfg.Process.Env) == n {
			continue
		}
		x.note(d.v.Pos, d.key, "not in the image: its value came from nsup's caller (%s), which an image, made to be shared, does not carry: give it when the container starts (podman run -e %s or --env-file)",
			strings.Join(from, ", "), d.v.Name)
	}
}
