package oci

// Export's process: capabilities, resource limits, name, skipped paths.

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/exportnote"
	"github.com/nsup/nsup/spec"
)

// caps is the process's capabilities, made when first needed.
func (x *exporter) caps() *specs.LinuxCapabilities {
	if x.cfg.Process.Capabilities == nil {
		x.cfg.Process.Capabilities = &specs.LinuxCapabilities{}
	}
	return x.cfg.Process.Capabilities
}

// rlimits adds resource limits of the main process to process.rlimits:
// a later limit of a resource replaces an earlier one (a RLIMIT_NOFILE
// raised first, its soft limit set last), as each type is there once.
func (x *exporter) rlimits(rs ...planner.Prlimit) {
	for _, r := range rs {
		l := specs.POSIXRlimit{Type: r.Resource.String(), Hard: r.Hard, Soft: r.Soft}
		if i := slices.IndexFunc(x.cfg.Process.Rlimits, func(o specs.POSIXRlimit) bool { return o.Type == l.Type }); i >= 0 {
			x.cfg.Process.Rlimits[i] = l
			continue
		}
		x.cfg.Process.Rlimits = append(x.cfg.Process.Rlimits, l)
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

// allCaps notes what `add: [ALL]` became: OCI has no ALL
// (runtime-spec's capabilities are lists of names), so the bundle lists
// what the plan resolved it to, nsup's capabilities on this host, where
// the bundle is made to run; runc refuses a capability it cannot grant
// (one its bounding set lacks), so every name would not start there.
func (x *exporter) allCaps() {
	if x.image || x.e.Security == nil {
		return
	}
	for i, a := range x.e.Security.CapAdd {
		if a.Value == "ALL" {
			x.note(a.Pos, fmt.Sprintf("%s.security.capabilities.add[%d]", x.key, i), "translated: OCI has no ALL: the bundle lists the capabilities nsup gives on this host (the plan's capset, without what this host cannot give); a runtime on a host whose root holds fewer refuses what it cannot grant (runc) or leaves it out (crun)")
			return
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
	x.callerArgs()
	var over []spec.EnvVar
	if len(x.e.Process) > 0 {
		over = x.e.Process[0].Env
	}
	// The plan's own slice: not edited in place.
	x.cfg.Process.Env = slices.Clone(x.cfg.Process.Env)
	for _, v := range planner.MergeEnv(x.e.Env, over) {
		uses := x.s.CallerValued(v)
		if len(uses) == 0 {
			continue
		}
		n := len(x.cfg.Process.Env)
		x.cfg.Process.Env = slices.DeleteFunc(x.cfg.Process.Env, func(kv string) bool { return strings.HasPrefix(kv, v.Name+"=") })
		if len(x.cfg.Process.Env) == n {
			continue
		}
		key := x.key + ".env." + v.Name
		if slices.Contains(over, v) {
			key = x.key + ".processes[0].env." + v.Name
		}
		x.note(v.Pos, key, "not in the image: its value came from nsup's caller (%s), which an image, made to be shared, does not carry: give it when the container starts (podman run -e %s or --env-file)",
			spec.UsesFrom(uses), v.Name)
	}
}

// callerArgs refuses, for an image, a value of nsup's caller in the main
// process's command, working folder or user: the image's entrypoint,
// working folder and user are its config's, for whoever gets it, as its
// variables are, but they cannot be left out (an image without its user
// runs as root) (helper-142's review: a
// .env's token on the command line went into the image while the same
// value in env was left out).
func (x *exporter) callerArgs() {
	for _, a := range x.s.CallerArgs(x.e) {
		x.refused = append(x.refused, Note{Origin: x.s.Origin(a.Pos), Key: x.key + "." + a.Key, Msg: exportnote.CallerArg(a, imageWords)})
	}
}

// imageWords are how an image is named in a caller's value's refusal.
// Left out, the image's processes would run as root.
var imageWords = exportnote.Words{
	What:    "an image",
	Reader:  "whoever gets it",
	Command: "give the value as a variable, left out of the image and given when the container starts (env: {%[1]s: ${%[1]s}}, podman run -e %[1]s), and read it there ($$%[1]s through a shell)",
	User:    "the ids its processes run as for whoever gets it, and left out they would run as root: write the ids in the spec",
}
