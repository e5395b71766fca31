package main

// nsup ps and nsup port: what the detached environments are, run and
// publish, read from their state and from /proc.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

const psHelp = `Lists the environments brought up with nsup apply -d: project, name, status
(running, exited with its status until nsup down, or not started and why),
health (its main process's healthcheck: starting, healthy, unhealthy),
restarts (of its processes, by their restart policies), init's pid on the
host, uptime, namespaces (new ones, and joined ones as TYPE=WHAT) and spec
file; --json adds each process's pid, restarts, last exit status, health
and what its last healthcheck said. An environment counts as running only while its init holds its lock
and still has the start time and namespaces recorded, so a reused pid is
never taken for it. A status longer than 40 characters (why an environment
was not started) is cut, ending "…": --json, and nsup logs ENV, say it
whole. --tree shows each running environment's processes with
their pids outside and inside. Shows the project of the nsup.yaml of this
folder (or of a folder above it), or of -p PROJECT; every project's
with --all, or when there is none here.`

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

// psStatusWidth bounds the STATUS column of nsup ps's table: a reason
// an environment was not started can be long (a healthcheck's output), and
// would widen every line. ps --json, and nsup logs ENV, say it whole.
const psStatusWidth = 40

// printPs prints nsup ps's table of entries.
func printPs(w io.Writer, entries []psEntry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tNAME\tSTATUS\tHEALTH\tRESTARTS\tPID\tUPTIME\tMEMORY\tPIDS\tNAMESPACES\tPORTS\tSPEC")
	for _, e := range entries {
		pid, up, health, restarts := "-", "-", "-", "-"
		if e.Running {
			pid, up = fmt.Sprint(e.Pid), (time.Duration(e.UptimeSeconds) * time.Second).String()
			restarts = strconv.Itoa(e.Restarts)
		}
		if e.Health != "" {
			health = lifecycle.Printable(e.Health) // init's word
		}
		ports := "-"
		if len(e.Ports) > 0 {
			ports = strings.Join(portArrows(e.Ports), ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Project, e.Name, truncated(e.Status, psStatusWidth), health, restarts, pid, up,
			used(e.MemoryBytes, e.MemoryLimit, bytesText), used(e.Pids, e.PidsLimit, func(n int64) string { return strconv.FormatInt(n, 10) }), namespaces(e.New, e.Joined), ports, e.Spec)
	}
	return tw.Flush()
}

// truncated is s cut to width characters at most, its last one "…" when
// cut.
func truncated(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "…"
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
		// What an environment said (a healthcheck's output) without
		// the controls encoding/json leaves as they are.
		_, err = ios.stdout.Write(append(lifecycle.JSONSafe(b), '\n'))
		return err
	}
	if err := printPs(ios.stdout, entries); err != nil {
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
	name := lifecycle.Printable(p.Comm)
	switch {
	case root:
		name = "nsup init"
	case p.Name != "":
		name = lifecycle.Printable(p.Name) + " (" + lifecycle.Printable(p.Comm) + ")"
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
