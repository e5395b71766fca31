package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// The commands of detached environments (nsup apply -d): ps, exec, logs
// and down. They read the state directory (planner.DefaultStateDir:
// $NSUP_STATE_DIR, /run/nsup for root, else $XDG_RUNTIME_DIR/nsup), a
// folder per project (project.go).

const psHelp = `Lists the environments brought up with nsup apply -d: project, name, status
(running, exited with its status until nsup down, or not started and why),
health (its main process's healthcheck: starting, healthy, unhealthy),
restarts (of its processes, by their restart policies), init's pid on the
host, uptime, namespaces (new ones, and joined ones as TYPE=WHAT) and spec
file; --json adds each process's pid, restarts, last exit status, health
and what its last healthcheck said. An environment counts as running only while its init holds its lock
and still has the start time and namespaces recorded, so a reused pid is
never taken for it. --tree shows each running environment's processes with
their pids outside and inside. Shows the project of the nsup.yaml of this
folder (or of a folder above it), or of -p PROJECT; every project's
with --all, or when there is none here.`

const execHelp = `Runs CMD inside the running detached environment ENV: in every one of its
namespaces (user and mnt included), under its root, with the environment
variables, working directory and user of its main process (or of process
P), as a child of its init. Without -t, CMD gets nsup's stdin, stdout and
stderr as they are; with -t, a terminal of its own (window size, job
control) relayed to nsup's. nsup exits with CMD's status (126: not
executable, 127: not found).`

const logsHelp = `Prints the output of the detached environment ENV (its processes' stdout
and stderr; lines are prefixed with ENV/PROCESS when it has several).
With -f, follows it until the environment ends.`

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

// psEntry is one environment as nsup ps --json prints it.
type psEntry struct {
	Project       string            `json:"project"`
	Name          string            `json:"name"`
	Status        string            `json:"status"`
	Running       bool              `json:"running"`
	ExitStatus    *int              `json:"exitStatus"`
	Pid           int               `json:"pid"`
	StartTime     uint64            `json:"startTime"`
	Started       time.Time         `json:"started"`
	UptimeSeconds int64             `json:"uptimeSeconds"`
	New           []string          `json:"namespaces"`
	Joined        map[string]string `json:"joined,omitempty"`
	Inodes        map[string]uint64 `json:"namespaceInodes"`
	Spec          string            `json:"spec"`
	Log           string            `json:"log"`
	// What its cgroups say it uses, against its limits (-1: unknown, or
	// no limit).
	MemoryBytes int64   `json:"memoryBytes"`
	MemoryLimit int64   `json:"memoryLimitBytes"`
	Pids        int64   `json:"pids"`
	PidsLimit   int64   `json:"pidsLimit"`
	Tree        *psProc `json:"tree,omitempty"`
	// Ports are its published ports (127.0.0.1:8080:80/tcp), its own or
	// those of the environment whose network it joins.
	Ports []string `json:"ports"`
	// Health is its main process's health ("" without a healthcheck, or
	// when not running), Restarts the restarts of its processes, and
	// Processes each declared process as its init sees it (running
	// only).
	Health    string                 `json:"health,omitempty"`
	Restarts  int                    `json:"restarts"`
	Processes []lifecycle.ProcStatus `json:"processes,omitempty"`
}

// psProc is a process of the tree, in JSON.
type psProc struct {
	Name      string    `json:"name,omitempty"`
	Comm      string    `json:"comm"`
	Pid       int       `json:"pid"`
	PidInside int       `json:"pidInside"`
	Children  []*psProc `json:"children,omitempty"`
}

func toPsProc(p *lifecycle.Proc) *psProc {
	out := &psProc{Name: p.Name, Comm: p.Comm, Pid: p.Pid, PidInside: p.PidInside}
	for _, c := range p.Children {
		out.Children = append(out.Children, toPsProc(c))
	}
	return out
}

func runPs(_ context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("ps", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if len(rest) > 0 {
		return usageError{"ps takes no arguments"}
	}
	// What ended environments left in the cgroups, first (as apply and
	// down do): not worth failing ps for.
	lifecycle.CleanCgroups(planner.DefaultStateDir())
	// This folder's project (or -p's), unless --all; every project's if
	// there is none here.
	var envs []lifecycle.EnvStatus
	project := ""
	if !pf.all {
		if project, _, err = scope(pf.project); err != nil {
			return err
		}
	}
	if project != "" {
		envs, err = lifecycle.List(filepath.Join(planner.DefaultStateDir(), project))
	} else {
		envs, err = lifecycle.ListAll(planner.DefaultStateDir())
	}
	if err != nil {
		return err
	}
	now := time.Now()
	ports := map[envRef][]string{}
	for _, e := range envs {
		ports[envRef{e.Project, e.State.Name}] = e.State.Ports
	}
	var entries []psEntry
	for _, e := range envs {
		st := e.State
		pe := psEntry{Project: e.Project, Name: st.Name, Status: e.Status(), Running: e.Running, Pid: st.Pid, StartTime: st.StartTime,
			Started: st.Started, New: st.New, Joined: st.Joined, Inodes: st.Namespaces, Spec: st.Spec, Log: e.Log()}
		pe.Ports = envPorts(e.Project, &st, ports)
		u := lifecycle.GroupUsage(filepath.Dir(e.Dir), st.Name)
		pe.MemoryBytes, pe.MemoryLimit, pe.Pids, pe.PidsLimit = u.MemoryBytes, u.MemoryLimit, u.Pids, u.PidsLimit
		if e.Running {
			pe.UptimeSeconds = int64(now.Sub(st.Started).Seconds())
			// Its init says what changed since the state was written:
			// restarts (and their pids), health.
			if sr, err := lifecycle.Status(e); err == nil {
				pe.Processes = sr.Processes
				st.Processes = nil
				for i, p := range sr.Processes {
					pe.Restarts += p.Restarts
					if i == 0 {
						pe.Health = p.Health
					}
					st.Processes = append(st.Processes, lifecycle.StateProc{Name: p.Name, Parent: p.Parent, Pid: p.Pid})
				}
			} else {
				fmt.Fprintf(ios.stderr, "nsup: ps: %v\n", err)
			}
			if pf.tree {
				if t, err := lifecycle.Tree(st); err == nil {
					pe.Tree = toPsProc(t)
				}
			}
		} else if e.Exit >= 0 {
			x := e.Exit
			pe.ExitStatus = &x
		}
		entries = append(entries, pe)
	}
	if pf.json {
		if entries == nil {
			entries = []psEntry{}
		}
		b, err := json.MarshalIndent(entries, "", "  ")
		if err != nil {
			return err
		}
		_, err = ios.stdout.Write(append(b, '\n'))
		return err
	}
	tw := tabwriter.NewWriter(ios.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tNAME\tSTATUS\tHEALTH\tRESTARTS\tPID\tUPTIME\tMEMORY\tPIDS\tNAMESPACES\tPORTS\tSPEC")
	for _, e := range entries {
		pid, up, health, restarts := "-", "-", "-", "-"
		if e.Running {
			pid, up = fmt.Sprint(e.Pid), (time.Duration(e.UptimeSeconds) * time.Second).String()
			restarts = strconv.Itoa(e.Restarts)
		}
		if e.Health != "" {
			health = e.Health
		}
		ports := "-"
		if len(e.Ports) > 0 {
			ports = strings.Join(portArrows(e.Ports), ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Project, e.Name, e.Status, health, restarts, pid, up,
			used(e.MemoryBytes, e.MemoryLimit, bytesText), used(e.Pids, e.PidsLimit, func(n int64) string { return strconv.FormatInt(n, 10) }), namespaces(e.New, e.Joined), ports, e.Spec)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if pf.tree {
		for _, e := range entries {
			if e.Tree == nil {
				continue
			}
			fmt.Fprintf(ios.stdout, "\n%s/%s:\n", e.Project, e.Name)
			tw := tabwriter.NewWriter(ios.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  PID\tINSIDE\tPROCESS")
			printTree(tw, e.Tree, "", true, true)
			tw.Flush()
		}
	}
	return nil
}

// namespaces renders new namespace types, then joined ones as TYPE=WHAT.
func namespaces(fresh []string, joined map[string]string) string {
	parts := append([]string(nil), fresh...)
	var js []string
	for t, w := range joined {
		js = append(js, t+"="+w)
	}
	sort.Strings(js)
	parts = append(parts, js...)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

func printTree(w io.Writer, p *psProc, indent string, root, last bool) {
	name := p.Comm
	switch {
	case root:
		name = "nsup init"
	case p.Name != "":
		name = p.Name + " (" + p.Comm + ")"
	}
	branch, next := "", indent
	if !root {
		branch = indent + "├─ "
		next = indent + "│  "
		if last {
			branch, next = indent+"└─ ", indent+"   "
		}
	}
	fmt.Fprintf(w, "  %d\t%d\t%s%s\n", p.Pid, p.PidInside, branch, name)
	for i, c := range p.Children {
		printTree(w, c, next, false, i == len(p.Children)-1)
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
	files, cleanup, err := stdioFiles(ios)
	if err != nil {
		return err
	}
	st, err := lifecycle.Exec(ctx, ref.dir(), ref.name, lifecycle.ExecOptions{
		Argv: argv, Process: pf.process, TTY: pf.tty, Term: termOf(pf.tty), Stdin: files[0], Stdout: files[1], Stderr: files[2],
	})
	cleanup()
	var ee *lifecycle.ExecError
	switch {
	case errors.As(err, &ee):
		fmt.Fprintf(ios.stderr, "nsup: exec: %v\n", ee)
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

// stdioFiles returns nsup's stdio as files, the command's to be: a reader
// or writer that is not a file (nsup run in-process, by tests) is bridged
// by a pipe. cleanup waits for the copies.
func stdioFiles(ios ioSet) ([3]*os.File, func(), error) {
	var files [3]*os.File
	var done []chan struct{}
	var closers []*os.File
	if f, ok := ios.stdin.(*os.File); ok {
		files[0] = f
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return files, nil, err
		}
		go func() {
			io.Copy(w, ios.stdin)
			w.Close()
		}()
		files[0] = r
		closers = append(closers, r)
	}
	for i, w := range []io.Writer{ios.stdout, ios.stderr} {
		if f, ok := w.(*os.File); ok {
			files[i+1] = f
			continue
		}
		r, pw, err := os.Pipe()
		if err != nil {
			return files, nil, err
		}
		ch := make(chan struct{})
		go func() {
			io.Copy(w, r)
			r.Close()
			close(ch)
		}()
		files[i+1] = pw
		closers = append(closers, pw)
		done = append(done, ch)
	}
	return files, func() {
		for _, f := range closers {
			f.Close()
		}
		for _, ch := range done {
			select {
			case <-ch:
			case <-time.After(2 * time.Second): // a process left behind holds the pipe
			}
		}
	}, nil
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
	return lifecycle.Logs(ctx, ref.dir(), ref.name, pf.follow, ios.stdout)
}

func runDown(ctx context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("down", args, ios)
	if err != nil {
		return helpOK(err)
	}
	refs, project, err := downTargets(rest, pf.project)
	if err != nil {
		return err
	}
	if pf.volumes && project == "" {
		return usageError{"down --volumes takes a whole project down: give no ENV (this folder's project, or -p PROJECT) or its FILE"}
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
		case res.NotStarted:
			fmt.Fprintf(ios.stdout, "%s: was not started, removed\n", r)
		case res.Killed:
			fmt.Fprintf(ios.stdout, "%s: killed after its stop timeout, removed\n", r)
		case res.Stopped:
			fmt.Fprintf(ios.stdout, "%s: stopped%s, removed\n", r, exitText(res.Exit))
		default:
			fmt.Fprintf(ios.stdout, "%s: had exited%s, removed\n", r, exitText(res.Exit))
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

func exitText(st int) string {
	if st < 0 {
		return ""
	}
	return fmt.Sprintf(" (status %d)", st)
}

// downTargets turns down's arguments into environments, in the order to
// stop them: one that joins another's namespaces before that one. No
// argument: every environment of this folder's project (or -p's). One
// that is a spec file: its environments, in its project. Else names, ENV
// or PROJECT/ENV, each of a recorded environment: an unknown one is an
// error, and nothing is taken down.
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
	case len(args) == 1 && isFile(args[0]):
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

// isFile says whether a is a file (not a folder) that exists.
func isFile(a string) bool {
	fi, err := os.Stat(a)
	return err == nil && !fi.IsDir()
}

// used is "USE/LIMIT" ("-" where unknown, LIMIT "-" for none), each
// number as unit writes it.
func used(use, limit int64, unit func(int64) string) string {
	if use < 0 {
		return "-"
	}
	l := "-"
	if limit >= 0 {
		l = unit(limit)
	}
	return unit(use) + "/" + l
}

// bytesText is a size as ps shows it: 12.3M.
func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10)
}

// envPorts are an environment's published ports: its own, or those of
// the environment whose network it joins by name (its state's).
func envPorts(project string, st *lifecycle.State, byName map[envRef][]string) []string {
	if owner, ok := st.Joined["net"]; ok && !strings.HasPrefix(owner, "/") {
		return append([]string{}, byName[envRef{project, strings.TrimPrefix(owner, "pod:")}]...)
	}
	return append([]string{}, st.Ports...)
}

// portArrows writes ports as docker ps does: 127.0.0.1:8080->80/tcp.
func portArrows(ports []string) []string {
	var out []string
	for _, s := range ports {
		if p, err := spec.ParsePort(s); err == nil {
			out = append(out, p.Host()+":"+p.HostPorts()+"->"+p.Ports()+"/"+p.Proto)
		}
	}
	return out
}

const portHelp = `Lists the ports published by the detached environment ENV (net.ports),
or by the one whose network it joins, as docker port does: each port
inside, then the host address and port it is reached at.`

func runPort(ctx context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("port", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if len(rest) != 1 {
		return usageError{"port takes one ENV"}
	}
	ref, err := resolve("port", rest[0], pf.project)
	if err != nil {
		return err
	}
	envs, err := lifecycle.List(ref.dir())
	if err != nil {
		return err
	}
	byName := map[envRef][]string{}
	var st *lifecycle.State
	for _, e := range envs {
		byName[envRef{e.Project, e.State.Name}] = e.State.Ports
		if e.State.Name == ref.name {
			st = &e.State
		}
	}
	if st == nil {
		return fmt.Errorf("port: %s has no state (nsup ps lists the environments)", ref)
	}
	for _, p := range envPorts(ref.project, st, byName) {
		pt, err := spec.ParsePort(p)
		if err != nil {
			continue
		}
		for i := 0; i <= int(pt.To-pt.From); i++ {
			fmt.Fprintf(ios.stdout, "%d/%s -> %s:%d\n", int(pt.From)+i, pt.Proto, pt.Host(), int(pt.HostFrom)+i)
		}
	}
	return nil
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
		fmt.Fprintf(ios.stderr, "nsup: restart: %s's spec %s does not plan: %s left as it is\n", ref, st.State.Spec, ref)
		return err
	}
	res, err := lifecycle.Down(ctx, ref.dir(), ref.name)
	if err != nil {
		return err
	}
	if res.Found {
		fmt.Fprintf(ios.stdout, "%s: stopped%s\n", ref, exitText(res.Exit))
	}
	return runApply(ctx, []string{"-d", "-p", ref.project, st.State.Spec, ref.name}, ios)
}
