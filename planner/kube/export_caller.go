package kube

// Export and nsup's caller: a value a ${VAR} of the caller gave (the .env
// file beside the spec, nsup's environment) is not written in a
// manifest, which is made to be checked in and shared.

import (
	"github.com/nsup/nsup/planner/exportnote"
	"github.com/nsup/nsup/spec"
)

// Refused are the keys Export cannot write, each at its FILE:LINE:COL.
type Refused []Note

func (r Refused) Error() string { return exportnote.Lines(r) }

// callerValued puts a variable whose value came from nsup's caller (the
// .env file, nsup's environment: a ${VAR} of its value) in the container
// as a reference to the environment's Secret, PROJECT-ENV-env, with a
// note: a manifest is made to be shared (checked in, applied by others),
// and it held a 0600 .env's token. The Secret is the user's to make.
func (x *exporter) callerValued(e *spec.Environment, v spec.EnvVar, key string, c *container) bool {
	uses := x.s.CallerValued(v)
	if len(uses) == 0 {
		return false
	}
	secret := x.claimName(e.Name) + "-env"
	c.Env = append(c.Env, envVar{Name: v.Name, ValueFrom: &envVarSource{SecretKeyRef: &secretKeySelector{Name: secret, Key: v.Name}}})
	x.note(v.Pos, key+".env."+v.Name, "translated: its value came from nsup's caller (%s), which a manifest, made to be shared, does not carry: read from key %s of the Secret %s, yours to create (kubectl create secret generic %s --from-literal=%s=...; podman kube play takes a Secret's manifest too)",
		spec.UsesFrom(uses), v.Name, secret, secret, v.Name)
	return true
}

// callerArgs refuses a value of nsup's caller in the main process's
// command, working folder or user: the manifest would write it as it is
// (the container's command, workingDir, runAsUser), and it cannot be left
// out, as --image refuses it in the image's entrypoint.
func (x *exporter) callerArgs(e *spec.Environment) {
	for _, a := range x.s.CallerArgs(e) {
		x.refused = append(x.refused, Note{File: x.s.File, Pos: a.Pos, Key: envKey(e) + "." + a.Key, Msg: exportnote.CallerArg(a, manifestWords)})
	}
}

// manifestWords are how a manifest is named in a caller's value's
// refusal. Left out, the container would run as its image's user.
var manifestWords = exportnote.Words{
	What:    "a manifest",
	Reader:  "whoever reads it",
	Command: "give the value as a variable (env: {%[1]s: ${%[1]s}}), which the container reads from the environment's Secret, and read it there ($$%[1]s through a shell)",
	User:    "the ids its container runs as (runAsUser, runAsGroup) for whoever reads it, and left out it would run as its image's user (root): write the ids in the spec",
}

// callerProject refuses a project name (the spec's name) that nsup's
// caller gave, unless the caller gave the project itself (Options.Project,
// nsup export -p): the manifest writes it in every object's labels and
// the claims' names (and the default images' names), which cannot be
// left out: a claim is named after its project.
func (x *exporter) callerProject() {
	if x.opts.Project != "" {
		return
	}
	if uses := x.s.CallerProject(); len(uses) > 0 {
		x.refused = append(x.refused, Note{File: x.s.File, Pos: x.s.NamePos, Key: "name",
			Msg: exportnote.Refusal(uses, manifestWords.What, "the project in its labels and its claims' names for whoever reads it: write the name in the spec, or give it to export (nsup export -p NAME)")})
	}
}
