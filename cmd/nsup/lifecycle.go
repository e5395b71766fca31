package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// The commands of detached environments (nsup apply -d): exec, logs,
// down and restart here, ps and port in ps.go. They read the state
// directory (planner.DefaultStateDir: $NSUP_STATE_DIR, /run/nsup for
// root, else $XDG_RUNTIME_DIR/nsup), a folder per project (project.go).

const execHelp = `Runs CMD inside the running detached environment ENV: in every one of its
namespaces (user and mnt included), under its root, with the environment
variables, working directory and user of its main process (or of process
P), as a child of its init. Without -t, CMD gets nsup's stdin, stdout and
stderr through pipes nsup copies (/dev/null as a read-only clone of it,
so that root inside cannot chmod it; stdin is read ahead); with -t, a terminal of its own (window size, job control)
relayed to nsup's, from the environment's own devpts (a dev mount's; without
one, a host pty reopened through a read-only clone of it, made rootless
in a user and mount namespace of nsup's own). nsup exits with CMD's status (126: not executable,
127: not found; 1: the environment has no process P).`

const logsHelp = `Prints the output of the detached environment ENV (its processes' stdout
and stderr; lines are prefixed with ENV/PROCESS when it has several) and
nsup's own messages about it ("nsup: ..."); a line of a single process
that could be taken for one of these is prefixed with ENV/PROCESS too.
With -f, follows it until the environment ends. On a terminal, control
characters and escape sequences (colours aside) are shown as "?" and a
carriage return alone as a new line; redirected or piped, the log is
copied as it is.`

const downHelp = `Stops detached environments and removes their state: init gets SIGTERM
and stops the process tree deepest first (SIGTERM, then SIGKILL after each
process's stop_timeout); if it is still there once that time is over, it
is killed. down waits until every process of the environment is gone. An
environment that ended on its own is only cleaned up. Given a FILE, takes
down its environments (in its project), those that join others first; one
that is not running is no error. With no argument, takes down the project
of the nsup.yaml of this folder (or of -p PROJECT). ENV may be written
PROJECT/ENV; an ENV that no project has is an error (exit status 1) that
names the nearest one.`

// lifecycleFlags declares the flags of ps, exec and logs.
func lifecycleFlags(name string, fs *pflag.FlagSet, pf *planFlags) {
	switch name {
	case "ps":
		fs.BoolVarP(&pf.all, "all", "a", false, "every project's environments (default: this folder's project, if its nsup.yaml names one)")
		fs.BoolVar(&pf.json, "json", false, "print the environments as JSON")
		fs.BoolVar(&pf.tree, "tree", false, "show each running environment's process tree")
	case "exec":
		fs.StringVarP(&pf.process, "process", "p", "", "run as process `P` of the tree does (its env, cwd and user; default: the main process)")
		fs.BoolVarP(&pf.tty, "tty", "t", false, "give CMD a terminal of its own")
	case "logs":
		fs.BoolVarP(&pf.follow, "follow", "f", false, "follow the output until the environment ends")
	}
}

// printDetached reports the environments nsup apply -d brought up.
func printDetached(ios ioSet, p *planner.Plan) error {
	dir := filepath.Join(planner.DefaultStateDir(), p.Project)
	tw := tabwriter.NewWriter(ios.stdout, 0, 4, 2, ' ', 0)
	for _, e := range p.Environments {
		st, err := lifecycle.Inspect(dir, e.Name)
		if err != nil {
			return err
		}
		if st.State.NotStarted != "" {
			fmt.Fprintf(tw, "%s\t%s\n", e.Name, st.Status())
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\tpid %d\tlog %s\n", e.Name, st.Status(), st.State.Pid, st.Log())
	}
	return tw.Flush()
}

func runExec(ctx context.Context, args []string, ios ioSet) error {
	fs, pf := newFlags("exec")
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Sprintf("exec: %v", err)}
	}
	if h, _ := fs.GetBool("help"); h {
		fmt.Fprint(ios.stdout, commandHelp(commandNamed("exec")))
		return nil
	}
	rest := fs.Args()
	var env string
	var argv []string
	if dash := fs.ArgsLenAtDash(); dash >= 0 {
		if dash != 1 {
			return usageError{"exec takes one ENV before --"}
		}
		env, argv = rest[0], rest[1:]
	} else if len(rest) > 0 {
		env, argv = rest[0], rest[1:]
	}
	if env == "" || len(argv) == 0 {
		return usageError{"exec takes an ENV and a command: nsup exec ENV [--process P] [-t] -- CMD..."}
	}
	if err := checkProject(pf.project); err != nil {
		return err
	}
	ref, err := resolve("exec", env, pf.project)
	if err != nil {
		return err
	}
	std, err := execStdio(ios, pf.tty)
	if err != nil {
		return err
	}
	st, err := lifecycle.Exec(ctx, ref.dir(), ref.name, lifecycle.ExecOptions{
		Argv: argv, Process: pf.process, TTY: pf.tty, Term: termOf(pf.tty), Stdin: std.Files[0], Stdout: std.Files[1], Stderr: std.Files[2],
	})
	std.End(lifecycle.CopyGrace)
	var ee *lifecycle.ExecError
	switch {
	case errors.As(err, &ee):
		// The message is init's, which root inside with SYS_PTRACE may
		// have taken over (a review had its escape sequences printed).
		fmt.Fprintf(ios.stderr, "nsup: exec: %s\n", lifecycle.Printable(ee.Error()))
		switch ee.Errno {
		case unix.ENOENT:
			return exitStatus(127)
		case unix.EACCES, unix.ENOEXEC:
			return exitStatus(126)
		}
		return exitStatus(1)
	case err != nil:
		return err
	case st != 0:
		return exitStatus(st)
	}
	return nil
}

func commandNamed(name string) command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return command{name: name}
}

// execStdio is what lifecycle.Exec is given of nsup's stdio, made once
// for all the commands of one nsup exec, run or shell: through pipes
// nsup copies, as Exec would bridge them (lifecycle.Bridge), or with a
// terminal of its own (tty), the files as they are, whose terminal its
// relay sets raw, and a reader or writer that is not a file (nsup run
// in-process, by tests) through a pipe. Made once, an input is read by
// one copy: a second command (the next shell tried) gets what the first
// did not run to read. End waits for the copies.
//
// Unlike apply's, exec's bridge copies pipes and sockets too (only
// /dev/null is handed over, as a read-only clone of it: ReadOnlyNull): the environment runs on after nsup
// exec, and a process in it (root there may open a command's fds through
// /proc/PID/fd while it runs, or the command may leave one behind in a
// session of its own) could open a pipe of the caller's again the other
// way round and keep it: read what host processes write to the caller's
// stdout pipe after nsup exec (a script's next commands), or write into
// its stdin pipe what the script reads next.
func execStdio(ios ioSet, tty bool) (*lifecycle.Bridge, error) {
	// A terminal on stdout or stderr gets the command's output made safe
	// (lifecycle.TermSafe): only exec -t's pty, the command's own, is raw.
	b := &lifecycle.Bridge{AsIs: lifecycle.IsNull, Terminal: func(f *os.File) io.Writer { return lifecycle.NewTermSafe(f) }}
	if tty {
		b.AsIs = func(*os.File) bool { return true }
	}
	if err := b.Stdio(ios.stdin, ios.stdout, ios.stderr); err != nil {
		return nil, err
	}
	if !tty && os.Geteuid() == 0 {
		// The caller's /dev/null, handed over as it is, was the host's
		// node: root inside chmod'ed it through /proc/PID/fd/0.
		if err := b.ReadOnlyNull(); err != nil {
			b.End(0)
			return nil, err
		}
	}
	return b, nil
}

func runLogs(ctx context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("logs", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if len(rest) != 1 {
		return usageError{"logs takes one ENV"}
	}
	ref, err := resolve("logs", rest[0], pf.project)
	if err != nil {
		return err
	}
	// On a terminal, what the environment wrote is made safe: its escape
	// sequences (colours aside) must not drive the caller's terminal.
	// Redirected or piped, the log is copied as it is.
	if f, ok := ios.stdout.(*os.File); ok && lifecycle.IsTerminal(f) {
		w := lifecycle.NewTermSafe(f)
		err := lifecycle.Logs(ctx, ref.dir(), ref.name, pf.follow, w)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return lifecycle.Logs(ctx, ref.dir(), ref.name, pf.follow, ios.stdout)
}

func runDown(ctx context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("down", args, ios)
	if err != nil {
		return helpOK(err)
	}
	// Names with --volumes are a usage error, whether or not they run.
	names := len(rest) > 1 || len(rest) == 1 && !specArgFile(rest[0])
	if pf.volumes && names {
		return usageError{downVolumesUsage}
	}
	refs, project, err := downTargets(rest, pf.project)
	if err != nil {
		return err
	}
	if pf.volumes && project == "" {
		return usageError{downVolumesUsage}
	}
	defer lifecycle.CleanCgroups(planner.DefaultStateDir())
	var errs []string
	for _, r := range refs {
		res, err := lifecycle.Down(ctx, r.dir(), r.name)
		switch {
		case err != nil:
			errs = append(errs, err.Error())
		case !res.Found:
			fmt.Fprintf(ios.stdout, "%s: not running (nothing to do)\n", r)
		default:
			fmt.Fprintf(ios.stdout, "%s: %s, removed\n", r, downSaid(res))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\nnsup: "))
	}
	if pf.volumes {
		return removeVolumes(ios, project, nil)
	}
	return nil
}

const downVolumesUsage = "down --volumes takes a whole project down: give no ENV (this folder's project, or -p PROJECT) or its FILE"

// downSaid is what Down did to an environment it found: nsup down's and
// nsup restart's words for it.
func downSaid(res lifecycle.DownResult) string {
	switch {
	case res.NotStarted:
		return "was not started"
	case res.Killed:
		return "killed after its stop timeout"
	case res.Stopped:
		return "stopped" + exitText(res.Exit)
	default:
		return "had exited" + exitText(res.Exit)
	}
}

func exitText(st int) string {
	if st < 0 {
		return ""
	}
	return fmt.Sprintf(" (status %d)", st)
}

// downTargets turns down's arguments into environments, in the order to
// stop them: one that joins another's namespaces before that one. No
// argument: every environment of this folder's project (or -p's). One
// that is a spec file (specArgFile): its environments, in its project.
// Else names, ENV or PROJECT/ENV, each of a recorded environment: an
// unknown one is an error, and nothing is taken down.
func downTargets(args []string, flag string) (refs []envRef, project string, err error) {
	joins := map[envRef][]envRef{} // an environment → those it joins
	switch {
	case len(args) == 0:
		if project, _, err = scope(flag); err != nil {
			return nil, "", err
		}
		if project == "" {
			return nil, "", usageError{"down takes ENV names or a FILE; with none, it takes down the project of the nsup.yaml of this folder (or of -p PROJECT), and there is none here"}
		}
		envs, err := lifecycle.List(filepath.Join(planner.DefaultStateDir(), project))
		if err != nil {
			return nil, "", err
		}
		for _, e := range envs {
			refs = append(refs, envRef{project, e.State.Name})
		}
	case len(args) == 1 && specArgFile(args[0]):
		s, err := parseSpec(args[0])
		if err != nil {
			return nil, "", err
		}
		project = flag
		if project == "" {
			project = s.Project()
		}
		for _, e := range s.Environments {
			r := envRef{project, e.Name}
			refs = append(refs, r)
			for _, n := range e.After() {
				joins[r] = append(joins[r], envRef{project, n})
			}
		}
	default:
		var errs []string
		for _, a := range args {
			r, err := resolve("down", a, flag)
			if err != nil {
				if _, ok := err.(usageError); ok {
					return nil, "", err
				}
				errs = append(errs, err.Error())
				continue
			}
			if !slices.Contains(refs, r) {
				refs = append(refs, r)
			}
		}
		if len(errs) > 0 {
			return nil, "", errors.New(strings.Join(errs, "\nnsup: "))
		}
	}
	for _, r := range refs {
		if _, ok := joins[r]; ok {
			continue
		}
		if st, err := lifecycle.Inspect(r.dir(), r.name); err == nil {
			for _, ref := range st.State.Joined {
				if spec.ValidName(ref) {
					joins[r] = append(joins[r], envRef{r.project, ref})
				}
			}
			for _, n := range st.State.DependsOn {
				joins[r] = append(joins[r], envRef{r.project, n})
			}
		}
	}
	// Repeatedly take the first one no remaining one joins.
	var out []envRef
	left := append([]envRef(nil), refs...)
	for len(left) > 0 {
		pick := 0
		for i, n := range left {
			joined := false
			for _, m := range left {
				joined = joined || (m != n && slices.Contains(joins[m], n))
			}
			if !joined {
				pick = i
				break
			}
		}
		out = append(out, left[pick])
		left = append(left[:pick], left[pick+1:]...)
	}
	return out, project, nil
}

// specArgFile says whether down's argument a is a spec file: isSpecArg,
// and not a folder (a planted file `dev` took another project's
// environments down on `nsup down dev`).
func specArgFile(a string) bool {
	if !isSpecArg(a) {
		return false
	}
	fi, err := os.Stat(a)
	return err == nil && !fi.IsDir()
}

// termOf is the caller's TERM for a command given a terminal, "" without.
func termOf(tty bool) string {
	if !tty {
		return ""
	}
	return os.Getenv("TERM")
}

const restartHelp = `Takes the detached environment ENV down and brings it up again from its
spec (the file it was applied from, read again now: its variables are
this call's), in its project. The namespaces it shares by name with
others of its pod (net, ipc, uts: those another environment joins, or it
joins) are held by the pod's holder, so the others keep reaching it as
before, and it them. An environment that joins another's mnt, pid, user,
cgroup or time namespace by name cannot be restarted alone: take down and
apply the pair.`

func runRestart(ctx context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("restart", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if len(rest) != 1 {
		return usageError{"restart takes one [PROJECT/]ENV"}
	}
	ref, err := resolve("restart", rest[0], pf.project)
	if err != nil {
		return err
	}
	st, err := lifecycle.Inspect(ref.dir(), ref.name)
	if err != nil {
		return err
	}
	// Planned first: a spec that no longer plans leaves it running.
	if _, err := compileFor(st.State.Spec, []string{ref.name}, planner.NewIndex(planner.DefaultCacheDir()), true, false, spec.CallerVars(), ref.project); err != nil {
		// (The plan's errors, FILE:LINE:COL each, are printed after.)
		fmt.Fprintf(ios.stderr, "nsup: restart: %s's spec %s does not plan: %s left as it is\n", ref, planner.Shown(st.State.Spec), ref)
		return err
	}
	res, err := lifecycle.Down(ctx, ref.dir(), ref.name)
	if err != nil {
		return err
	}
	if res.Found {
		fmt.Fprintf(ios.stdout, "%s: %s\n", ref, downSaid(res))
	}
	return runApply(ctx, []string{"-d", "-p", ref.project, st.State.Spec, ref.name}, ios)
}
