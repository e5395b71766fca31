package planner

// The environment's syscall filter: the profile the spec names, resolved
// for its capabilities, with what nsup adds where it shares the host's
// namespaces, compiled once per spec.

import (
	"fmt"
	"path"
	"runtime"
	"strconv"
	"strings"

	"github.com/nsup/nsup/internal/regfile"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/planner/seccomp"
	"github.com/nsup/nsup/spec"
)

type plannedStep struct {
	pos spec.Pos
	op  Op
}

// seccomp plans the environment's syscall filter, or nil for
// `seccomp: unconfined`.
func (ec *envCompiler) seccomp() *plannedStep {
	profile, pos := spec.SeccompDefault, ec.e.Pos
	if s := ec.e.Security; s != nil && s.Seccomp != nil {
		profile, pos = s.Seccomp.Value, s.Seccomp.Pos
	}
	caps := ec.capabilities()
	// In the host's IPC namespace, in a user namespace or not: the kernel
	// checks its objects by uid (refuseHostIPC).
	noHostIPC, selfOnly := ec.inHostNS(spec.NSIPC), ec.inHostPIDNS()
	if profile == spec.SeccompUnconfined {
		switch {
		case ec.confiningUserNS() && (noHostIPC || selfOnly):
			// Landlock scopes neither: unconfinedHostNS.
			var what []string
			if noHostIPC {
				what = append(what, "the host's SysV IPC and message queues ("+strings.Join(hostIPCSyscalls[:4], ", ")+", ...; add ipc to namespaces for an IPC namespace of its own)")
			}
			if selfOnly {
				what = append(what, "other processes' limits and priorities (prlimit64, sched_setscheduler, sched_setattr, sched_setparam with a pid; setpriority, ioprio_set but for the caller: in the host's pid namespace, root inside would change those of every host process of the uids it maps; add pid to namespaces)")
			}
			ec.notes = append(ec.notes, ec.field+".security.seccomp: unconfined: no syscall filter but one refusing "+strings.Join(what, " and ")+": the kernel checks those by uid, and root inside is a uid of the host's")
			profile = unconfinedHostNS
		case ec.confiningUserNS():
			ec.notes = append(ec.notes, "seccomp: unconfined: no syscall filter")
			return nil
		default:
			// What Docker's profile refuses for the host's sake, not for a
			// capability's: unconfinedRoot.
			ec.notes = append(ec.notes, ec.field+".security.seccomp: unconfined: no syscall filter but one refusing the keyring calls ("+strings.Join(keyringSyscalls, ", ")+") and new user namespaces (unshare, clone with CLONE_NEWUSER; clone3 ENOSYS; not with SYS_ADMIN): outside a user namespace that maps root elsewhere, root inside is the host's root to the kernel's keyrings (the host root's user keyring), and in a user namespace of its own would mount its cgroups and lift its limits; give the environment a user namespace (idmap) for no filter at all")
			profile = unconfinedRoot
		}
	}
	if path.IsAbs(profile) {
		// A profile file reached through a link an environment may have
		// planted: the next run's filter would be its choice.
		ec.plantedLink(profile, pos, ec.field+".security.seccomp")
	}
	// A profile of the spec's gets what unconfined keeps where root
	// inside is the host's root (rootRefusals).
	hostRoot := profile != spec.SeccompDefault && profile != unconfinedRoot && profile != unconfinedHostNS && !ec.confiningUserNS()
	op, err := ec.compiler.filter(profile, caps, noHostIPC, selfOnly, hostRoot)
	if err != nil {
		ec.errorf(pos, ec.field+".security.seccomp", "%v", err)
		return nil
	}
	return &plannedStep{pos: pos, op: op}
}

type filterResult struct {
	op  Seccomp
	err error
}

// filter resolves and compiles a profile for a capability set, once per
// spec: environments mostly share both.
func (c *compiler) filter(profile string, caps []string, noHostIPC, selfOnly, hostRoot bool) (Seccomp, error) {
	key := profile + "\x00" + strings.Join(caps, ",") + "\x00" + strconv.FormatBool(noHostIPC) + "\x00" + strconv.FormatBool(selfOnly) + "\x00" + strconv.FormatBool(hostRoot)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.filters[key]; ok {
		return r.op, r.err
	}
	op, err := c.compileFilter(profile, caps, noHostIPC, selfOnly, hostRoot)
	if c.filters == nil {
		c.filters = map[string]filterResult{}
	}
	c.filters[key] = filterResult{op, err}
	return op, err
}

// maxProfile bounds a seccomp profile file (Docker's default is 20 KiB).
const maxProfile = 4 << 20

func (c *compiler) compileFilter(profile string, caps []string, noHostIPC, selfOnly, hostRoot bool) (Seccomp, error) {
	var rules *specs.LinuxSeccomp
	var err error
	switch {
	case profile == unconfinedRoot:
		rules = UnconfinedRootRules(caps)
	case profile == unconfinedHostNS:
		rules = UnconfinedRules()
	case c.opts.Seccomp != nil:
		rules, err = c.opts.Seccomp(profile, caps)
	case profile == spec.SeccompDefault:
		rules, err = seccomp.Default(caps)
	default:
		var data []byte
		data, err = regfile.ReadBounded(profile, maxProfile)
		if err == nil {
			rules, err = seccomp.Load(data, caps)
		}
	}
	if err != nil {
		return Seccomp{}, err
	}
	if rules == nil {
		return Seccomp{}, fmt.Errorf("%s: the profile has no default action and no rule", profile)
	}
	var rootRefused string
	if hostRoot {
		rules, rootRefused = rootRefusals(rules, caps)
	}
	rules = HostRefusals(rules, noHostIPC, selfOnly)
	flags, err := seccomp.Flags(rules)
	if err != nil {
		return Seccomp{}, fmt.Errorf("%s: %w", profile, err)
	}
	op := Seccomp{
		Profile:     profile,
		NoHostIPC:   noHostIPC,
		SelfOnly:    selfOnly,
		RootRefused: rootRefused,
		Flags:       SeccompFlags(flags) | unix.SECCOMP_FILTER_FLAG_TSYNC,
		Rules:       rules,
	}
	// Docker's profile for nsup's default capabilities was compiled when
	// nsup was built.
	if profile == spec.SeccompDefault && c.opts.Seccomp == nil && !noHostIPC && !selfOnly {
		var ok bool
		if op.Program, op.Digest, ok = seccomp.DefaultProgram(caps, runtime.GOARCH); ok {
			return op, nil
		}
	}
	prog, err := seccomp.Compile(rules, runtime.GOARCH)
	if err != nil {
		return Seccomp{}, fmt.Errorf("%s: %w", profile, err)
	}
	op.Program, op.Digest = seccomp.Bytes(prog), seccomp.Digest(prog)
	return op, nil
}
