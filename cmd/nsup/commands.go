package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/nsup/nsup/internal/regfile"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/executor/lifecycle"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func mainHelp() string {
	var b strings.Builder
	b.WriteString(`nsup declares Linux sandboxes in a file and brings them up exactly as declared.

Usage:
  nsup COMMAND [ARGS...]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.short)
	}
	b.WriteString(`
Run 'nsup help COMMAND' or 'nsup COMMAND -h' for a command's flags.
Exit status: 0 ok, 1 runtime failure, 2 invalid input or usage.
`)
	return b.String()
}

func commandHelp(c command) string {
	fs := flagsFor(c.name)
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: nsup %s %s\n\n%s\n", c.name, c.args, c.long)
	if fs != nil {
		if u := fs.FlagUsages(); u != "" {
			fmt.Fprintf(&b, "\nFlags:\n%s", u)
		}
	}
	return b.String()
}

const validateHelp = `Checks FILE against spec v1 and reports every error at once, one per line,
as FILE:LINE:COL: field: message; then checks it on this host as nsup plan
does, without printing the plan: the rootfs, the bind sources, the
commands and the other host files it names exist, and the rootfs matches
FILE.lock if there is one. A spec validate accepts is one nsup plan
accepts. With --file-only, only the file is checked (the host is not
looked at: for a spec meant for another host). Needs no privilege and
touches nothing. Exit status 2 if the spec is invalid. FILE defaults to
nsup.yaml in this folder or the nearest folder above that has one, as for
nsup run.

Values may use variables, as compose does: ${VAR}, ${VAR:-default},
${VAR:?message}, $VAR, and $$ for a literal $; a host path may start with
~ (HOME). They come from nsup's environment, else from the .env beside FILE
(or --env-file FILE). validate lists each reference with its value and where
it came from; --no-interpolate checks the file as written (and only the
file), but for values that hold a reference, whose type and form only
interpolation gives (pids: "${PIDS:-64}" is the number 64): those are
not checked.`

const applyHelp = `Brings the environments of FILE (or of a plan saved with nsup plan -o) up
in the foreground and performs exactly the plan's steps. The environment's
stdin, stdout and stderr are the terminal's; when more than one process
writes, each line is prefixed with ENV/PROCESS | (coloured on a terminal,
unless NO_COLOR is set). Ctrl-C and SIGTERM reach the environment; with
several, Ctrl-C stops them one after the other in reverse dependency
order, and a second Ctrl-C kills them. nsup exits with the main process's
status (with several environments, the first that failed, each named).
With -d the environments keep running after nsup returns: see nsup ps,
exec, logs and down. A saved plan is refused if the spec or any rootfs
input changed since it was made. If FILE.lock exists (nsup lock), a rootfs
that differs from it is refused, file by file, unless --update-lock accepts
it. Run by a user without CAP_SYS_ADMIN, it plans rootless: each
environment gets a user namespace mapping that user to 0, and the plan
shows it. FILE defaults to nsup.yaml in this folder or the nearest folder
above that has one, as for nsup run (the first argument is FILE when it has
a dot or a slash, which an ENV name never has: a spec without an extension
is ./FILE). nsup up is this command, by compose's name for it.`

type planFlags struct {
	json       bool
	fileOnly   bool // validate
	out        string
	updateLock bool
	cache      cacheFlags
	oci        string // export
	image      string // export --image DIR
	imageTar   string // export --image-archive FILE
	tag        string // export --tag REF
	registry   string // export --registry PREFIX
	kube       bool   // export --kube, import --kube
	schema     string // import
	detach     bool
	check      bool // lock
	// ps, exec, logs
	tree    bool
	process string
	tty     bool
	follow  bool
	// validate, plan, apply, export: the spec's variables
	envFile  string
	noInterp bool
	// plan, apply, ps, exec, logs, port, down: the project (-p)
	project string
	all     bool // ps --all, volume ls --all
	volumes bool // down --volumes
}

// vars are where the spec's variables come from: nsup's environment, and
// --env-file or the .env beside the spec; none with --no-interpolate.
func (pf *planFlags) vars() spec.Vars {
	v := spec.CallerVars()
	v.EnvFile, v.Off = pf.envFile, pf.noInterp
	return v
}

func flagsFor(name string) *pflag.FlagSet {
	fs, _ := newFlags(name)
	return fs
}

func newFlags(name string) (*pflag.FlagSet, *planFlags) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{}) // errors are returned, not printed
	fs.SetInterspersed(true)
	pf := &planFlags{}
	fs.BoolP("help", "h", false, "show this help")
	switch name {
	case "validate":
		fs.BoolVar(&pf.fileOnly, "file-only", false, "check the file alone, not what it names on this host")
	case "plan":
		fs.BoolVar(&pf.json, "json", false, "print the plan as JSON (it round-trips: apply reads it back)")
		fs.StringVarP(&pf.out, "output", "o", "", "save the plan as JSON to `FILE`, for nsup apply FILE")
		fs.BoolVarP(&pf.detach, "detach", "d", false, "plan for nsup apply -d (the state, lock, log and control socket steps)")
	case "apply":
		fs.BoolVarP(&pf.detach, "detach", "d", false, "detach: the environments keep running after nsup returns")
	case "lock":
		fs.BoolVar(&pf.check, "check", false, "write nothing: exit 0 if FILE.lock matches, 1 if it differs (printing how), 2 on an error")
	default:
		lifecycleFlags(name, fs, pf)
	}
	switch name {
	case "validate", "plan", "apply", "export":
		fs.StringVar(&pf.envFile, "env-file", "", "read the spec's variables from `FILE` (default: the .env beside the spec, if there is one); nsup's environment comes first")
	}
	switch name {
	case "plan", "apply", "ps", "logs", "port", "down", "volume", "restart":
		fs.StringVarP(&pf.project, "project", "p", "", "the project `NAME` (default: the spec's name key, else its folder's name)")
	case "exec":
		fs.StringVar(&pf.project, "project", "", "the project `NAME` (default: that of the nsup.yaml of this folder, if any, else the one project that has ENV)")
	}
	switch name {
	case "volume":
		fs.BoolVarP(&pf.all, "all", "a", false, "ls: every project's volumes")
	case "down":
		fs.BoolVar(&pf.volumes, "volumes", false, "remove the project's named volumes too (not with ENV names: a whole project)")
	}
	if name == "validate" {
		fs.BoolVar(&pf.noInterp, "no-interpolate", false, "check the file as written: no variable is read, $ and a leading ~ are plain characters, and a value that holds a reference is not checked")
	}
	if name == "plan" || name == "apply" {
		fs.BoolVar(&pf.updateLock, "update-lock", false, "accept the rootfs as it is now: rewrite FILE.lock instead of refusing a difference")
	}
	if name == "cache" {
		cacheFlagSet(fs, &pf.cache)
	}
	ociFlags(name, fs, pf)
	return fs, pf
}

// parseFlags parses args for command name; it returns errHelp when -h was
// given (the help is then already printed).
func parseFlags(name string, args []string, ios ioSet) ([]string, *planFlags, error) {
	fs, pf := newFlags(name)
	if err := fs.Parse(args); err != nil {
		return nil, nil, usageError{fmt.Sprintf("%s: %v", name, err)}
	}
	if err := checkProject(pf.project); err != nil {
		return nil, nil, err
	}
	if h, _ := fs.GetBool("help"); h {
		for _, c := range commands() {
			if c.name == name {
				fmt.Fprint(ios.stdout, commandHelp(c))
			}
		}
		return nil, nil, errHelp
	}
	return fs.Args(), pf, nil
}

var errHelp = errors.New("help shown")

func runVersion(_ context.Context, args []string, ios ioSet) error {
	rest, _, err := parseFlags("version", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if len(rest) > 0 {
		return usageError{"version takes no arguments"}
	}
	fmt.Fprintf(ios.stdout, "nsup %s (spec v1, plan format %d, %s %s/%s)\n", version, planner.FormatVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func parseSpec(file string) (*spec.Spec, error) {
	return parseSpecVars(file, spec.CallerVars())
}

func parseSpecVars(file string, vars spec.Vars) (*spec.Spec, error) {
	s, err := spec.ParseVarsReadable(file, vars)
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == file {
		// The file itself could not be read: no position to give, an
		// error of nsup's as any other (helper-151's trial: printed
		// bare, "open nosuch.yaml: no such file or directory").
		return nil, invalidError{fmt.Errorf("nsup: %w", err)}
	}
	if err != nil {
		return nil, readableError{invalidError{err}, s}
	}
	return s, nil
}

// readableError is an invalid spec (parseSpecVars) with what of it the
// host checks can still take (spec.ParseVarsReadable), nil for none.
type readableError struct {
	invalidError
	readable *spec.Spec
}

func (e readableError) Unwrap() error { return e.invalidError }

// withHostErrors is err, an invalid spec's (parseSpecVars), with what
// compile, the caller's planner.Compile, finds on this host in the
// environments that could be read: those of envs (every one when it is
// empty) that are. A file's errors so come at once, the host's with the
// file's, not in rounds; an error compile returns that is not a list of
// the spec's (a name that is no environment) waits for the next run.
func withHostErrors(err error, envs []string, compile func(s *spec.Spec, envs []string) (*planner.Plan, error)) error {
	var re readableError
	var errs spec.Errors
	if !errors.As(err, &re) || re.readable == nil || !errors.As(err, &errs) {
		return err
	}
	var names []string
	for _, n := range envs {
		if re.readable.Env(n) != nil {
			names = append(names, n)
		}
	}
	if len(envs) > 0 && len(names) == 0 {
		return err
	}
	var more spec.Errors
	if _, cerr := compile(re.readable, names); !errors.As(cerr, &more) {
		return err
	}
	return invalidError{append(slices.Clone(errs), more...).Sorted()}
}

func runValidate(_ context.Context, args []string, ios ioSet) error {
	rest, pf, err := parseFlags("validate", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if len(rest) > 1 {
		return usageError{"validate takes one FILE"}
	}
	if len(rest) == 0 {
		if rest, err = withSpecFile(rest, ios); err != nil {
			return err
		}
	}
	s, err := parseSpecVars(rest[0], pf.vars())
	if err != nil && pf.noInterp {
		var envs, unchecked int
		if envs, unchecked, err = withoutReferenced(rest[0], err); err == nil {
			fmt.Fprintf(ios.stdout, "%s: valid as a file (%s; values as written, no variable read; %d with a reference not checked: its type is known once interpolated); this host was not checked\n", rest[0], countEnvs(envs), unchecked)
			return nil
		}
	}
	idx := planner.NewIndex(planner.DefaultCacheDir())
	if err != nil && !pf.fileOnly && !pf.noInterp {
		err = withHostErrors(err, nil, func(s *spec.Spec, envs []string) (*planner.Plan, error) {
			return compileSpec(s, envs, idx, false, false)
		})
	}
	if err != nil {
		return err
	}
	how := ""
	if pf.noInterp {
		how = "; values as written, no variable read"
	}
	if pf.fileOnly || pf.noInterp {
		// Without its variables, a spec's paths are not this host's.
		fmt.Fprintf(ios.stdout, "%s: valid as a file (%s%s); this host was not checked\n", rest[0], countEnvs(len(s.Environments)), how)
		return nil
	}
	// What plan checks, and the plan thrown away: a spec that validates
	// is one that plans (and the difference between the two commands is
	// the printing).
	p, err := compileSpec(s, nil, idx, false, false)
	if err != nil {
		return err
	}
	if err := checkLock(p, idx, true, false, ios); err != nil {
		return err
	}
	fmt.Fprintf(ios.stdout, "%s: valid (%s), and it plans on this host\n", rest[0], countEnvs(len(s.Environments)))
	planner.RenderVars(ios.stdout, planner.VarsOf(s), s.EnvFile, "")
	return nil
}

// compile parses and plans file; both kinds of error are the user's input.
// idx is the cache's digest index, shared with apply.
func compile(file string, envs []string, idx *planner.Index) (*planner.Plan, error) {
	return compileFor(file, envs, idx, false, false, spec.CallerVars(), "")
}

// compileFor is compile, for nsup apply -d if detach, and for a caller
// whose stdin is a terminal if terminal (a foreground environment then
// gets a terminal of its own, relayed to it).
func compileFor(file string, envs []string, idx *planner.Index, detach, terminal bool, vars spec.Vars, project string) (*planner.Plan, error) {
	s, err := parseAll(file, vars, envs, func(s *spec.Spec, envs []string) (*planner.Plan, error) {
		return compileProject(s, envs, idx, detach, terminal, project)
	})
	if err != nil {
		return nil, err
	}
	return compileProject(s, envs, idx, detach, terminal, project)
}

func compileSpec(s *spec.Spec, envs []string, idx *planner.Index, detach, terminal bool) (*planner.Plan, error) {
	return compileProject(s, envs, idx, detach, terminal, "")
}

// running says whether the detached environment recorded in dir runs.
func running(dir string) bool {
	es, err := lifecycle.Inspect(filepath.Dir(dir), filepath.Base(dir))
	return err == nil && es.Running
}

// compileProject is compileSpec for project (-p; "" for the spec's own).
func compileProject(s *spec.Spec, envs []string, idx *planner.Index, detach, terminal bool, project string) (*planner.Plan, error) {
	term := ""
	if terminal {
		term = os.Getenv("TERM")
	}
	p, err := planner.Compile(s, planner.Options{Envs: envs, Index: idx, Detach: detach, Terminal: terminal, Term: term, Project: project, Running: running})
	if err != nil {
		return nil, invalidError{err}
	}
	return p, nil
}

func runApply(ctx context.Context, args []string, ios ioSet) error {
	// Subscribed to ^C and SIGTERM while the plan is made, on the other
	// CPU if there is one; Apply waits for it before anything is made.
	sigs, subscribed := executor.Subscribe()
	defer func() {
		<-subscribed
		if !exiting {
			signal.Stop(sigs)
		}
	}()
	rest, pf, err := parseFlags("apply", args, ios)
	if err != nil {
		return helpOK(err)
	}
	if rest, err = withSpecFile(rest, ios); err != nil {
		return err
	}
	// Read once, bounded: the same bytes are sniffed (a saved plan is
	// JSON) and parsed. A saved plan lists every file of its trees, so it
	// may be far larger than a spec (spec.ParseBytes refuses those over
	// spec.MaxSize itself).
	b, err := regfile.ReadBounded(rest[0], maxPlanSize)
	if err != nil {
		return invalidError{err}
	}
	var p *planner.Plan
	idx := planner.NewIndex(planner.DefaultCacheDir())
	all := len(rest) == 1
	if len(bytes.TrimSpace(b)) > 0 && bytes.TrimSpace(b)[0] == '{' {
		if len(rest) > 1 {
			return usageError{"a saved plan already names its environments: apply PLAN.json takes no ENV"}
		}
		p, err = loadPlan(rest[0], b, idx)
		all = false
		if err == nil && pf.detach && !p.Detach {
			return usageError{fmt.Sprintf("%s was not planned detached: make it with nsup plan -d -o %s", rest[0], rest[0])}
		}
	} else {
		var abs string
		if abs, err = filepath.Abs(rest[0]); err != nil {
			return err
		}
		var s *spec.Spec
		if s, err = spec.ParseBytesVarsReadable(rest[0], filepath.Dir(abs), b, pf.vars()); err != nil {
			return withHostErrors(readableError{invalidError{err}, s}, rest[1:], func(s *spec.Spec, envs []string) (*planner.Plan, error) {
				return compileProject(s, envs, idx, pf.detach, isTerminal(ios.stdin), pf.project)
			})
		}
		p, err = compileProject(s, rest[1:], idx, pf.detach, isTerminal(ios.stdin), pf.project)
	}
	if err != nil {
		return err
	}
	return applyPlan(ctx, p, idx, all, pf.updateLock, ios, sigs, subscribed)
}

// applyPlan applies p (its lock checked: all says whether it holds every
// environment of its spec) and reports as apply does.
func applyPlan(ctx context.Context, p *planner.Plan, idx *planner.Index, all, updateLock bool, ios ioSet, sigs chan os.Signal, subscribed <-chan struct{}) error {
	if err := checkLock(p, idx, all, updateLock, ios); err != nil {
		return err
	}
	// What ended environments left in the cgroups (a killed nsup, an init
	// that died), removed first: no group of this apply's depends on it (a
	// detached environment's group left empty is used again). Not on
	// another thread meanwhile: with nothing to remove (the usual case) it
	// is a few stats, and a second busy thread made every page nsup wrote
	// after the clone cost a TLB shoot-down on the other CPU (0.4 ms of
	// CPU time per apply, measured with hyperfine's user+system).
	if _, err := lifecycle.CleanCgroups(planner.DefaultStateDir()); err != nil {
		fmt.Fprintf(ios.stderr, "nsup: %v\n", err)
	}
	var failed, whys []string
	opts := executor.Options{Stdin: ios.stdin, Stdout: ios.stdout, Stderr: ios.stderr, Index: idx, Color: colorful(ios.stdout),
		Signals: sigs, Subscribed: subscribed}
	opts.Ended = func(env string, status int, why string) {
		if status != 0 {
			failed = append(failed, fmt.Sprintf("nsup: environment %s: main process %s exited with status %d", env, mainProcess(p, env), status))
		}
		if why != "" {
			whys = append(whys, fmt.Sprintf("nsup: %s/%s: %s", env, strings.Trim(mainProcess(p, env), `"`), why))
		}
	}
	status, err := executor.Apply(ctx, p, opts)
	var ns *executor.NotStartedError
	if p.Detach && errors.As(err, &ns) {
		// Up but for those: each listed, with why (nsup ps says it too).
		if perr := printDetached(ios, p); perr != nil {
			return perr
		}
		return err
	}
	if err != nil {
		return err
	}
	if p.Detach {
		return printDetached(ios, p)
	}
	if len(p.Environments) > 1 {
		for _, f := range failed {
			fmt.Fprintln(ios.stderr, f)
		}
	}
	for _, w := range whys {
		fmt.Fprintln(ios.stderr, w)
	}
	if status != 0 {
		return exitStatus(status)
	}
	return nil
}

// mainProcess names an environment's main process, quoted.
func mainProcess(p *planner.Plan, env string) string {
	for _, e := range p.Environments {
		if e.Name != env {
			continue
		}
		for _, st := range e.Steps {
			switch s := st.Op.(type) {
			case planner.Spawn:
				if s.Main {
					return fmt.Sprintf("%q", s.Process)
				}
			case planner.Monitor:
				return fmt.Sprintf("%q", s.Process)
			}
		}
	}
	return "(init: false)"
}

// colorful reports whether output labels may be coloured: w is a
// terminal and NO_COLOR (no-color.org) is unset or empty.
func colorful(w io.Writer) bool {
	return os.Getenv("NO_COLOR") == "" && isTerminal(w)
}

// isTerminal reports whether v is a file that is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// maxPlanSize bounds what apply reads of its argument (a spec or a saved
// plan).
const maxPlanSize = 256 << 20

// countEnvs is "1 environment" or "N environments".
func countEnvs(n int) string {
	if n == 1 {
		return "1 environment"
	}
	return fmt.Sprintf("%d environments", n)
}
