package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A rule is one checked specs.LinuxSyscall.
type rule struct {
	names []string
	ret   uint32
	args  []specs.LinuxSeccompArg
}

type profile struct {
	deflt  uint32
	rules  []rule
	listed []specs.Arch // the native one first, then the profile's
}

// check validates s for goarch and lowers actions to SECCOMP_RET_* values.
func check(s *specs.LinuxSeccomp, goarch string) (*profile, []abi, error) {
	table := abisOf(goarch)
	switch {
	case s == nil:
		return nil, nil, errors.New("no seccomp profile")
	case table == nil:
		return nil, nil, fmt.Errorf("seccomp: goarch %q is not supported (amd64, arm64)", goarch)
	case s.ListenerPath != "":
		return nil, nil, errors.New("listenerPath is not supported: nsup has no seccomp agent")
	case s.DefaultAction == "":
		return nil, nil, errors.New("defaultAction is empty")
	}
	if _, err := Flags(s); err != nil {
		return nil, nil, err
	}
	p := &profile{
		listed: append(make([]specs.Arch, 0, 1+len(s.Architectures)), table[0].name),
		rules:  make([]rule, len(s.Syscalls)),
	}
	var err error
	if p.deflt, err = action(s.DefaultAction, s.DefaultErrnoRet); err != nil {
		return nil, nil, fmt.Errorf("defaultAction: %w", err)
	}
	for i, a := range s.Architectures {
		if !slices.Contains(foreignArches, a) {
			return nil, nil, fmt.Errorf("architectures[%d]: %q is not an architecture", i, a)
		}
		p.listed = append(p.listed, a)
	}
	for i, sc := range s.Syscalls {
		// where names the rule in an error; a function, as a string per
		// rule would cost more than checking it.
		where := func() string {
			w := fmt.Sprintf("syscalls[%d]", i)
			switch len(sc.Names) {
			case 0:
			case 1:
				w += " (" + sc.Names[0] + ")"
			default:
				w += fmt.Sprintf(" (%s and %d more)", sc.Names[0], len(sc.Names)-1)
			}
			return w
		}
		switch {
		case len(sc.Names) == 0:
			return nil, nil, fmt.Errorf("%s: no names", where())
		case slices.Contains(sc.Names, ""):
			return nil, nil, fmt.Errorf("%s: empty name", where())
		}
		r := &p.rules[i]
		r.names, r.args = sc.Names, sc.Args
		if r.ret, err = action(sc.Action, sc.ErrnoRet); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where(), err)
		}
		for _, a := range sc.Args {
			if a.Index >= maxArgs {
				return nil, nil, fmt.Errorf("%s: arg index %d is not in 0..5", where(), a.Index)
			}
			switch a.Op {
			case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
				specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
			default:
				return nil, nil, fmt.Errorf("%s: op %s is not supported", where(), a.Op)
			}
		}
	}
	return p, table, nil
}

// action is the SECCOMP_RET_* value of an OCI action (seccomp(2), "Filter
// return values"; the mapping is runc's).
func action(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	errno := uint(unix.EPERM) // runc's default for ERRNO and TRACE
	if errnoRet != nil {
		errno = *errnoRet
	}
	if (a == specs.ActErrno || a == specs.ActTrace) && errno > unix.SECCOMP_RET_DATA {
		return 0, fmt.Errorf("errnoRet %d does not fit SECCOMP_RET_DATA", errno)
	}
	switch a {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | uint32(errno), nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | uint32(errno), nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s is not supported: nsup has no seccomp agent", a)
	}
	return 0, fmt.Errorf("action %q is not supported", a)
}

// Flags maps the profile's OCI flags (SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) to their kernel bits; unknown ones are an error.
func Flags(s *specs.LinuxSeccomp) (uint, error) {
	var f uint
	if s == nil {
		return 0, nil
	}
	for i, fl := range s.Flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			f |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			f |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			f |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		default:
			return 0, fmt.Errorf("flags[%d]: %q is not supported", i, fl)
		}
	}
	return f, nil
}
