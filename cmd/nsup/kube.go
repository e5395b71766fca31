package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/internal/regfile"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/kube"
	"github.com/nsup/nsup/spec"
)

// exportKube prints the Kubernetes manifests of environments envs of s
// (all when none), and on stderr each key that has no equivalent.
func exportKube(s *spec.Spec, envs []string, pf *planFlags, ios ioSet) error {
	p, err := kubePlan(s, envs)
	if err != nil {
		return invalidError{err}
	}
	project := pf.project
	if project == "" {
		project = s.Project()
	}
	out, notes, err := kube.Export(s, p, envs, kube.Options{Image: func(env string) string { return imageRef(pf.registry, project, env) }, Project: pf.project})
	var refused kube.Refused
	if errors.As(err, &refused) {
		return invalidError{fmt.Errorf("%w\nnsup: export: no manifest written", refused)}
	}
	if err != nil {
		return invalidError{err}
	}
	for _, n := range notes {
		fmt.Fprintf(ios.stderr, "nsup: export: %s\n", planner.Shown(n.String()))
	}
	_, err = ios.stdout.Write(out)
	return err
}

// kubePlan is export --kube's plan of environments envs of s (all when
// none).
func kubePlan(s *spec.Spec, envs []string) (*planner.Plan, error) {
	return planner.Compile(s, planner.Options{Envs: envs})
}

// importKube prints the nsup spec of a Kubernetes Pod manifest, and on
// stderr each key that has no equivalent.
func importKube(file string, ios ioSet) error {
	// A regular file only, and one byte more than Import takes, for it to
	// refuse (regfile: a FIFO or a device a repository holds is never
	// opened).
	data, err := regfile.ReadBounded(file, kube.MaxManifest+1)
	if err != nil {
		return invalidError{err}
	}
	out, notes, err := kube.Import(file, data)
	if err != nil {
		return invalidError{err}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	// What nsup prints, nsup must accept.
	if _, err := spec.ParseBytes(file+" (imported)", filepath.Dir(abs), out); err != nil {
		return invalidError{fmt.Errorf("%s: the translation is not a valid nsup spec:\n%w\n%s", file, err, lifecycle.PrintableText(string(out)))}
	}
	for _, n := range notes {
		// A note quotes the manifest's strings: a carriage return or a
		// bidirectional override there rewrote what the caller's
		// terminal showed of the note (Printable).
		fmt.Fprintf(ios.stderr, "nsup: import: %s\n", lifecycle.Printable(n.String()))
	}
	_, err = ios.stdout.Write(out)
	return err
}
