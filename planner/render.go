package planner

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/spec"
)

// Render writes the plan as text: one strace-like line per step,
//
//	hello  child   7  mount("tmpfs", <root>/tmp, "tmpfs", MS_NOSUID|MS_NODEV, "size=16m,mode=1777")  # hello.yaml:9:9
//
// and, under a closure's rootfs step, one line per file of the tree.
// <root> is the environment's root: such targets are resolved inside it
// (openat2 RESOLVE_IN_ROOT) and mounted through the resolved fd.
func Render(w io.Writer, p *Plan) error {
	width := 0
	for _, e := range p.Environments {
		width = max(width, len(e.Name))
	}
	// Written as it goes, through one buffer: a plan of a thousand
	// environments is megabytes of text, not worth holding whole. Its
	// environments are formatted a batch at a time, on every CPU, and
	// written in their order.
	b := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(b, "# nsup plan of %s (%s)\n", p.Spec, p.SpecDigest)
	if p.Project != "" {
		fmt.Fprintf(b, "# project %s\n", p.Project)
	}
	RenderVars(b, p.Vars, p.EnvFile, "# ")
	if p.Detach {
		// Apply holds each environment's last steps back (Sequence):
		// listed where they are made.
		b.Write(renderSequence(nil, p, width))
		return b.Flush()
	}
	envs := p.Environments
	workers := min(runtime.GOMAXPROCS(0), len(envs)/renderBatch+1)
	bufs := make([][]byte, min(len(envs), workers*renderBatch))
	for len(envs) > 0 {
		n := min(len(envs), len(bufs))
		if workers == 1 {
			for i := range n {
				bufs[i] = renderEnv(bufs[i][:0], &envs[i], width)
			}
		} else {
			var wg sync.WaitGroup
			for k := range workers {
				wg.Go(func() {
					for i := k; i < n; i += workers {
						bufs[i] = renderEnv(bufs[i][:0], &envs[i], width)
					}
				})
			}
			wg.Wait()
		}
		for _, buf := range bufs[:n] {
			b.Write(buf)
		}
		envs = envs[n:]
	}
	return b.Flush()
}

// renderBatch is how many environments each CPU formats before they are
// written.
const renderBatch = 32

// renderEnv appends an environment's lines to buf: its notes, then a
// line per step,
//
//	NAME  STAGE  N  CALL  # ORIGIN
//
// the name padded to width, the call to 60 characters (as %-60s pads).
func renderEnv(buf []byte, e *Env, width int) []byte {
	buf = renderHead(buf, e)
	for i := range e.Steps {
		buf = renderStep(buf, e, i, width)
	}
	return buf
}

// renderHead appends an environment's notes: what it is planned after,
// and the planner's decisions.
func renderHead(buf []byte, e *Env) []byte {
	if len(e.Needs) > 0 {
		buf = fmt.Appendf(buf, "# %s joins namespaces of %s: planned after it\n", e.Name, strings.Join(e.Needs, ", "))
	}
	if len(e.DependsOn) > 0 {
		var ds []string
		for _, d := range e.DependsOn {
			ds = append(ds, d.Env+" ("+d.Condition+")")
		}
		buf = fmt.Appendf(buf, "# %s depends on %s: planned after it\n", e.Name, strings.Join(ds, ", "))
	}
	for _, n := range e.Notes {
		buf = append(append(append(append(buf, "# "...), e.Name...), ": "...), Shown(n)...)
		buf = append(buf, '\n')
	}
	return buf
}

// renderStep appends the line of step i of e (and a rootfs's files).
func renderStep(buf []byte, e *Env, i, width int) []byte {
	st := e.Steps[i]
	buf = padRight(buf, e.Name, width)
	buf = append(buf, "  "...)
	buf = padRight(buf, st.Stage.String(), 5)
	buf = append(buf, ' ')
	if i < 100 {
		buf = append(buf, ' ')
	}
	if i < 10 {
		buf = append(buf, ' ')
	}
	buf = strconv.AppendInt(buf, int64(i), 10)
	buf = append(buf, "  "...)
	buf = padRight(buf, FormatOp(st.Op), 60)
	buf = append(append(append(buf, "  # "...), st.Origin...), '\n')
	if r, ok := st.Op.(Rootfs); ok {
		for _, f := range r.Files {
			buf = append(buf, strings.Repeat(" ", width+13)...)
			buf = append(append(append(buf, "  "...), formatFile(f)...), '\n')
		}
	}
	return buf
}

// padRight appends s and, as fmt's %-Ns does, spaces up to n characters.
func padRight(buf []byte, s string, n int) []byte {
	buf = append(buf, s...)
	for c := utf8.RuneCountInString(s); c < n; c++ {
		buf = append(buf, ' ')
	}
	return buf
}

func formatFile(f File) string {
	switch f.Type {
	case "symlink":
		return fmt.Sprintf("%s -> %s", fileName(f.Path), fileName(f.Link))
	case "dir":
		return fmt.Sprintf("%s/  %04o", fileName(strings.TrimSuffix(f.Path, "/")), f.Mode)
	case "file":
		if f.Content != "" {
			return fmt.Sprintf("%s  %04o  %d  %s  nsup's: %s", fileName(f.Path), f.Mode, f.Size, f.Digest, q(f.Content))
		}
	}
	return fmt.Sprintf("%s  %04o  %d  %s", fileName(f.Path), f.Mode, f.Size, f.Digest)
}

func q(s string) string { return strconv.Quote(s) }

// create renders Mount.Create: the mount point made, in the root, when
// it is missing (a write to the root's tree, which may be the host's).
func create(kind string) string {
	switch kind {
	case "":
		return ""
	case "dir":
		return ", mkdir target if missing"
	}
	return ", create target " + kind + " if missing"
}

// qn quotes s, or prints NULL for an empty string, as strace does for a
// null pointer argument.
func qn(s string) string {
	if s == "" {
		return "NULL"
	}
	return q(s)
}

func qlist(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = q(s)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func inRoot(p string) string {
	if p == "/" {
		return "<root>"
	}
	return "<root>" + fileName(p)
}

// limit renders a resource limit as strace does.
func limit(v uint64) string {
	if v == RlimInfinity {
		return "RLIM_INFINITY"
	}
	return strconv.FormatUint(v, 10)
}

// seccompSource says where a filter's rules came from.
func seccompSource(op Seccomp) string {
	n := 0
	if op.Rules != nil {
		for _, r := range op.Rules.Syscalls {
			n += len(r.Names)
		}
	}
	src := q(op.Profile)
	if op.Profile == "default" {
		src = "Docker's default profile"
	}
	if op.NoHostIPC {
		src += ", with the host's SysV IPC and message queues refused"
	}
	if op.SelfOnly {
		src += ", with other processes' limits and priorities refused"
	}
	if op.RootRefused != "" {
		src += ", with " + op.RootRefused + " refused"
	}
	return fmt.Sprintf("%s (%d syscall rules, default action %s)", src, n, defaultAction(op))
}

func defaultAction(op Seccomp) string {
	if op.Rules == nil {
		return "?"
	}
	return string(op.Rules.DefaultAction)
}

// idMap renders a uid_map or gid_map write: direct, or through its helper.
func idMap(file, helper string, lines []IDMapLine) string {
	if helper != "" {
		return fmt.Sprintf("newidmap(%s, $CHILD, %s)", q(helper), q(MapText(lines)))
	}
	return fmt.Sprintf("write(%s, %s)", q("/proc/$CHILD/"+file), q(MapText(lines)))
}

// FormatOp renders one operation as the plan prints it: the syscall with
// its arguments, flags by their kernel names.
func FormatOp(op Op) string {
	switch op := op.(type) {
	case Rootfs:
		switch op.Type {
		case "dir":
			return fmt.Sprintf("rootfs(dir, %s)", q(op.Path))
		case "tar":
			return fmt.Sprintf("rootfs(tar, %s, %s, from %s)", q(op.Path), op.Digest, qlist(op.Sources))
		}
		if len(op.Host) > 0 {
			return fmt.Sprintf("rootfs(closure, %s, %s, %d files: the mount points and links of the host's %s)", q(op.Path), op.Digest, len(op.Files), qlist(op.Host))
		}
		return fmt.Sprintf("rootfs(closure, %s, %s, %d files)", q(op.Path), op.Digest, len(op.Files))
	case Fork:
		return "fork()"
	case Clone:
		// From a forked copy (CLONE_PARENT) the child is nsup's, and so is
		// its exit signal: clone3 takes none then.
		sig, cg := "SIGCHLD", ""
		if op.Flags&unix.CLONE_PARENT != 0 {
			sig = "0"
		}
		flags := op.Flags.String()
		if op.Cgroup != "" {
			flags += "|CLONE_INTO_CGROUP"
			cg = fmt.Sprintf(", cgroup=%s", q(op.Cgroup))
		}
		if op.Late {
			return fmt.Sprintf("close_range of every fd of nsup's but fds 0-N, the report pipe and nsup's binary, clone3({flags=%s, exit_signal=%s}), its pid reported, exit; child: %s, once the parent saw nsup alive setsid()", flags, sig, cloneChild(op))
		}
		return fmt.Sprintf("clone3({flags=%s, exit_signal=%s%s}); child: %s", flags, sig, cg, cloneChild(op))
	case CgroupMkdir:
		// Apply makes the group's nsup/ folder first when the hierarchy
		// (or NSUP_CGROUP_PARENT's group) lacks it.
		return "mkdir(" + q(path.Dir(op.Path)) + ", 0755) if missing, then mkdir(" + q(op.Path) + ", 0755)"
	case EtcFile:
		return "move_mount(<a tmpfs's file, read-only>, " + inRoot(op.Target) + ") of " + q(op.Content)
	case Console:
		walk := ""
		if op.Beneath != "" {
			walk = ", following no link"
		}
		return fmt.Sprintf("move_mount(<the terminal: the /dev/pts/N of /proc/self/fd/0, opened, checked to be fd 0, cloned, read-only>, %s), fds 0, 1, 2 that are it reopened there: create target file if missing%s", beneathOrInRoot(op.Target, op.Beneath), walk)
	case ReadOnlyTerminal:
		return "open_tree(<the terminal: the /dev/pts/N of /proc/self/fd/0, opened following no link, checked to be fd 0>, OPEN_TREE_CLONE), mount_setattr(its fd, MOUNT_ATTR_RDONLY|NOSUID|NOEXEC), open(its fd, O_RDWR|O_NOCTTY), dup3 over fds 0, 1, 2 that are it"
	case Pasta:
		return op.text()
	case CgroupWrite:
		return "write(" + q(op.Path) + ", " + q(op.Value) + ")"
	case CgroupJoin:
		return "write(" + q(path.Join(op.Path, "tasks")) + ", \"0\")"
	case UIDMap:
		return idMap("uid_map", op.Helper, op.Lines)
	case GIDMap:
		return idMap("gid_map", op.Helper, op.Lines)
	case DenySetgroups:
		return `write("/proc/$CHILD/setgroups", "deny")`
	case TimeOffsets:
		return fmt.Sprintf("write(\"/proc/$TID/timens_offsets\", %s)", q(op.Text()))
	case Unshare:
		return fmt.Sprintf("unshare(%s)", op.Flags)
	case Setns:
		path := q(op.Path)
		k, _ := spec.NamespaceOfFlag(uint64(op.NSType))
		switch {
		case op.Env != "" || op.Pod != "":
		case op.NS != 0:
			path += fmt.Sprintf(" = %s:[%d]", k.Name, op.NS) // as readlink shows it
		default:
			path += fmt.Sprintf(" (no %s namespace nsup could open there when planned: apply refuses it)", k.Name)
		}
		return fmt.Sprintf("setns(%s, %s)", path, op.NSType)
	case Execve:
		if op.ByFD {
			return "execveat(fd of " + q(op.Path) + ", \"\", " + qlist(op.Argv) + ", " + qlist(op.Env) + ", AT_EMPTY_PATH)" + output(op.Output)
		}
		path := qn(op.Path)
		if op.Path == "" && len(op.Argv) > 0 {
			path = q("$PATH:" + op.Argv[0]) // looked up when the process starts
		}
		return "execve(" + path + ", " + qlist(op.Argv) + ", " + qlist(op.Env) + ")" + output(op.Output) + bareStop(op.StopTimeout)
	case Mount:
		target, source := q(op.Target), qn(op.Source)
		if op.InRoot {
			target = inRoot(op.Target)
		}
		if op.SourceInRoot {
			source = inRoot(op.Source)
		}
		if op.Beneath != "" {
			target = beneathOrInRoot(op.Target, op.Beneath)
			if op.SourceInRoot {
				source = beneathOrInRoot(op.Source, op.Beneath)
			}
		}
		if s, ok := hostTreeText(op, target); ok {
			return s
		}
		if !op.InRoot && op.Source != "" && op.Source == op.Target && op.Flags&msBIND != 0 && op.Flags&msREMOUNT == 0 {
			// The root bound onto itself: its clone's fd is the root's
			// handle for every step after, up to the root switch.
			rec := ""
			if op.Flags&msREC != 0 {
				rec = "|AT_RECURSIVE"
			}
			return "open_tree(" + source + ", OPEN_TREE_CLONE" + rec + "), move_mount(its fd, " + target + "), its fd the root's"
		}
		held := ""
		if op.Held {
			if op.Flags&msBIND == 0 {
				return heldFS(op, target)
			}
			held = ", its fd held" // a bind: a detached clone, as below
		}
		if op.Beneath != "" && op.Target == op.Beneath && op.Detached {
			held = ", its fd held" // it covers the held mount: the steps after go beneath it
		}
		if op.Detached || held != "" {
			rec := ""
			if op.Flags&msREC != 0 {
				rec = "|AT_RECURSIVE"
			}
			return "open_tree(" + source + ", OPEN_TREE_CLONE" + rec + "), move_mount(its fd, " + target + ")" + held + createOf(op)
		}
		return "mount(" + source + ", " + target + ", " + qn(op.FSType) + ", " + op.Flags.String() + ", " + qn(op.Data) + ")" + createOf(op)
	case Overlay:
		x := ""
		if op.UserXattr {
			x = ", userxattr"
		}
		if op.NoDev {
			x += ", MS_NODEV"
		}
		if op.HostTree {
			return fmt.Sprintf("overlay(fsopen, lowerdir=the host's clone of %s, upperdir and workdir on a new tmpfs%s), the tmpfs and the clone on \"/\" while it is made (then umount2 of the tmpfs, MNT_DETACH), move_mount(its fd, \"/\"), its fd the root's (the root's path is not walked)", q(op.Lower), x)
		}
		return fmt.Sprintf("overlay(%s, lowerdir=%s, upperdir and workdir on a new tmpfs%s)", q(op.Target), q(op.Lower), x)
	case Symlink:
		return "symlink(" + q(op.Target) + ", " + beneathOrInRoot(op.Link, op.Beneath) + ")"
	case LinkUp:
		return "ioctl(SIOCSIFFLAGS, " + q(op.Name) + ", IFF_UP)"
	case Sethostname:
		return "sethostname(" + q(op.Name) + ")"
	case Setdomainname:
		return fmt.Sprintf("setdomainname(%s)", q(op.Name))
	case PivotRoot:
		return "pivot_root(" + q(op.NewRoot) + ", " + q(op.PutOld) + ")"
	case Chdir:
		return "chdir(" + q(op.Path) + ")"
	case Umount2:
		return "umount2(" + q(op.Target) + ", " + op.Flags.String() + ")"
	case Prctl:
		if op.Name != "" {
			return "prctl(" + op.Option.String() + ", " + q(op.Name) + ")"
		}
		return "prctl(" + op.Option.String() + ", " + strconv.FormatUint(op.Arg, 10) + ")"
	case Capset:
		return "capset(" + strings.Join(op.Keep, "|") + ")"
	case CloseRange:
		return "close_range(" + strconv.FormatUint(uint64(op.First), 10) + ", ~0U, CLOSE_RANGE_CLOEXEC)"
	case Setgroups:
		g := make([]string, len(op.Groups))
		for i, x := range op.Groups {
			g[i] = strconv.FormatUint(uint64(x), 10)
		}
		return fmt.Sprintf("setgroups(%d, [%s])", len(op.Groups), strings.Join(g, ", "))
	case Setresgid:
		id := strconv.FormatUint(uint64(op.GID), 10)
		return "setresgid(" + id + ", " + id + ", " + id + ")"
	case Setresuid:
		id := strconv.FormatUint(uint64(op.UID), 10)
		return "setresuid(" + id + ", " + id + ", " + id + ")"
	case Spawn:
		who := q(op.Process)
		if op.Main {
			who += " (the main process)"
		}
		if op.Parent != "" {
			who += ", child of " + q(op.Parent)
		}
		if op.NoTerminal {
			who += ", its stdin an empty pipe (the terminal is the main process's, another user's)"
		}
		return fmt.Sprintf("clone(SIGCHLD): %s%s%s%s%s", who, stopTimeout(op.StopTimeout), output(op.Output), restart(op.Restart, op.Main), healthcheck(op.Healthcheck))
	case WaitHealthy:
		release := ""
		if op.Release {
			release = fmt.Sprintf("%s released first unless it is already (its last steps, listed above), ", op.Env)
		}
		if op.StateDir != "" {
			release = fmt.Sprintf("%s runs already (%s), asking its init ", op.Env, q(op.StateDir))
		}
		return fmt.Sprintf("wait(%s healthy): %suntil %s's main process %s passes its healthcheck; fails if it is unhealthy, has ended, or is still starting after %v",
			op.Env, release, op.Env, q(op.Process), time.Duration(op.TimeoutMs)*time.Millisecond)
	case Monitor:
		return fmt.Sprintf("clone(SIGCHLD): %s; this process stays as PID 1, nsup's command line and environment blanked: reaps, forwards signals, stops it on SIGTERM (SIGKILL after %v), exits with its status",
			q(op.Process), time.Duration(op.StopTimeout)*time.Millisecond)
	case Mkdir:
		return fmt.Sprintf("mkdir(%s, %04o)", q(op.Path), op.Mode)
	case Hold:
		return op.text()
	case OpenTree:
		return op.text()
	case IdmapTree:
		return op.text()
	case MakeCwd:
		return op.text()
	case Volume:
		owner := ""
		if op.UID >= 0 || op.GID >= 0 {
			owner = fmt.Sprintf(", chown(%d, %d)", op.UID, op.GID)
		}
		return fmt.Sprintf("mkdir(%s, %04o)%s if missing: volume %s, after flock(%s, LOCK_SH|LOCK_NB), held while nsup runs it", q(op.Path), op.Mode, owner, q(op.Name), q(op.Lock))
	case MkdirAll:
		return fmt.Sprintf("mkdir(%s, %04o) if missing, and its parents", q(op.Path), op.Mode)
	case Flock:
		return fmt.Sprintf("flock(%s, LOCK_EX|LOCK_NB)", q(op.Path))
	case Stdio:
		s := fmt.Sprintf("open(0 < %s, 1 2 >> %s)", q(op.Stdin), q(op.Stdout))
		if op.Max > 0 {
			s += fmt.Sprintf(": written by init alone, at most %s (then its oldest half is cut)", sizeText(op.Max))
		}
		return s
	case Listen:
		return fmt.Sprintf("listen(AF_UNIX, SOCK_SEQPACKET, %s)", q(op.Path))
	case Setsid:
		return "setsid()"
	case Setctty:
		return "ioctl(0, TIOCSCTTY, 0)"
	case Openpty:
		if op.ReadOnly && op.Helper {
			return `openpty("/dev/ptmx"), its peer opened again through a read-only clone (open_tree, mount_setattr) made by nsup's helper (clone(CLONE_NEWUSER|CLONE_NEWNS), execve("/proc/self/exe", ["nsup", "__nsup_ptyro"]): the caller's ids mapped to 0) and sent back: fds 0, 1, 2 of the environment, relayed to nsup's terminal`
		}
		if op.ReadOnly {
			return `openpty("/dev/ptmx"), its peer opened again through a read-only clone (open_tree, mount_setattr): fds 0, 1, 2 of the environment, relayed to nsup's terminal`
		}
		return `openpty("/dev/ptmx"): fds 0, 1, 2 of the environment, relayed to nsup's terminal`
	case NullDevice:
		return `open_tree("/dev/null", OPEN_TREE_CLONE), mount_setattr(its fd, MOUNT_ATTR_RDONLY|NOSUID|NOEXEC), open(its fd): for fds 0-2 that are the null device`
	case MountSetattr:
		p := q(op.Path)
		if op.InRoot {
			p = inRoot(op.Path)
		}
		flags := "0"
		if op.Recursive {
			flags = "AT_RECURSIVE"
		}
		if op.ByFD {
			// The previous step's clone, now mounted on p.
			p = "its fd"
			if flags = "AT_EMPTY_PATH"; op.Recursive {
				flags += "|AT_RECURSIVE"
			}
		}
		clr := ""
		if op.Clear != 0 {
			clr = ", clear " + op.Clear.String()
		}
		return "mount_setattr(" + p + ", " + flags + ", " + op.Set.String() + clr + ")"
	case Prlimit:
		return "prlimit64(0, " + op.Resource.String() + ", {" + limit(op.Soft) + ", " + limit(op.Hard) + "})"
	case Keyctl:
		return "keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)"
	case Landlock:
		return fmt.Sprintf("landlock_restrict_self(landlock_create_ruleset({.scoped = %s}), 0)", landlockScopes(op.Scoped))
	case InheritCaps:
		return "capset(inheritable = permitted)"
	case CapbsetDrop:
		if len(op.Keep) == 0 {
			return "prctl(PR_CAPBSET_DROP, every capability)"
		}
		return "prctl(PR_CAPBSET_DROP, every capability but " + strings.Join(op.Keep, "|") + ")"
	case Seccomp:
		return fmt.Sprintf("seccomp(SECCOMP_SET_MODE_FILTER, %s, <%d instructions, %s>) of %s", op.Flags, len(op.Program)/8, op.Digest, seccompSource(op))
	case SaveState:
		return fmt.Sprintf("state(%s: init's pid, start time, namespace inodes)", q(op.Path))
	}
	return fmt.Sprintf("%T?", op)
}

// RenderVars writes where each variable reference's value came from, one
// line each after prefix: FILE:LINE:COL  ${TAG:-dev} = "dev"  (default).
func RenderVars(w io.Writer, vars []Var, envFile, prefix string) {
	if len(vars) == 0 {
		return
	}
	from := "nsup's environment"
	if envFile != "" {
		from += ", else " + envFile
	}
	fmt.Fprintf(w, "%svariables (from %s):\n", prefix, from)
	width := 0
	for _, v := range vars {
		width = max(width, len(v.At))
	}
	for _, v := range vars {
		from := v.From
		switch from {
		case "environment":
			from = "nsup's environment"
		case "default":
			from = "the reference's default"
		case "unset":
			from = "unset"
		}
		// The reference as written, whose default may hold any
		// character: shown escaped, as notes are.
		fmt.Fprintf(w, "%s  %-*s  %s = %s  (%s)\n", prefix, width, Shown(v.At), Shown(v.Text), q(v.Value), Shown(from))
	}
}

// sizeText is a size in bytes as the plan shows it: whole MiB or KiB when
// it is one, else bytes.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
