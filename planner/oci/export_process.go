package oci

// Export's process: capabilities, resource limits, name, skipped paths.

import (
	"fmt"
	"slices"

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
