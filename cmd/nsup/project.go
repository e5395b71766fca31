package main

// Projects: every detached environment belongs to one (the spec's name
// key, else its folder's name, or -p NAME), recorded in the state
// directory's folder of that name, so that two checkouts never clash. The
// commands of detached environments take ENV, or PROJECT/ENV, and find
// which project is meant here.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// scope is the project a command is about: -p NAME, else the project of
// the spec found from the current folder (nsup.yaml, as nsup run finds
// it); "" if neither (then every project's environments). how says where
// it came from, for messages. A spec found that does not parse (an unset
// variable in its name key, say) is an error: its project is not guessed.
func scope(flag string) (project, how string, err error) {
	if flag != "" {
		return flag, "-p " + flag, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", "", nil
	}
	file, err := specFile(wd)
	if err != nil {
		return "", "", nil
	}
	s, err := spec.ParseVars(file, spec.CallerVars())
	if err != nil {
		return "", "", usageError{fmt.Sprintf("%s is this folder's spec, and its project cannot be told: it does not parse (give -p PROJECT):\n%v", file, err)}
	}
	if s.Project() == "" {
		return "", "", usageError{fmt.Sprintf("%s is this folder's spec, and its folder gives no project name: add name: to it, or give -p PROJECT", file)}
	}
	return s.Project(), file + "'s", nil
}

// withSpecFile is the arguments of validate, plan or apply, [FILE]
// [ENV...], with FILE first: the first argument when it is one (it has a
// dot or a slash, which an environment's name never has), else nsup.yaml
// found as nsup run finds it (specFile: this folder or the nearest above
// that has one), said on stderr as run says it; specFile's error if there
// is none. A bare name is an ENV even when a file here has it: root in an
// environment that may write the folder (a project's, bound for go
// generate) made a file named as the environment, and `sudo nsup up dev`
// applied that file as the spec, on the host, rather than nsup.yaml's
// dev; a spec without an extension is named with a slash (./dev).
func withSpecFile(args []string, ios ioSet) ([]string, error) {
	if len(args) > 0 && isSpecArg(args[0]) {
		return args, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	file, err := specFile(wd)
	if err != nil {
		if st, serr := os.Lstat(args0(args)); serr == nil && !st.IsDir() {
			return nil, usageError{fmt.Sprintf("%v; %s is a file here, not taken as the spec without a slash (an environment's name has none): if it is the spec, name it ./%s", strings.TrimSuffix(err.Error(), ": name the spec file"), planner.Shown(args[0]), planner.Shown(args[0]))}
		}
		return nil, err
	}
	fmt.Fprintf(ios.stderr, "nsup: %s\n", planner.Shown(file))
	return append([]string{file}, args...), nil
}

// args0 is the first of args, "" if none.
func args0(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// checkProject refuses a -p that is no valid project name.
func checkProject(p string) error {
	if p != "" && !spec.ValidName(p) {
		return usageError{fmt.Sprintf("-p %q: not a project name (1 to 63 of a-z, 0-9 and -, beginning and ending with a letter or digit)", p)}
	}
	return nil
}

// envRef is an environment of a project, as the state directory has it.
type envRef struct{ project, name string }

// dir is its project's folder of the state directory.
func (r envRef) dir() string { return filepath.Join(planner.DefaultStateDir(), r.project) }

func (r envRef) String() string { return r.project + "/" + r.name }

// known are the recorded environments of every project, and why they
// could not be read (a state directory refused: another user's, or
// reached through another user's link).
func known() ([]envRef, error) {
	envs, err := lifecycle.ListAll(planner.DefaultStateDir())
	var out []envRef
	for _, e := range envs {
		out = append(out, envRef{e.Project, e.State.Name})
	}
	return out, err
}

// resolve finds the recorded environment arg (ENV or PROJECT/ENV) means
// for command cmd, with project flag (-p): in the project of PROJECT/,
// -p or the current folder's spec; else in the one project that has it.
// An unknown name is an error (nsup exits 1) that names the nearest
// known name, and the other projects that have it.
func resolve(cmd, arg, flag string) (envRef, error) {
	project, name, hasProject := strings.Cut(arg, "/")
	if !hasProject {
		project, name = "", arg
	}
	if !spec.ValidName(name) || hasProject && !spec.ValidName(project) {
		if strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
			// Meant as a spec file (helper-151's trial: `nsup down
			// nosuch.yaml` said it was no environment name).
			if _, err := os.Stat(arg); err != nil {
				return envRef{}, usageError{fmt.Sprintf("%s: no such spec file: %v (%s takes ENV, PROJECT/ENV or one FILE)", arg, errors.Unwrap(err), cmd)}
			}
			return envRef{}, usageError{fmt.Sprintf("%s is not a spec file (%s takes ENV, PROJECT/ENV or one FILE)", arg, cmd)}
		}
		return envRef{}, usageError{fmt.Sprintf("%q is not an environment name (ENV, or PROJECT/ENV)", arg)}
	}
	how := ""
	if !hasProject {
		var err error
		if project, how, err = scope(flag); err != nil {
			return envRef{}, err
		}
	}
	all, listErr := known()
	var here, elsewhere []envRef
	for _, r := range all {
		switch {
		case r.name != name:
		case project == "" || r.project == project:
			here = append(here, r)
		default:
			elsewhere = append(elsewhere, r)
		}
	}
	switch {
	case len(here) == 1:
		return here[0], nil
	case len(here) > 1:
		var names []string
		for _, r := range here {
			names = append(names, r.String())
		}
		return envRef{}, fmt.Errorf("%s: %q is in %d projects (%s): say which, as nsup %s %s, or with -p PROJECT", cmd, name, len(here), strings.Join(names, ", "), cmd, names[0])
	}
	// Unknown: the nearest name of the project (or of all), and where
	// else that name is.
	var cands []string
	for _, r := range all {
		if project == "" || r.project == project {
			if !slices.Contains(cands, r.name) {
				cands = append(cands, r.name)
			}
		}
	}
	where := ""
	if project != "" {
		where = fmt.Sprintf(" in project %s", project)
		if how != "" {
			where += " (" + how + ")"
		}
	}
	if listErr != nil {
		// Not "none is running": the state directory was not read.
		return envRef{}, fmt.Errorf("%s: no detached environment %q%s found: %w", cmd, name, where, listErr)
	}
	msg := fmt.Sprintf("%s: no detached environment %q%s", cmd, name, where)
	if near := spec.Suggest(name, cands); near != "" {
		msg += fmt.Sprintf(": did you mean %s?", near)
	} else if len(cands) > 0 && len(cands) <= 10 {
		msg += fmt.Sprintf(" (there: %s)", strings.Join(cands, ", "))
	} else if len(cands) == 0 && len(elsewhere) == 0 {
		msg += " (none is running: nsup ps lists them)"
	}
	for _, r := range elsewhere {
		msg += fmt.Sprintf("; project %s has one: nsup %s %s", r.project, cmd, r)
	}
	return envRef{}, fmt.Errorf("%s", msg)
}
