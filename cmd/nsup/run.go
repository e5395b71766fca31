package main

// nsup run and nsup shell: the one-liners, over apply and exec.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

const runHelp = `Runs CMD in a fresh environment ENV of the spec, in the foreground, and
removes it when CMD ends (as docker run --rm): ENV's namespaces, root,
mounts and limits, with CMD in place of its processes (the main process's
variables, working folder and user). FILE defaults to nsup.yaml in this
folder or the nearest folder above that has one, as compose finds its
file. The exit status is CMD's.

  nsup run godev -- go test ./...
  nsup run examples/hello.yaml hello -- /bin/sh -c 'echo $$'
`

const shellHelp = `Opens an interactive shell: in the running detached environment ENV (as
nsup exec -t), or else in a fresh one of the spec, removed when the shell
ends. The shell is $SHELL when the tree has it, else bash, else sh. ENV may
be left out when the spec has one environment; FILE defaults to nsup.yaml
in this folder or the nearest folder above that has one.
`

// specFile is nsup.yaml in dir or the nearest folder above it that has
// one, found as git finds a repository it may trust: a spec found so is
// applied as its caller, root perhaps, so it must be the caller's (or
// root's: SUDO_UID names the caller under sudo), a file and not a link,
// writable by its owner only, in a folder only its owner may replace it
// in (not writable by others, or sticky as /tmp is). Another is refused
// with its path, not skipped: a spec nearer than the one meant is a
// surprise to say. A folder with both nsup.yaml and nsup.yml is refused:
// root in an environment that may write the folder of an nsup.yml (bound
// read-only over itself, planner/specfiles.go) could add an nsup.yaml
// of its own beside it, which the next nsup run would have taken first.
func specFile(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		for i, n := range specNames {
			p := filepath.Join(d, n)
			st, err := os.Lstat(p)
			if err != nil {
				continue
			}
			for _, other := range specNames[i+1:] {
				if _, err := os.Lstat(filepath.Join(d, other)); err == nil {
					return "", usageError{fmt.Sprintf("both %s and %s are in %s: neither is used, since an environment that may write the folder could have added one beside the other; name the spec file, and remove the one not meant", n, other, d)}
				}
			}
			if why := spec.Untrusted(st, d); why != "" {
				return "", usageError{fmt.Sprintf("%s found, but not used: %s; name the spec file if it is meant", p, why)}
			}
			return p, nil
		}
		if d == filepath.Dir(d) {
			return "", usageError{fmt.Sprintf("no nsup.yaml in %s or any folder above it: name the spec file", dir)}
		}
	}
}

// specNames are the names of a spec found rather than named, in the order
// they were looked for.
var specNames = []string{"nsup.yaml", "nsup.yml"}

// isSpecArg says whether the argument a names a spec file rather than an
// environment: it has a dot or a slash, which an environment's name never
// has. Never whether a file of that name is here: root in an environment
// that may write the folder (a project bound writable) made a file named
// as an environment, and a command of the host's root took it as the
// spec. The one rule of run, shell, validate, plan, apply, up and down.
func isSpecArg(a string) bool { return strings.ContainsAny(a, "./") }

// specAndEnv reads the spec of args ([FILE] [ENV]) and finds ENV in it
// ("" and a spec of one environment: that one). The error of an invalid
// spec holds what plan(s, e), the command's planning of ENV, finds on the
// host when ENV could be read (parseAll).
func specAndEnv(args []string, cmd string, ios ioSet, plan func(s *spec.Spec, e *spec.Environment) error) (*spec.Spec, *spec.Environment, error) {
	var file, env string
	switch {
	case len(args) > 2:
		return nil, nil, usageError{cmd + " takes [FILE] and an ENV"}
	case len(args) == 2:
		file, env = args[0], args[1]
	case len(args) == 1 && isSpecArg(args[0]):
		file = args[0]
	case len(args) == 1:
		env = args[0]
	}
	if file == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, nil, err
		}
		if file, err = specFile(wd); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(ios.stderr, "nsup: %s\n", planner.Shown(file))
	}
	var envs []string
	if env != "" {
		envs = []string{env}
	}
	s, err := parseAll(file, spec.CallerVars(), envs, func(s *spec.Spec, _ []string) (*planner.Plan, error) {
		e := s.Env(env)
		if env == "" && len(s.Environments) == 1 {
			e = s.Environments[0]
		}
		if e == nil {
			return nil, nil
		}
		return nil, plan(s, e)
	})
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, e := range s.Environments {
		names = append(names, e.Name)
	}
	if env == "" {
		if len(s.Environments) != 1 {
			return nil, nil, usageError{fmt.Sprintf("%s has %d environments (%s): name one", file, len(names), strings.Join(names, ", "))}
		}
		return s, s.Environments[0], nil
	}
	e := s.Env(env)
	if e == nil {
		return nil, nil, usageError{fmt.Sprintf("%s has no environment %q (it has %s)", file, env, strings.Join(names, ", "))}
	}
	return s, e, nil
}

// withCommand is s with e's processes replaced by one main process that
// runs argv with the main process's variables, working folder and user.
func withCommand(s *spec.Spec, e *spec.Environment, argv []string) *spec.Spec {
	// Everything of the main process's (variables, folder, user, limits,
	// stop timeout) but its command and children.
	p := new(spec.Process)
	*p = *e.Process[0]
	p.Command, p.Children = argv, nil
	ne := *e
	ne.Process = []*spec.Process{p}
	ns := *s
	ns.Environments = nil
	for _, o := range s.Environments {
		if o.Name == e.Name {
			ns.Environments = append(ns.Environments, &ne)
		} else {
			ns.Environments = append(ns.Environments, o)
		}
	}
	return &ns
}

func runRun(ctx context.Context, args []string, ios ioSet) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(ios.stdout, commandHelp(commandNamed("run")))
		return nil
	}
	dash := -1
	for i, a := range args {
		if a == "--" {
			dash = i
			break
		}
	}
	if dash < 1 || dash == len(args)-1 {
		return usageError{"run takes [FILE] ENV -- CMD...: nsup run godev -- go test ./..."}
	}
	argv, tty := args[dash+1:], isTerminal(ios.stdin)
	s, e, err := specAndEnv(args[:dash], "run", ios, func(s *spec.Spec, e *spec.Environment) error {
		_, err := compileSpec(withCommand(s, e, argv), []string{e.Name}, nil, false, tty)
		return err
	})
	if err != nil {
		return err
	}
	return applyFresh(ctx, withCommand(s, e, argv), e.Name, ios)
}

// applyFresh applies environment env of s in the foreground (it leaves
// nothing behind), as nsup apply FILE ENV does.
func applyFresh(ctx context.Context, s *spec.Spec, env string, ios ioSet) error {
	sigs, subscribed := executor.Subscribe()
	defer func() {
		<-subscribed
		if !exiting {
			signal.Stop(sigs)
		}
	}()
	idx := planner.NewIndex(planner.DefaultCacheDir())
	p, err := compileSpec(s, []string{env}, idx, false, isTerminal(ios.stdin))
	if err != nil {
		return err
	}
	return applyPlan(ctx, p, idx, false, false, ios, sigs, subscribed)
}

// shells are the shells tried, in order: $SHELL, bash, sh.
func shells() []string {
	var out []string
	if sh := os.Getenv("SHELL"); sh != "" {
		out = append(out, sh)
	}
	return append(out, "bash", "sh")
}

func runShell(ctx context.Context, args []string, ios ioSet) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(ios.stdout, commandHelp(commandNamed("shell")))
		return nil
	}
	// A running detached environment of that name: a shell in it.
	if len(args) > 0 && !isSpecArg(args[len(args)-1]) {
		if ref, err := resolve("shell", args[len(args)-1], ""); err == nil {
			if st, err := lifecycle.Inspect(ref.dir(), ref.name); err == nil && st.Running {
				return shellIn(ctx, ref, ios)
			}
		}
	}
	tty := isTerminal(ios.stdin)
	s, e, err := specAndEnv(args, "shell", ios, func(s *spec.Spec, e *spec.Environment) error {
		_, err := withShell(s, e, tty)
		return err
	})
	if err != nil {
		return err
	}
	ns, err := withShell(s, e, tty)
	if err != nil {
		return fmt.Errorf("no shell in environment %s's tree (tried %s): %w", e.Name, strings.Join(shells(), ", "), err)
	}
	return applyFresh(ctx, ns, e.Name, ios)
}

// withShell is s with e running the first of shells() that plans, or
// the error of the first one tried.
func withShell(s *spec.Spec, e *spec.Environment, tty bool) (*spec.Spec, error) {
	var first error
	for _, sh := range shells() {
		ns := withCommand(s, e, []string{sh})
		_, err := compileSpec(ns, []string{e.Name}, nil, false, tty)
		if err == nil {
			return ns, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// shellIn runs a shell in the running environment ref, with a terminal.
func shellIn(ctx context.Context, ref envRef, ios ioSet) error {
	tty := isTerminal(ios.stdin)
	std, err := execStdio(ios, tty)
	if err != nil {
		return err
	}
	defer std.End(lifecycle.CopyGrace)
	for _, sh := range shells() {
		st, err := lifecycle.Exec(ctx, ref.dir(), ref.name, lifecycle.ExecOptions{
			Argv: []string{sh}, TTY: tty, Term: os.Getenv("TERM"), Stdin: std.Files[0], Stdout: std.Files[1], Stderr: std.Files[2]})
		var ee *lifecycle.ExecError
		if errors.As(err, &ee) && ee.Errno == unix.ENOENT {
			continue // not in its tree: the next one
		}
		if err != nil {
			return err
		}
		if st != 0 {
			return exitStatus(st)
		}
		return nil
	}
	return fmt.Errorf("no shell in environment %s (tried %s)", ref, strings.Join(shells(), ", "))
}
