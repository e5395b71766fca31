// nsup starts twice per environment (nsup, then its child stage) and is
// short-lived: GOMAXPROCS is the CPU count, not derived from cgroup limits,
// and not revisited in the background. (The runtime still reads the cgroup
// files once at start, whatever these say.)
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command nsup declares Linux sandboxes in a file and brings them up
// exactly as declared: nsup validate checks a spec, nsup plan prints every
// step apply would take, and nsup apply performs exactly those steps.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// The main thread is kept for Apply (executor.KeepMainThread) by every
// command but those that start no environment, and by nsup's other roles
// (an environment's init, pasta's keeper, a pod's holder, exec -t's pty
// reopener) and its test binary, whose arguments are none of these.
func init() {
	if !startsNoEnvironment(os.Args[1:]) {
		executor.KeepMainThread()
	}
	if plansOnly(os.Args[1:]) {
		// It ends as soon as its output is written: its garbage is
		// collected at a ninth of the default's pace (the first cycle
		// at 32 MiB of heap, not 4). A plan of 1,000 environments took
		// 91 ms against 78 with this, its peak RSS 31 MiB against 43
		// (medians of 80 runs); one of a few, whose heap stays under 4
		// MiB, is not changed. A command that starts environments may
		// live as long as they do, and keeps the default.
		debug.SetGCPercent(800)
	}
}

// plansOnly says whether nsup called with args checks or plans a spec
// and ends.
func plansOnly(args []string) bool {
	return len(args) > 0 && (args[0] == "plan" || args[0] == "validate")
}

// startsNoEnvironment says whether nsup called with args certainly
// starts no environment and joins no namespace: it prints, checks or
// plans. Keeping the main thread starts a thread of the runtime's, 0.05
// ms of the 1.3 ms nsup version takes.
func startsNoEnvironment(args []string) bool {
	if len(args) == 0 {
		return true
	}
	switch args[0] {
	case "version", "--version", "help", "-h", "--help", "validate", "plan":
		return true
	}
	return false
}

// appliesPlan says whether nsup called with args brings environments up
// (executor.CalmSysmon: the runtime's monitor thread wakes less often
// while it does).
func appliesPlan(args []string) bool {
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "apply", "up", "run", "shell", "restart", "exec":
		return true
	}
	return false
}

func main() {
	// A child stage executes nsup as an environment's init; that process
	// runs init and nothing else.
	if executor.IsInit() {
		os.Exit(executor.RunInit())
	}
	// The host starts nsup as pasta's keeper: that process keeps pasta
	// and nothing else.
	if executor.IsKeeper() {
		os.Exit(executor.RunKeeper(os.Stderr))
	}
	// And as a pod's holder: that process holds namespaces, and nothing
	// else.
	if executor.IsHolder() {
		os.Exit(executor.RunHolder())
	}
	// And by a rootless nsup exec -t, to reopen its pty read-only in a
	// user and mount namespace of its own: that process does that, and
	// nothing else.
	if lifecycle.IsPtyReopener() {
		os.Exit(lifecycle.RunPtyReopener(os.Stderr))
	}
	// What nsup's caller left open (fds from 3 on) stays out of every
	// process nsup starts: the environments (whose child stage closes
	// them anyway), pasta's keeper and pasta, which outlive nsup.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if appliesPlan(os.Args[1:]) {
		executor.CalmSysmon()
	}
	exiting = true
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exiting says that the process ends when run returns: what only an
// in-process caller (a test) needs undone is left to the exit. Ending a
// signal subscription costs a round trip to the runtime's signal thread,
// about 0.1 ms of an apply of 5 ms.
var exiting bool

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // a runtime failure: apply could not bring an environment up
	exitInvalid = 2 // invalid input or usage
)

// usageError is an error in how nsup was called: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// invalidError is an invalid spec or plan: exit status 2.
type invalidError struct{ err error }

func (e invalidError) Error() string { return e.err.Error() }
func (e invalidError) Unwrap() error { return e.err }

// exitStatus is returned by a command that ends with a status of its own
// (apply returns the main process's).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run is nsup without globals: every command writes results to stdout and
// messages to stderr, and returns; only main exits.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdin, stdout, stderr)
	var st exitStatus
	var ue usageError
	var ie invalidError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &st):
		return int(st)
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "nsup: %s\nRun 'nsup help' for usage.\n", shownLines(ue.msg))
		return exitInvalid
	case errors.As(err, &ie):
		fmt.Fprintln(stderr, shownLines(ie.err.Error()))
		return exitInvalid
	default:
		fmt.Fprintf(stderr, "nsup: %s\n", shownLines(err.Error()))
		return exitFailure
	}
}

// shownLines is an error's text with each line as planner.Shown writes
// it: the paths and values of a spec it quotes reach no terminal as
// escapes.
func shownLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = planner.Shown(l)
	}
	return strings.Join(lines, "\n")
}

type command struct {
	name, args, short, long string
	run                     func(ctx context.Context, args []string, io ioSet) error
}

type ioSet struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"validate", "[FILE]", "check a spec and report every error in it", validateHelp, runValidate},
		{"plan", "[-d] [FILE] [ENV...]", "print every step apply would take, without doing anything", planHelp, runPlan},
		{"apply", "[-d] [FILE] [ENV...] | PLAN.json", "bring environments up exactly as planned (-d: detached)", applyHelp, runApply},
		{"up", "", "apply, by compose's name for it: nsup up -d is nsup apply -d", "", nil},
		{"ps", "[-a] [-p PROJECT] [--json] [--tree]", "list the detached environments", psHelp, runPs},
		{"exec", "[PROJECT/]ENV [--process P] [-t] -- CMD...", "run a command inside a running environment", execHelp, runExec},
		{"run", "[FILE] ENV -- CMD...", "run one command in a fresh environment of a spec, removed after", runHelp, runRun},
		{"shell", "[FILE] [ENV]", "an interactive shell in a fresh environment, or in a running one", shellHelp, runShell},
		{"logs", "[PROJECT/]ENV [-f]", "print a detached environment's output", logsHelp, runLogs},
		{"port", "[PROJECT/]ENV", "list a detached environment's published ports", portHelp, runPort},
		{"restart", "[PROJECT/]ENV [-p PROJECT]", "take a detached environment down and up again; its pod keeps its network", restartHelp, runRestart},
		{"down", "[ENV... | FILE] [-p PROJECT] [--volumes]", "stop detached environments and remove their state", downHelp, runDown},
		{"lock", "[--check] [FILE]", "write or check FILE.lock: each environment's rootfs, file by file", lockHelp, runLock},
		{"cache", "ls | prune [SPEC...]", "list or prune the cache of built rootfs trees", cacheHelp, runCache},
		{"volume", "ls | rm [PROJECT/]NAME... [-p PROJECT]", "list or remove the named volumes of projects", volumeHelp, runVolume},
		{"export", "--oci DIR | --image DIR | --image-archive FILE | --kube  FILE [ENV...]", "write an environment as an OCI bundle or image, or a spec as Kubernetes Pods", exportHelp, runExport},
		{"import", "CONFIG.json|BUNDLE | --kube MANIFEST", "print the nsup spec of an OCI bundle or a Kubernetes Pod", importHelp, runImport},
		{"version", "", "print nsup's version", "", runVersion},
		{"help", "[COMMAND]", "show help for nsup or one command", "", nil},
	}
}

// aliases are other names of commands: compose's up is apply (in the
// foreground, or detached with -d, as compose's), exactly.
var aliases = map[string]string{"up": "apply"}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ios := ioSet{stdin, stdout, stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, mainHelp())
		return usageError{"no command given"}
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			for _, c := range commands() {
				if c.name == cmp.Or(aliases[args[1]], args[1]) && c.run != nil {
					fmt.Fprint(stdout, commandHelp(c))
					return nil
				}
			}
			return usageError{fmt.Sprintf("unknown command %q", args[1])}
		}
		fmt.Fprint(stdout, mainHelp())
		return nil
	case "--version":
		name = "version"
	default:
		name = cmp.Or(aliases[name], name)
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c.run(ctx, args[1:], ios)
		}
	}
	return usageError{fmt.Sprintf("unknown command %q", name)}
}
