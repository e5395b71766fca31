package executor

import (
	"encoding/binary"
	"fmt"
	"path"
	"strings"
	"sync"
	"unsafe"

	"github.com/nsup/nsup/executor/store"
	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// rawBuilder turns the steps of the raw stages (child, proc) into a
// rawProg before the fork: every path, string and structure a system
// call takes is made here, so that the copy only makes the calls. The
// switch in add is the raw stages' one place per operation.
type rawBuilder struct {
	prog *rawProg
	// exe is nsup's binary (O_PATH), or -1: given to the program only by
	// the execveat of nsup's init (Execve ByFD), so that no other child
	// holds it (any other closes nsup's fds before its execve).
	exe int
	// joinsUser: the child stage joins a user namespace, where
	// setgroups(2) may be denied (a map written without privilege,
	// user_namespaces(7)): the groups are kept then.
	joinsUser bool
	// lookPath resolves an Execve without a path (a tar root: argv[0]
	// in PATH inside the root), or is nil where none is expected.
	lookPath func(argv, env []string) (string, error)
	// fail and pause are the test hooks of this program's steps.
	fail, pause *failPoint
	// trees are the host's clones for the child's binds (hosttree.go).
	trees hostTrees
	roots map[string]*byte
	// detached: the last step added is a Detached bind, whose fd a
	// MountSetattr ByFD takes; detachedRec: with MS_REC.
	detached, detachedRec bool
	// heldMnts are the held mounts' slots, and which are held (rawheld.go).
	heldMnts heldMounts
	// rootBound is the root bound onto itself (rawDoRootBind), whose
	// own mount_setattr steps go through its handle.
	rootBound string
	// The pid namespace joined after the root switch (rawlate.go):
	// lateNS its Setns's path, late its clone added, pidNS proc's.
	lateNS, pidNS string
	late          bool
}

// newRawProg is a program with no step yet and its fixed parts ready.
func newRawProg() *rawProg {
	p := &rawProg{exe: ^uintptr(0), rootFD: ^uintptr(0), lifeline: ^uintptr(0), kept: ^uintptr(0), pidns: ^uintptr(0)}
	p.main.kind, p.main.p = entryMain, p
	p.ovlConf = overlayTreeConf(p)
	p.how[rawHowFollow] = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: store.ResolveScoped}
	p.how[rawHowNoFollow] = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: store.ResolveScoped}
	p.how[rawHowBeneath] = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
	p.how[rawHowHost] = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	p.how[rawHowCwd] = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_DIRECTORY, Resolve: unix.RESOLVE_NO_MAGICLINKS}
	p.how[rawHowFollowNoXDev] = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: store.ResolveScoped | unix.RESOLVE_NO_XDEV}
	p.how[rawHowNoFollowNoXDev] = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: store.ResolveScoped | unix.RESOLVE_NO_XDEV}
	p.how[rawHowFollowNoLinks] = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: store.ResolveScoped | unix.RESOLVE_NO_SYMLINKS}
	p.how[rawHowNoFollowNoLinks] = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: store.ResolveScoped | unix.RESOLVE_NO_SYMLINKS}
	return p
}

// cstr is s as a C string, refused if it holds a NUL (a hand-edited plan).
func cstr(s string) (*byte, error) {
	b, err := unix.BytePtrFromString(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, unix.EINVAL)
	}
	return b, nil
}

// cstrs is a NULL-terminated array of C strings.
func cstrs(ss []string) (**byte, error) {
	out := make([]*byte, len(ss)+1)
	for i, s := range ss {
		b, err := cstr(s)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return &out[0], nil
}

// inRootPath splits p, an absolute path inside the root, for rawResolve.
func inRootPath(p, create string, followLast bool) (rawPath, error) {
	comps, err := store.Components(p)
	if err != nil {
		return rawPath{}, err
	}
	rp := rawPath{followLast: followLast}
	switch create {
	case "":
	case "dir":
		rp.create = rawCreateDir
	case "file":
		rp.create = rawCreateFile
	default:
		return rawPath{}, fmt.Errorf("create %q: %w", create, unix.EINVAL)
	}
	full := "."
	if len(comps) > 0 {
		full = strings.Join(comps, "/")
	}
	if rp.full, err = cstr(full); err != nil {
		return rawPath{}, err
	}
	for i, c := range comps {
		pre, err := cstr(strings.Join(comps[:i+1], "/"))
		if err != nil {
			return rawPath{}, err
		}
		name, _ := cstr(c)
		rp.prefix = append(rp.prefix, pre)
		rp.name = append(rp.name, name)
	}
	return rp, nil
}

// landlockAttr is struct landlock_ruleset_attr as Landlock's ABI 6 has
// it (handled_access_fs, handled_access_net, scoped).
type landlockAttr struct {
	HandledFS, HandledNet, Scoped uint64
}

// sys is a step that is one system call.
func sys(nr uintptr, args ...uintptr) rawOp {
	o := rawOp{kind: rawSys, nr: nr}
	copy(o.a[:], args)
	return o
}

// pin is v as a system call argument, kept alive with the program: a
// uintptr alone would not keep it from the garbage collector until the
// clone copies it.
func (b *rawBuilder) pin(v unsafe.Pointer) uintptr {
	b.prog.pins = append(b.prog.pins, v)
	return uintptr(v)
}

// add prepares one step of stage child or proc: one case per operation
// those stages perform.
func (b *rawBuilder) add(step int, st planner.Step) error {
	var o rawOp
	var err error
	after, ok := st.Op.(planner.MountSetattr)
	if b.detached != (ok && after.ByFD) {
		return fmt.Errorf("%s: a detached bind's fd is for the mount_setattr just after it, and only there: %w", planner.FormatOp(st.Op), unix.EINVAL)
	}
	if b.detached && after.Recursive != b.detachedRec {
		// A recursive bind's submounts would keep their attributes.
		return fmt.Errorf("%s: AT_RECURSIVE must match the bind's MS_REC: %w", planner.FormatOp(st.Op), unix.EINVAL)
	}
	m, ok := st.Op.(planner.Mount)
	b.detached, b.detachedRec = ok && m.Detached, m.Flags&unix.MS_REC != 0
	if err := b.heldStep(st.Op); err != nil {
		return err
	}
	switch op := st.Op.(type) {
	case planner.Keyctl:
		// A kernel without keyrings (CONFIG_KEYS=n) has no keys to hide.
		o = sys(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING)
		o.ignore = unix.ENOSYS
	case planner.Landlock:
		// Only the attribute's first fields, those of ABI 6: a kernel
		// refuses a larger one whose bytes it does not know unless zero.
		attr := &landlockAttr{Scoped: op.Scoped}
		o = rawOp{kind: rawLandlock}
		o.a[0], o.a[1] = b.pin(unsafe.Pointer(attr)), unsafe.Sizeof(*attr)
	case planner.Setgroups:
		var groups uintptr
		if len(op.Groups) > 0 {
			g := append([]uint32(nil), op.Groups...)
			groups = b.pin(unsafe.Pointer(&g[0]))
		}
		o = sys(unix.SYS_SETGROUPS, uintptr(len(op.Groups)), groups)
		if b.joinsUser {
			// Denied in a joined user namespace whose gid map was written
			// without privilege (user_namespaces(7)): the groups are kept.
			o.ignore = unix.EPERM
		}
	case planner.InheritCaps:
		o.kind = rawInherit
	case planner.CapbsetDrop:
		o = rawOp{kind: rawBounding}
		o.a[0] = uintptr(lastCap() + 1)
		for _, n := range op.Keep {
			c, ok := capNames[n]
			if !ok {
				return fmt.Errorf("unknown capability %s: %w", n, unix.EINVAL)
			}
			o.skip[c/64] |= 1 << (c % 64)
		}
	case planner.Capset:
		hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		data, err := capData(op.Keep)
		if err != nil {
			return err
		}
		o = sys(unix.SYS_CAPSET, b.pin(unsafe.Pointer(hdr)), b.pin(unsafe.Pointer(data)))
	case planner.Prctl:
		switch op.Option {
		case unix.PR_SET_PDEATHSIG:
			o = rawOp{kind: rawPdeath}
			o.a[0] = uintptr(op.Arg)
		case unix.PR_SET_NAME:
			var name *byte
			if name, err = cstr(op.Name); err != nil {
				return err
			}
			o = sys(unix.SYS_PRCTL, unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)))
			o.s[0] = name
		default:
			o = sys(unix.SYS_PRCTL, uintptr(op.Option), uintptr(op.Arg))
		}
	case planner.Setsid:
		o = sys(unix.SYS_SETSID)
	case planner.Unshare:
		o = sys(unix.SYS_UNSHARE, uintptr(op.Flags))
	case planner.TimeOffsets:
		// The copy is one thread: /proc/self/ is this very thread's (the
		// one that unshared), in the host's /proc, still mounted.
		data := op.Text()
		o = rawOp{kind: rawWrite}
		o.a[0] = uintptr(len(data))
		if o.s[0], err = cstr("/proc/self/timens_offsets"); err == nil {
			o.s[1], err = cstr(data)
		}
	case planner.Mount:
		if o, err = b.mountOp(op); err == nil && op.PidNS != "" {
			err = b.pidNSMount(&o, op)
		}
	case planner.Setns, planner.Clone:
		o, err = b.lateOp(st)
	case planner.MountSetattr:
		o = rawOp{kind: rawSetattr}
		if op.Recursive {
			o.a[0] = unix.AT_RECURSIVE
		}
		o.a[1] = b.pin(unsafe.Pointer(&unix.MountAttr{Attr_set: uint64(op.Set), Attr_clr: uint64(op.Clear)}))
		if op.ByFD {
			o.flag = rawSetattrKept // the fd the previous step, a Detached bind, kept
		} else if op.InRoot {
			if o.s[0], err = b.root(op.Root); err == nil {
				o.p[0], err = inRootPath(op.Path, "", false)
			}
		} else if op.Path != "" && op.Path == b.rootBound {
			// The root's own mount: through its handle (rawDoRootBind),
			// not its path again, which a symlink could lead elsewhere.
			if o.s[0], err = b.root(op.Path); err == nil {
				o.p[0], err = inRootPath("/", "", false)
			}
		} else {
			o.s[1], err = cstr(op.Path)
		}
	case planner.Overlay:
		o, err = b.overlayOp(op)
	case planner.Symlink:
		o, err = b.symlinkOp(op)
	case planner.MakeCwd:
		o, err = b.makeCwdOp(op)
	case planner.Console:
		o, err = b.consoleOp(op)
	case planner.ReadOnlyTerminal:
		o, err = b.terminalOp()
	case planner.EtcFile:
		o = rawOp{kind: rawEtcFile}
		o.a[0] = uintptr(len(op.Content))
		o.a[1] = b.pin(unsafe.Pointer(&unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC}))
		if o.s[0], err = b.root(op.Root); err == nil {
			if o.p[0], err = inRootPath(op.Target, "", true); err == nil {
				if o.s[1], err = cstr(op.Content); err == nil {
					if o.s[2], err = cstr(path.Base(op.Target)); err == nil {
						o.s[3], err = cstr("tmpfs")
					}
				}
			}
		}
	case planner.LinkUp:
		if len(op.Name) >= unix.IFNAMSIZ {
			return fmt.Errorf("interface name %q: %w", op.Name, unix.EINVAL)
		}
		o = rawOp{kind: rawLinkUp}
		o.s[0], err = cstr(op.Name)
	case planner.Sethostname:
		o, err = nameCall(unix.SYS_SETHOSTNAME, op.Name)
	case planner.Setdomainname:
		o, err = nameCall(unix.SYS_SETDOMAINNAME, op.Name)
	case planner.Chdir:
		o = rawOp{kind: rawChdir}
		o.s[0], err = cstr(op.Path)
		o.a[0] = rawHowCwd
		if st.Stage == planner.Child && op.Path != "/" {
			// The root's path, before the root switch: a host path,
			// every symlink in it resolved by the planner; the root's
			// handle where it has one (rawDoChdir).
			o.a[0] = rawHowHost
			o.s[1], err = b.root(op.Path)
		}
	case planner.PivotRoot:
		var n, old *byte
		if n, err = cstr(op.NewRoot); err == nil {
			if old, err = cstr(op.PutOld); err == nil {
				o = sys(unix.SYS_PIVOT_ROOT, uintptr(unsafe.Pointer(n)), uintptr(unsafe.Pointer(old)))
				o.s[0], o.s[1] = n, old
				o.flag = 1 // the root's handle goes (rawDropRoot)
			}
		}
	case planner.Umount2:
		o, err = pathCall(unix.SYS_UMOUNT2, op.Target)
		o.a[1] = uintptr(op.Flags)
	case planner.CloseRange:
		o = rawOp{kind: rawCloseFds}
		o.a[0] = uintptr(op.First)
	case planner.Seccomp:
		prog, err := sockFprog(op.Program)
		if err != nil {
			return err
		}
		o = sys(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(op.Flags), b.pin(unsafe.Pointer(prog)))
	case planner.Prlimit:
		lim := &unix.Rlimit{Cur: op.Soft, Max: op.Hard}
		o = sys(unix.SYS_PRLIMIT64, 0, uintptr(op.Resource), b.pin(unsafe.Pointer(lim)), 0)
	case planner.Setctty:
		// fd 0, a terminal, becomes the controlling terminal of the
		// session this process leads.
		o = sys(unix.SYS_IOCTL, 0, unix.TIOCSCTTY, 0)
	case planner.Setresgid:
		o = sys(unix.SYS_SETRESGID, uintptr(op.GID), uintptr(op.GID), uintptr(op.GID))
	case planner.Setresuid:
		o = sys(unix.SYS_SETRESUID, uintptr(op.UID), uintptr(op.UID), uintptr(op.UID))
	case planner.Execve:
		o, err = b.execOp(op)
	case planner.Monitor:
		o = rawOp{kind: rawMonitor}
		o.a[0] = uintptr(op.StopTimeout) * 1e6
	default:
		return fmt.Errorf("%s is not a step of the child or proc stage: %w", planner.FormatOp(st.Op), unix.EINVAL)
	}
	if err != nil {
		return err
	}
	o.step = uintptr(step)
	if b.pause != nil && b.pause.Step == step {
		pz := rawOp{kind: rawPause, step: uintptr(step)}
		if b.pause.Resume != "" {
			if pz.s[0], err = cstr(b.pause.Resume); err != nil {
				return err
			}
		}
		b.prog.ops = append(b.prog.ops, pz)
	}
	if b.fail != nil && b.fail.Step == step {
		o = rawOp{kind: rawFail, step: uintptr(step)}
		o.a[0] = uintptr(b.fail.Errno)
	}
	b.prog.ops = append(b.prog.ops, o)
	return nil
}

// root is the root path p as a C string, one per path in a program, so
// that the steps inside one root share its handle (rawOpenRoot).
func (b *rawBuilder) root(p string) (*byte, error) {
	if c, ok := b.roots[p]; ok {
		return c, nil
	}
	c, err := cstr(p)
	if err != nil {
		return nil, err
	}
	if b.roots == nil {
		b.roots = map[string]*byte{}
	}
	b.roots[p] = c
	return c, nil
}

// nameCall is sethostname(2) or setdomainname(2).
func nameCall(nr uintptr, name string) (rawOp, error) {
	b := []byte(name + "\x00")
	o := sys(nr, uintptr(unsafe.Pointer(&b[0])), uintptr(len(name)))
	o.s[0] = &b[0]
	return o, nil
}

// pathCall is a call whose first argument is a path.
func pathCall(nr uintptr, p string) (rawOp, error) {
	b, err := cstr(p)
	if err != nil {
		return rawOp{}, err
	}
	o := sys(nr, uintptr(unsafe.Pointer(b)))
	o.s[0] = b
	return o, nil
}

// mountOp prepares a Mount: see rawDoMount for the fields.
func (b *rawBuilder) mountOp(op planner.Mount) (rawOp, error) {
	o := rawOp{kind: rawMount}
	o.a[0] = uintptr(op.Flags)
	var err error
	cs := func(i int, s string) {
		if err == nil && s != "" {
			o.s[i], err = cstr(s)
		}
	}
	if op.InRoot || op.SourceInRoot {
		if o.s[0], err = b.root(op.Root); err != nil {
			return o, err
		}
	}
	cs(1, op.Source)
	cs(2, op.FSType)
	cs(3, op.Data)
	if op.Flags&unix.MS_BIND != 0 && op.Flags&unix.MS_REMOUNT == 0 && op.Source != "" {
		o.flag |= rawMountBind
		if op.SourceInRoot {
			o.flag |= rawMountSourceInRoot
			if err == nil {
				o.p[0], err = inRootPath(op.Source, "", false)
			}
		} else if op.Source == op.Target && !op.InRoot {
			// The root's handle from then on (rawDoRootBind).
			o.flag |= rawMountSelf
			b.rootBound = op.Source
			if err == nil {
				o.s[0], err = b.root(op.Source)
			}
		}
	}
	if op.HostTree && err == nil {
		err = b.hostTree(&o, op.Source)
	}
	devNodeSource(&o, op.Source, op.SourceInRoot)
	if (op.NoXDev || op.NoLinks) && (!op.InRoot || op.Beneath != "" || op.NoXDev == op.NoLinks) {
		// Beneath a held mount, a walk crosses the mounts below it (and
		// follows no link already); one or the other, not both.
		return o, fmt.Errorf("%s: a walk that crosses no mount, or follows no link, is of a target inside the root, not beneath a held mount, and is one of the two: %w", planner.FormatOp(op), unix.EINVAL)
	}
	if op.Beneath != "" {
		// Both paths below the held mount, resolved beneath its fd.
		if !op.InRoot || (op.SourceInRoot && !below(op.Source, op.Beneath)) || !below(op.Target, op.Beneath) {
			return o, fmt.Errorf("%s: not below %s: %w", planner.FormatOp(op), op.Beneath, unix.EINVAL)
		}
		o.flag |= rawMountBeneath
		o.under = b.under(op.Beneath)
		rel := func(p string) string { return beneathRel(p, op.Beneath) }
		if op.SourceInRoot && err == nil {
			o.p[0], err = inRootPath(rel(op.Source), "", false)
		}
		if err == nil {
			o.p[1], err = inRootPath(rel(op.Target), op.Create, false)
			o.p[1].noLinks = true
		}
		if rel(op.Target) == "/" {
			o.flag |= rawMountAtHeld
			if op.Detached {
				o.flag |= rawMountHeld // its clone covers the held mount: the steps after go beneath the clone
				o.slot = o.under
			}
		}
		if op.SourceInRoot && rel(op.Source) == "/" {
			o.flag |= rawMountSourceAtHeld
		}
		o.flag |= rawMountInRoot
	} else if op.InRoot {
		o.flag |= rawMountInRoot
		if err == nil {
			o.p[1], err = inRootPath(op.Target, op.Create, false)
			o.p[1].noXDev, o.p[1].noLinks = op.NoXDev, op.NoLinks
		}
	} else {
		cs(4, op.Target)
	}
	if op.Held && o.flag&rawMountBind != 0 {
		// A bind of a host path, a detached clone (open_tree) moved onto
		// the target (beneath the held mount, not at it): its fd is held.
		if !op.InRoot || op.SourceInRoot || o.flag&rawMountAtHeld != 0 || op.Flags&^(unix.MS_BIND|unix.MS_REC) != 0 {
			return o, fmt.Errorf("%s: only a bind of a host path, inside the root, with no flag but MS_REC, is held: %w", planner.FormatOp(op), unix.EINVAL)
		}
		o.flag |= rawMountHeld
		o.slot = b.hold(op.Root, op.Target)
	} else if op.Held {
		// Made detached and moved onto the target (beneath a held mount
		// or not, not at it); its fd is kept for the steps beneath it.
		// Its flags become fsmount's attributes.
		if !op.InRoot || op.Flags&unix.MS_BIND != 0 || op.FSType == "" || o.flag&rawMountAtHeld != 0 || op.Detached {
			return o, fmt.Errorf("%s: only a kernel filesystem, inside the root and not at a held mount, is held: %w", planner.FormatOp(op), unix.EINVAL)
		}
		if o.conf, err = fsconfigPairs(op); err != nil {
			return o, err
		}
		attr, ok := fsmountAttr(uintptr(op.Flags))
		if !ok {
			return o, fmt.Errorf("%s: a flag fsmount(2) has no attribute for: %w", planner.FormatOp(op), unix.EINVAL)
		}
		o.flag |= rawMountHeld
		o.a[1] = attr
		o.slot = b.hold(op.Root, op.Target)
	}
	if op.Detached {
		if o.flag&rawMountBind == 0 || o.flag&rawMountInRoot == 0 || op.Flags&^(unix.MS_BIND|unix.MS_REC) != 0 {
			return o, fmt.Errorf("%s: only a bind inside the root, with no flag but MS_REC, is made detached: %w", planner.FormatOp(op), unix.EINVAL)
		}
		o.flag |= rawMountDetached
	}
	return o, err
}

// execOp prepares the execve that ends a program.
func (b *rawBuilder) execOp(op planner.Execve) (rawOp, error) {
	o := rawOp{kind: rawExec}
	var err error
	if o.argv, err = cstrs(op.Argv); err != nil {
		return o, err
	}
	if o.envv, err = cstrs(op.Env); err != nil {
		return o, err
	}
	if op.ByFD {
		if b.exe < 0 {
			return o, fmt.Errorf("execveat of %s: no fd of it is held: %w", op.Path, unix.EBADF)
		}
		if err := staticSelf(); err != nil {
			return o, err
		}
		b.prog.exe = uintptr(b.exe)
		o.flag = 1
		return o, nil
	}
	p := op.Path
	if p == "" {
		if b.lookPath == nil {
			return o, fmt.Errorf("execve without a path: %w", unix.EINVAL)
		}
		if p, err = b.lookPath(op.Argv, op.Env); err != nil {
			return o, err
		}
	}
	o.s[0], err = cstr(p)
	return o, err
}

// capData is the permitted and effective sets keep, nothing inheritable.
func capData(keep []string) (*[2]unix.CapUserData, error) {
	var mask [2]uint32
	for _, n := range keep {
		c, ok := capNames[n]
		if !ok {
			return nil, fmt.Errorf("unknown capability %s: %w", n, unix.EINVAL)
		}
		mask[c/32] |= 1 << (c % 32)
	}
	return &[2]unix.CapUserData{
		{Effective: mask[0], Permitted: mask[0]},
		{Effective: mask[1], Permitted: mask[1]},
	}, nil
}

// sockFprog is a classic BPF program as seccomp(2) takes it.
func sockFprog(program []byte) (*unix.SockFprog, error) {
	if len(program) == 0 || len(program)%8 != 0 || len(program)/8 > 4096 {
		return nil, fmt.Errorf("a seccomp program of %d bytes: %w", len(program), unix.EINVAL)
	}
	filter := make([]unix.SockFilter, len(program)/8)
	for i := range filter {
		b := program[i*8:]
		filter[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	return &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}, nil
}

// lastCap is the highest capability the kernel has (what
// /proc/sys/kernel/cap_last_cap says): one newer than nsup's list is
// dropped from the bounding set too. Found once, by prctl(2)
// PR_CAPBSET_READ, which refuses a capability the kernel lacks (EINVAL):
// a binary search of eight calls costs less than reading the file.
var lastCap = sync.OnceValue(func() int {
	lo, hi := 0, 127 // lo is known, hi+1 is not
	if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, 0, 0, 0, 0); err != nil {
		return unix.CAP_LAST_CAP
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(mid), 0, 0, 0); err == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
})
