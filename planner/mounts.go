package planner

// The child stage's mount namespace: the root bound (or overlaid) on itself, the spec's mounts in order inside it, the root switch.

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

var optionFlag = map[string]MountFlags{
	"nosuid": msNOSUID, "nodev": msNODEV, "noexec": msNOEXEC,
	"relatime": msRELATIME, "noatime": msNOATIME,
}

// child plans the child stage: the mount namespace, the root switch, and
// what the processes inherit.
func (ec *envCompiler) child() {
	e := ec.e
	pos := e.Pos
	if len(e.Namespaces) > 0 {
		pos = e.Namespaces[0].Pos
	}
	joinedMnt := ec.joined(spec.NSMount) != nil
	ec.launch(pos)
	launchPos := pos
	// A session of its own, always: nothing inside may have nsup's
	// controlling terminal (through it, TIOCSTI types into the caller's
	// shell, CVE-2017-5226), and a ^C or hang-up of that terminal reaches
	// nsup alone, which forwards it (one environment) or stops them in
	// order (several). The caller's terminal itself is replaced by a pty
	// of the environment's own when it is nsup's stdin (Openpty).
	ec.add(Child, e.Pos, Setsid{})
	if ec.timeInChild {
		// Unshared by the stage's thread, inside the user namespace, which
		// then owns it; the processes init forks from this thread are born
		// in it (time_for_children, time_namespaces(7)), and the stage
		// itself, which stays outside, is not a process of it when the
		// offsets are written.
		ec.add(Child, ec.nsPos(spec.NSTime), Unshare{Flags: nsFlag(spec.NSTime)})
		if e.Time != nil {
			ec.add(Child, timeAt(e.Time), ec.timeOffsets())
		}
	}
	// Not dumpable before any mount (the maps of a new user namespace
	// are written before, and the offsets of its time namespace, which a
	// process writes to its own /proc/self only while dumpable): until
	// its root switch, its
	// /proc/PID/root is the host's root, and a process that sees it (in a
	// pid namespace it joins, or without one) with capabilities that
	// cover its own (SYS_PTRACE, or all of them) would pass the ptrace
	// access check on it; not dumpable, it takes CAP_SYS_PTRACE in the
	// host's user namespace (its memory's). PID 1 stays so (the child
	// stage as the main process's monitor, or nsup's init, which makes
	// itself so again after its execve): no process of the environment
	// reaches its fds or nsup's binary through /proc/1/fd, /proc/1/exe or
	// pidfd_getfd(2) (CVE-2019-5736; ptrace(2), "Ptrace access mode
	// checking"). The processes it starts are dumpable again after their
	// execve; with init: false the main process's own execve resets it,
	// and no nsup code stays in the environment.
	ec.add(Child, launchPos, Prctl{Option: prSetDumpable, Arg: 0})
	if ec.terminal && !ec.hasDev() && ec.isNew(spec.NSMount) {
		// The terminal's fds are the file nsup opened on the host's
		// devpts mount, writable: root inside, rootless too (the user's
		// own node), chmod'ed it 666 for every host user. Before any
		// mount (the terminal's name is the host's, in this copy of the
		// host's mounts) and before the capabilities go.
		ec.add(Child, e.Pos, ReadOnlyTerminal{})
	}
	rpos := e.Rootfs.Pos
	// A joined mount namespace is entered as it is (setns(2) makes its
	// root the stage's root and working directory): it is another
	// environment's, or the host's, and a mount or a root switch in it
	// would change theirs. rootfs() refused the keys that would need one.
	if !joinedMnt {
		// Make / private before anything else is mounted: otherwise the
		// mounts below propagate to the host, and pivot_root(2) fails on a
		// shared parent.
		ec.add(Child, mntPos(e), Mount{Target: "/", Flags: msREC | msPRIVATE})
		// The root must be a mount point for pivot_root(2): bind it onto
		// itself (recursive, so that mounts below it come along), or lay the
		// overlay on it, which is a mount too.
		// Device nodes of the tree do not work (nodev), whatever the tree
		// holds, unless the spec says rootfs.dev: only type: dev's nodes
		// do. For a bound root, on every mount below it too.
		if overlaid(e.Rootfs) {
			ec.add(Child, rpos, Overlay{Target: ec.root, Lower: ec.root, UserXattr: ec.inUserNS(), NoDev: !e.Rootfs.Dev, HostTree: ec.takeHostTree(ec.root)})
		} else {
			ec.add(Child, rpos, Mount{Source: ec.root, Target: ec.root, Flags: msBIND | msREC, HostTree: ec.takeHostTree(ec.root)})
			if !e.Rootfs.Dev {
				ec.add(Child, rpos, MountSetattr{Path: "/", Root: ec.root, InRoot: true, Recursive: true, Set: unix.MOUNT_ATTR_NODEV})
			}
			ec.readonlyBelowRoot(rpos)
		}
		confined := ec.confinedPaths()
		var live, writable, devs []string
		if e.Rootfs.Dev {
			devs = append(devs, "the root")
		}
		for i, m := range e.Mounts {
			if m.Type == spec.MountBind && i >= len(ec.hostBinds) && ec.made[m.Source] != "volume" {
				src := ec.hostShown(m.Source)
				live = append(live, src)
				if !m.Readonly {
					writable = append(writable, src)
				}
				if slices.Contains(m.Options, "dev") {
					devs = append(devs, src)
				}
			}
		}
		if len(devs) > 0 {
			ec.notes = append(ec.notes, fmt.Sprintf("%s: device nodes open in %s (dev): the environment uses the host's devices they name", ec.field, strings.Join(devs, ", ")))
		}
		if len(live) > 0 {
			// rootfs.host's say so in their own note.
			ec.notes = append(ec.notes, fmt.Sprintf("%s.mounts: %s bound from the host as they are when the environment starts: not locked", ec.field, strings.Join(live, ", ")))
		}
		// A bind is writable unless it says readonly: said in words,
		// not only by a MOUNT_ATTR_RDONLY missing from its steps.
		if r := e.Rootfs; r.Dir != "" && !r.Readonly && !r.Overlay {
			writable = append([]string{ec.root}, writable...)
		}
		if len(writable) > 0 {
			ec.notes = append(ec.notes, fmt.Sprintf("%s: the host's %s writable inside: the environment may write the host's files there", ec.field, strings.Join(writable, ", ")))
		}
		ec.specLinks()
		if r := e.Rootfs; r.Dir != "" && !r.Readonly && !r.Overlay {
			ec.protectSpecFiles(ec.field+".rootfs.dir", r.DirPos, r.Dir, "/", "", true)
		} else if ec.unlocksOwnMounts() {
			ec.liftedDirRoot(ec, r.DirPos, ec.field+".rootfs.dir", liftedWhy)
		}
		parent := nestedMounts(e.Mounts)
		hasChild := make([]bool, len(e.Mounts))
		for _, k := range parent {
			if k >= 0 {
				hasChild[k] = true
			}
		}
		// isHeld and under say, of each mount planned so far, whether its
		// fd is held and what held mount it is resolved beneath.
		isHeld, under := make([]bool, len(e.Mounts)), make([]string, len(e.Mounts))
		// The working directories the tree lacks (workdir.go): a mount
		// one is made beneath is held for it.
		cwds, cwdBelow := ec.workdirs()
		for i, m := range e.Mounts {
			// A bind that holds masked or read-only paths is held too: a
			// writer of the tree renamed its folder, and the paths below
			// went to a folder of its own (found by a review).
			// So is a writable one that shows a spec file, bound
			// read-only over itself beneath it: the same rename sent
			// that bind to the writer's folder, and root inside wrote
			// the spec (helper-54's review).
			protect := m.Type == spec.MountBind && !m.Readonly && ec.made[m.Source] != "volume"
			// And one that mounts of the spec's lie below, which are
			// resolved beneath it wherever they are listed
			// (nestedMounts): the executor holds one fd per held mount.
			// A tmpfs that mounts of the spec's lie below is held too
			// (helper-63's review: placed by path from the root, the
			// mount below it had its missing folder made where a link
			// a writer of the tree put in the tmpfs's place led, a host
			// folder bound inside).
			hold := heldMount(m) || (m.Type == spec.MountBind && (len(confined[i]) > 0 || hasChild[i] || protect && ec.showsSpecFiles(m.Source))) ||
				m.Type == spec.MountTmpfs && hasChild[i] || cwdBelow[i]
			// A mount below a held one is resolved beneath it, held
			// itself or not (helper-55's review: by path, the same rename
			// sent a held one to the writer's folder); so is one below a
			// mount that is not held (a tmpfs) but lies below a held one.
			beneath := mountBeneath(e.Mounts, parent[i], isHeld, under)
			isHeld[i], under[i] = hold, beneath
			held := ""
			if hold {
				held = m.Target
			}
			if !ec.refused(ec.mountField(i) + ".target") { // targetLinks's, once
				ec.linkedBelowBind(i, m.Target, m.Pos, ec.mountField(i)+".target")
			}
			ec.subfolderBoundReadonly(i, parent)
			ec.subfolderMountHides(i, parent)
			ec.shadowedByLater(i)
			first := len(ec.steps)
			ec.mount(ec.mountField(i), m, hold, beneath)
			ec.targetMakeable(i, parent)
			ec.targetKindFits(i, parent)
			ec.targetWritable(i, confined)
			if ec.walkCrossesNoMount(i, parent[i], beneath) {
				ec.markWalk(first, m, false)
			} else if ec.walkFollowsNoLink(i, parent[i], beneath) {
				ec.markWalk(first, m, true)
			} else {
				ec.linkedOntoHostMount(i, parent[i], beneath)
			}
			if protect {
				ec.protectSpecFiles(ec.mountField(i), m.Pos, m.Source, m.Target, held, m.Recursive)
			} else if ec.unlocksOwnMounts() {
				ec.liftedMount(ec, i, m.Pos, ec.mountField(i), liftedWhy)
			}
			// Right after the mount that holds them: a later mount may
			// hide them, not the other way round. Beneath the mount when
			// it is held, else beneath the held mount it lies below (a
			// tmpfs below a bind: helper-56's review found them placed by
			// path, and the same rename showed what the tmpfs hid).
			if held == "" {
				held = beneath
			}
			ec.confinedInSubfolder(i, confined[i], parent)
			ec.confinePaths(confined[i], held)
		}
		ec.addWorkdirs(cwds)
		for _, c := range confined[len(e.Mounts)] {
			ec.linkedBelowBind(len(e.Mounts), c.path, c.pos, c.field)
		}
		ec.confinedInSubfolder(len(e.Mounts), confined[len(e.Mounts)], parent)
		ec.confinePaths(confined[len(e.Mounts)], "")
		ec.readonlyKept()
		if len(ec.skipped) > 0 {
			ec.notes = append(ec.notes, "not there, so not masked or made read-only: "+strings.Join(ec.skipped, ", "))
		}
	}
	ec.nodesMadeOpen()
	ec.etcFiles()
	ec.identitySteps()
	// A new network namespace has only lo, and down: up, so that the
	// environment's processes can talk to each other over 127.0.0.1.
	if e.HasNamespace(spec.NSNet) {
		ec.add(Child, ec.nsPos(spec.NSNet), LinkUp{Name: "lo"})
	}
	if e.Hostname != nil {
		ec.add(Child, e.Hostname.Pos, Sethostname{Name: e.Hostname.Value})
	}
	if e.Domainname != nil {
		ec.add(Child, e.Domainname.Pos, Setdomainname{Name: e.Domainname.Value})
	}
	if !joinedMnt {
		// pivot_root(".", ".") stacks the old root on top of the new one
		// (pivot_root(2), NOTES); detaching "." then removes it, and with it
		// every host mount. No chroot: the classic chroot escape has nowhere
		// to go. The old root is already private: "/" was made MS_REC|
		// MS_PRIVATE above, so the detach cannot propagate to the host.
		ec.add(Child, rpos, Chdir{Path: ec.root})
		ec.add(Child, rpos, PivotRoot{NewRoot: ".", PutOld: "."})
		ec.add(Child, rpos, Umount2{Target: ".", Flags: mntDETACH})
		ec.add(Child, rpos, Chdir{Path: "/"})
		// Read-only last: the mounts above needed their targets created. An
		// overlay root is writable by definition (spec-v1 rootfs.overlay).
		if e.Rootfs.Readonly && !e.Rootfs.Overlay {
			ec.add(Child, rpos, MountSetattr{Path: "/", Set: unix.MOUNT_ATTR_RDONLY})
		}
	}
	if ec.latePid != nil {
		// The pid namespace joined after the root switch (see
		// namespaces.go).
		ec.add(Child, ec.latePidPos, *ec.latePid)
		ec.add(Child, launchPos, Clone{Flags: cloneParent, Late: true})
	}
	if !ec.goInit() {
		ec.confine(Child, pos)
		return
	}
	// nsup's init, from the fd of nsup's binary the host holds (the
	// root switched, its path may not exist here), with its capabilities
	// (see launch); it confines itself. It keeps its fds 0 to 2, the
	// setup channel and, detached, the lock and the control socket: no
	// other fd crosses the execve.
	keep := uint32(4)
	if ec.stateDir != "" {
		keep = 6
	}
	ec.add(Child, pos, CloseRange{First: keep})
	ec.add(Child, pos, Execve{Path: "/proc/self/exe", Argv: InitArgv, Env: []string{}, ByFD: true})
	ec.confine(Init, pos)
}

// nodesMadeOpen refuses CAP_MKNOD with any mount whose device nodes work
// (rootfs.dev, the option dev), outside a user namespace that maps root
// elsewhere: root inside would make one of the host's disk or /dev/kmsg
// and open it, as nsup confines no device by cgroup (runc's device rules
// stop this; a review of the tenth stop wrote the host's kernel log from
// an imported bundle). Read-only is no help: the node is made in a
// writable mount that shows the same files, and opened through the one
// where nodes work (a review made /tmp/kmsg on a tmpfs the host had
// mounted below a read-only root with rootfs.dev, and in a writable bind
// of a folder also bound read-only with dev). For an environment that
// joins another's mount namespace, that one's mounts are its own (by
// name), or not known (by path: the host's own tree, for one, is
// writable with nodes that work). So are the mounts of the environments
// whose pid namespace it shares (pidPeerNodes).
func (ec *envCompiler) nodesMadeOpen() {
	if ec.confiningUserNS() || !slices.Contains(ec.capabilities(), "CAP_MKNOD") {
		return
	}
	const why = "with CAP_MKNOD kept, root inside can make a device node of the host's (its disk, /dev/kmsg) and open it "
	const ro = " (read-only or not: the node is made in any writable mount that shows the same files, a folder mounted below it on the host or another bind of it, and opened through this one)"
	const fix = ": nsup confines no device by cgroup; drop MKNOD (security.capabilities), "
	if j := ec.joined(spec.NSMount); j != nil {
		owner := ec.s.NamespaceOwner(ec.e.Name, spec.NSMount)
		if owner == nil {
			ec.errorf(j.pos, ec.field+".join.mnt", "%s", why+"in any writable folder of the mount namespace joined by path where nodes work (the host's, for one)"+fix+"or give the environment a user namespace")
		} else {
			ec.othersNodes(owner, nodesVia{j.pos, ec.field + ".join.mnt", "whose mount namespace it joins"}, why, ro, fix)
		}
		ec.pidPeerNodes(why, ro, fix)
		return
	}
	ec.pidPeerNodes(why, ro, fix)
	root, mounts := nodeMounts(ec.e)
	ec.nodesLeftOnHost(ec.e, nil)
	if root {
		ec.errorf(ec.e.Rootfs.Pos, ec.field+".rootfs.dev", "%s", why+"through its root, where rootfs.dev lets nodes work"+ro+fix+"remove dev: true, or give the environment a user namespace")
	}
	for _, i := range mounts {
		ec.errorf(ec.e.Mounts[i].Pos, ec.mountField(i)+".options", "%s", why+"through this mount, where the option dev lets nodes work"+ro+fix+"remove the option dev, or give the environment a user namespace")
	}
}

// nodeMounts says where device nodes work in e: its root (rootfs.dev),
// and the indexes of its mounts with the option dev, read-only or not.
func nodeMounts(e *spec.Environment) (root bool, mounts []int) {
	for i, m := range e.Mounts {
		if slices.Contains(m.Options, "dev") {
			mounts = append(mounts, i)
		}
	}
	return e.Rootfs.Dev, mounts
}

// mount plans one entry of `mounts`. Kernel filesystems get nosuid, nodev
// and noexec whatever the spec says (as runc's default config does): none
// of them has a legitimate setuid binary or device node to offer. The
// spec's options add to that. hold says the mount's fd is held for the
// masked and read-only paths and the mounts below it (Mount.Held);
// beneath, the mount's target (a dev's, every mount of it) is resolved
// beneath the held mount there (Mount.Beneath).
func (ec *envCompiler) mount(field string, m spec.Mount, hold bool, beneath string) {
	var opt MountFlags
	for _, o := range m.Options {
		opt |= optionFlag[o]
	}
	var ro MountFlags
	if m.Readonly {
		ro = msRDONLY
	}
	if m.Type == spec.MountSysfs && !m.Readonly && !ec.confiningUserNS() {
		// Docker and podman give a writable /sys only to --privileged.
		// Outside a user namespace, root inside would write the host's
		// kernel knobs that no namespace covers (/sys/kernel/mm,
		// /sys/power, uevent_helper, which runs a program as the host's
		// root): found by a review. In a user namespace the kernel
		// refuses those writes itself.
		ec.errorf(m.Pos, field+".readonly", "a writable sysfs lets root inside change the host's kernel settings (/sys/kernel/mm, /sys/power, /sys/kernel/uevent_helper): leave sysfs read-only (remove readonly: false), or give the environment a user namespace (add user to namespaces)")
	}
	kind, _ := spec.MountKindOf(m.Type)
	// The kind's flags, the spec's on top; nodev unless the spec says dev
	// (a bind, a tmpfs): a device node in a folder the environment can
	// reach must not open the host's disk.
	flags := MountFlags(kind.Flags) | opt | ro
	if slices.Contains(m.Options, "dev") {
		flags &^= msNODEV
	}
	// In a user namespace, the kernel lets proc, sysfs and mqueue be
	// mounted only for a pid, net or ipc namespace that user namespace
	// owns (pid_namespaces(7), mount(2) EPERM): not the host's.
	if need := kind.Namespace; need != "" && ec.inUserNS() && !ec.owns(need) {
		ec.errorf(m.Pos, field, "%s in a user namespace needs a %s namespace of that user namespace: add %s to namespaces (mounting %s for the host's needs privilege)", m.Type, need, need, m.Type)
	}
	if m.Type == spec.MountMqueue && !ec.inUserNS() && ec.inHostNS(spec.NSIPC) {
		// mqueue shows the message queues of the IPC namespace of whoever
		// mounts it: without ipc, the host's. The filter refuses mq_*
		// there (refuseHostIPC), but through the mount root inside listed
		// the host's queues, made one 0666 for any host user (chmod),
		// removed them and made new ones: found by a review. In a user
		// namespace the kernel refuses it (above).
		ec.errorf(m.Pos, field, "mqueue without an ipc namespace of the environment's own shows the host's POSIX message queues, which root inside would list, chmod, remove and create: add ipc to namespaces")
	}
	// A kernel filesystem: its kind's flags and data, the spec's on top.
	if kind.FSType != "" {
		data := []string{}
		if kind.Data != "" {
			data = append(data, kind.Data)
		}
		if m.Size != "" {
			data = append(data, "size="+strings.ToLower(m.Size))
		}
		if m.Mode != "" {
			data = append(data, "mode="+m.Mode)
		}
		// proc and sysfs hold the masked and read-only paths: their fd
		// is held for those steps (Mount.Held, Mount.Beneath).
		op := Mount{Source: kind.FSType, Target: m.Target, FSType: kind.FSType, Flags: flags,
			Data: strings.Join(data, ","), Root: ec.root, InRoot: true, Create: "dir", Held: hold, Beneath: beneath}
		if m.Type == spec.MountProc && ec.latePid != nil {
			// The stage is outside the pid namespace it joins later.
			op.PidNS = ec.latePid.Path
		}
		ec.add(Child, m.Pos, op)
		return
	}
	switch m.Type {
	case spec.MountBind:
		create := "dir"
		st, err := os.Stat(m.Source)
		switch {
		case err != nil && ec.made[m.Source] != "" && errors.Is(err, os.ErrNotExist):
			// A folder apply makes first (a volume, create: true).
		case errors.Is(err, os.ErrNotExist):
			ec.errorf(m.SourceAt(), field+".source", "%v: make it, or say create: true (apply then makes the folder)", unwrapPath(err))
		case err != nil:
			ec.errorf(m.SourceAt(), field+".source", "%v", unwrapPath(err))
		case !st.IsDir():
			create = "file"
		}
		if err == nil || errors.Is(err, os.ErrNotExist) {
			why := ""
			if ec.confiningUserNS() {
				why = ec.procBindRefused(m.Source, m.Recursive)
				if why == "" {
					why = ec.mqueueBindRefused(m.Source, m.Recursive)
				}
			} else {
				why = ec.kernelBindRefused(m.Source, m.Recursive)
			}
			if why != "" {
				ec.errorf(m.SourceAt(), field+".source", "%s", why)
			}
		}
		if err == nil {
			ec.mountsMovable(m, field+".recursive")
		}
		bind := MountFlags(msBIND)
		if m.Recursive {
			bind |= msREC
		}
		// MS_RDONLY and the other flags are ignored by a bind (mount(2),
		// "Creating a bind mount"): mount_setattr(2) sets them after, on
		// every mount the bind brought along when it is recursive, and
		// clears nothing, so that in a user namespace the flags locked on
		// the host's mount need not be repeated. It goes through the
		// bind's own fd: its target resolved again could be another mount
		// by then (Mount.Detached).
		set, clear := mountAttrs(flags, m.Options)
		attrs := set != 0 || clear != 0
		if m.Within != "" {
			ec.subpathWithin(m, field+".subpath")
		}
		ec.plantedLink(m.Source, m.SourceAt(), field+".source")
		source, hostTree := ec.resolved(m.Source, field+".source"), ec.takeHostTree(m.Source)
		// A volume's folder is childReaches's (volumes.go).
		if !hostTree && ec.made[m.Source] != "volume" {
			ec.childWalks(m.SourceAt(), field+".source", "bind source", source, path.Dir(source))
		}
		ec.add(Child, m.Pos, Mount{Source: source, Target: m.Target, Flags: bind,
			Root: ec.root, InRoot: true, Create: create, Detached: attrs, Held: hold, Beneath: beneath, HostTree: hostTree})
		if attrs {
			ec.add(Child, m.Pos, MountSetattr{Path: m.Target, Root: ec.root, InRoot: true, Recursive: m.Recursive, Set: set, Clear: clear, ByFD: true})
		}
	case spec.MountDev:
		ec.dev(m, opt, beneath)
	}
}

// mountAttrs translates mount flags to mount_setattr(2) attributes: the
// atime policy is a field of its own, cleared before one is set.
func mountAttrs(f MountFlags, options []string) (set, clear MountAttr) {
	for _, x := range []struct {
		flag MountFlags
		attr MountAttr
	}{{msRDONLY, unix.MOUNT_ATTR_RDONLY}, {msNOSUID, unix.MOUNT_ATTR_NOSUID}, {msNODEV, unix.MOUNT_ATTR_NODEV}, {msNOEXEC, unix.MOUNT_ATTR_NOEXEC}} {
		if f&x.flag != 0 {
			set |= x.attr
		}
	}
	switch {
	case slices.Contains(options, "noatime"):
		set |= unix.MOUNT_ATTR_NOATIME
		clear |= unix.MOUNT_ATTR__ATIME
	case slices.Contains(options, "relatime"):
		clear |= unix.MOUNT_ATTR__ATIME // MOUNT_ATTR_RELATIME is 0
	}
	return set, clear
}

// devNodes are the device nodes of the minimal /dev (spec-v1 "Mount"),
// bound from the host: a bind needs no CAP_MKNOD and works in a user
// namespace.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// dev plans the minimal /dev of spec-v1: a tmpfs with the safe device
// nodes, a private devpts, shm and the fd links. The tmpfs is held
// (beneath the held mount at beneath, when it lies below one), and
// everything else of the dev is resolved beneath it, the links and the
// console's bind too: by their paths from the root, another environment
// that may write the tree renamed the dev's folder once its tmpfs was
// mounted and put a symlink to a host folder bound inside in its place,
// and the links and shm went there (helper-59's review).
func (ec *envCompiler) dev(m spec.Mount, opt MountFlags, beneath string) {
	t := m.Target
	in := func(target, source, fstype string, flags MountFlags, data, create string) {
		ec.add(Child, m.Pos, Mount{Source: source, Target: target, FSType: fstype, Flags: flags,
			Data: data, Root: ec.root, InRoot: true, Create: create, Beneath: t})
	}
	link := func(target, link string) {
		ec.add(Child, m.Pos, Symlink{Target: target, Link: link, Root: ec.root, Beneath: t})
	}
	ec.add(Child, m.Pos, Mount{Source: "tmpfs", Target: t, FSType: "tmpfs", Flags: msNOSUID | msNOEXEC | msNODEV | opt,
		Data: "mode=755,size=65536k", Root: ec.root, InRoot: true, Create: "dir", Held: true, Beneath: beneath})
	for _, n := range devNodes {
		// Read-only (hostNodeReadonly): the bind is the host's node.
		ec.add(Child, m.Pos, Mount{Source: "/dev/" + n, Target: path.Join(t, n), Flags: msBIND,
			Root: ec.root, InRoot: true, Create: "file", Beneath: t, Detached: true})
		ec.add(Child, m.Pos, hostNodeReadonly(path.Join(t, n), ec.root, ""))
	}
	// A devpts of its own (spec.DevptsData: none of the host's terminals,
	// 1024 ptys at most); ptmx reached through the pts/ptmx link.
	in(path.Join(t, "pts"), "devpts", "devpts", msNOSUID|msNOEXEC, spec.DevptsData, "dir")
	link("pts/ptmx", path.Join(t, "ptmx"))
	in(path.Join(t, "shm"), "tmpfs", "tmpfs", msNOSUID|msNODEV, "mode=1777", "dir")
	if ec.terminal {
		ec.consoleRemount(m.Pos)
		ec.add(Child, m.Pos, Console{Target: path.Join(t, "console"), Root: ec.root, Beneath: t})
	}
	link("/proc/self/fd", path.Join(t, "fd"))
	link("/proc/self/fd/0", path.Join(t, "stdin"))
	link("/proc/self/fd/1", path.Join(t, "stdout"))
	link("/proc/self/fd/2", path.Join(t, "stderr"))
	if m.Readonly {
		in(t, "", "", msREMOUNT|msBIND|msRDONLY|msNOSUID|msNOEXEC|msNODEV|opt, "", "")
	}
}

// hostNodeReadonly makes the bind of a host's node the previous step
// made (Detached: the host's /dev/null of a mask, a dev mount's nodes)
// read-only, through its fd: the node is the host's own inode, and root
// inside (CAP_CHOWN, CAP_FOWNER) changed the host's /dev/null through a
// writable bind of it (chmod 0600, chown), which every host user then
// failed to open (helper-94's review). A device node works as well on a
// read-only mount: only its inode is kept from changing.
func hostNodeReadonly(target, root, confine string) MountSetattr {
	return MountSetattr{Path: target, Root: root, InRoot: true, Set: unix.MOUNT_ATTR_RDONLY, Confine: confine, ByFD: true}
}

// heldMount says whether m is made with its fd held for the masked and
// read-only paths below it (Mount.Held): proc and sysfs, which hold them;
// and the dev's tmpfs, for its own steps (dev).
func heldMount(m spec.Mount) bool {
	return m.Type == spec.MountProc || m.Type == spec.MountSysfs || m.Type == spec.MountDev
}
