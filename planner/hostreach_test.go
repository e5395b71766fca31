package planner

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/nsup/nsup/spec"
)

// TestHostPIDNS: as root, an environment in the host's pid namespace is
// refused outside a user namespace that maps root elsewhere: a review,
// with the default capabilities, took a host process's uid as its fsuid
// and read the host's /etc/shadow through its /proc/PID/root; the next,
// without /proc, ptraced a host user's shell into running code in the
// host's tree, and other environments' processes (kill -1 would stop
// every process of the host's root). The host's pid namespace is the one
// of an environment without pid in its namespaces, of one that joins
// such an environment's by name, of one that joins the host's by path
// (or one nsup cannot look at), and of one in a user namespace mapping
// root onto the host's. Its own pid namespace, another's, and a user
// namespace that maps root elsewhere (rootless) are planned.
func TestHostPIDNS(t *testing.T) {
	root := shRoot(t)
	spec := func(envs string) string {
		return "version: 1\nenvironments:\n" + strings.ReplaceAll(envs, "ROOT", root)
	}
	const own = `  a:
    rootfs: {dir: ROOT}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
`
	const hostPID = `  a:
    rootfs: {dir: ROOT}
    namespaces: [mnt]
    processes: [{name: main, command: [/bin/sh]}]
`
	joiner := func(join string) string {
		return `  b:
    rootfs: {dir: ROOT}
    namespaces: [mnt]
    join: {pid: ` + join + `}
    mounts: [{type: proc, target: /proc}]
    processes: [{name: main, command: [/bin/sh]}]
`
	}
	const refused = "the host's pid namespace: root inside could signal (kill -1) and trace (ptrace) the host's processes"
	for _, c := range []struct {
		name, spec string
		caller     Caller
		want       string // "" planned
	}{
		{"no pid namespace", spec(hostPID), rootCaller, "l.yaml:5:18: environments.a.namespaces: " + refused},
		{"no pid namespace, with proc", spec(strings.Replace(hostPID, "    processes", "    mounts: [{type: proc, target: /proc}]\n    processes", 1)), rootCaller, "l.yaml:5:18: environments.a.namespaces: " + refused},
		{"joins an environment in the host's", spec(hostPID + joiner("a")), rootCaller, "l.yaml:10:17: environments.b.join.pid: " + refused},
		{"joins the host's by path", spec(own + joiner("/proc/self/ns/pid")), rootCaller, "l.yaml:10:17: environments.b.join.pid: " + refused},
		{"joins one it cannot look at", spec(own + joiner("/proc/999999999/ns/pid")), rootCaller, "environments.b.join.pid: " + refused},
		{"a user namespace mapping root to root", spec(strings.Replace(hostPID, "[mnt]", "[user, mnt]", 1)), rootCaller, "environments.a.namespaces: " + refused},
		{"its own", spec(strings.Replace(own, "    processes", "    mounts: [{type: proc, target: /proc}]\n    processes", 1)), rootCaller, ""},
		{"joins another's", spec(own + joiner("a")), rootCaller, ""},
		{"rootless (a user namespace of its own)", spec(hostPID), userCaller, ""},
		// uid 0 without CAP_SYS_ADMIN is planned rootless, its map "0 0 1"
		// (a review signalled the host's pid 1 so).
		{"uid 0 without CAP_SYS_ADMIN", spec(hostPID), Caller{HardLimits: fixedLimits}, "environments.a.namespaces: " + refused},
	} {
		_, err := compileLimits(t, c.spec, c.caller, "hybrid")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestHostCapabilities: outside a user namespace that maps root
// elsewhere, CAP_DAC_READ_SEARCH is refused (a review read the host's
// /etc/shadow with open_by_handle_at through the environment's own root,
// the "shocker" exploit), and the capabilities that act on the host
// itself are noted; in such a user namespace, neither.
func TestHostCapabilities(t *testing.T) {
	root := shRoot(t)
	env := func(add, ns string) string {
		return "version: 1\nenvironments:\n  a:\n    rootfs: {dir: " + root + "}\n    namespaces: [" + ns + "]\n" +
			"    security: {capabilities: {add: [" + add + "]}}\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	_, err := compileLimits(t, env("SYS_TIME, DAC_READ_SEARCH", "mnt, pid"), rootCaller, "hybrid")
	if err == nil || !strings.Contains(err.Error(), "l.yaml:6:47: environments.a.security.capabilities.add: CAP_DAC_READ_SEARCH lets root inside open any file") {
		t.Errorf("DAC_READ_SEARCH as root: %v", err)
	}
	if _, err := compileLimits(t, env("DAC_READ_SEARCH", "mnt, pid"), userCaller, "hybrid"); err != nil {
		t.Errorf("DAC_READ_SEARCH in a user namespace (rootless): %v", err)
	}
	p, err := compileLimits(t, env("SYS_TIME, SYS_MODULE, NET_BIND_SERVICE", "mnt, pid"), rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	const note = "environments.a.security.capabilities.add: outside a user namespace, root inside is the host's root to the kernel, and keeps CAP_SYS_MODULE (loads modules into the host's kernel), CAP_SYS_TIME (sets the host's clock)"
	if notes := strings.Join(p.Environments[0].Notes, "\n"); !strings.Contains(notes, note) {
		t.Errorf("notes:\n%s\nwant %q", notes, note)
	}
	// NET_RAW in the host's network: a review of the twelfth stop's
	// fixes read the host's loopback traffic (a password sent to
	// 127.0.0.1) from an AF_PACKET socket, and the plan said nothing.
	p, err = compileLimits(t, env("NET_RAW", "mnt, pid"), rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(p.Environments[0].Notes, "\n"); !strings.Contains(notes, "keeps CAP_NET_RAW (opens raw and packet sockets on the network it is in (the host's, without net in namespaces)") {
		t.Errorf("NET_RAW: notes:\n%s", notes)
	}
	// ALL, every capability, asks for them all: noted, DAC_READ_SEARCH
	// among them (a review).
	p, err = compileLimits(t, env("ALL", "mnt, pid"), rootCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(p.Environments[0].Notes, "\n"); !strings.Contains(notes, "CAP_DAC_READ_SEARCH (opens any file of a filesystem it reaches by its inode number") {
		t.Errorf("ALL: notes:\n%s", notes)
	}
	p, err = compileLimits(t, env("SYS_TIME", "mnt, pid"), userCaller, "hybrid")
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(p.Environments[0].Notes, "\n"); strings.Contains(notes, "CAP_SYS_TIME") {
		t.Errorf("noted in a user namespace:\n%s", notes)
	}
}

// TestPtraceNote: CAP_SYS_PTRACE with nsup's PID 1 is noted, in a user
// namespace too: a review took nsup's init's fds (the log, the lock, the
// control socket on the host) with it. With init: false, not.
func TestPtraceNote(t *testing.T) {
	root := shRoot(t)
	env := func(extra string) string {
		return "version: 1\nenvironments:\n  a:\n    rootfs: {dir: " + root + "}\n    namespaces: [mnt, pid]\n" + extra +
			"    security: {capabilities: {add: [SYS_PTRACE]}}\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	const note = "environments.a.security.capabilities.add: CAP_SYS_PTRACE lets root inside trace nsup's PID 1 too"
	for _, c := range []struct {
		extra  string
		caller Caller
		want   bool
	}{{"", rootCaller, true}, {"", userCaller, true}, {"    init: false\n", rootCaller, false}} {
		p, err := compileLimits(t, env(c.extra), c.caller, "hybrid")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(strings.Join(p.Environments[0].Notes, "\n"), note); got != c.want {
			t.Errorf("%q, privileged %v: noted %v, want %v:\n%s", c.extra, c.caller.Privileged, got, c.want, strings.Join(p.Environments[0].Notes, "\n"))
		}
	}
}

// TestHostScopes: an environment that shares the host's network
// namespace is kept from the host's abstract unix sockets, and one in the
// host's pid namespace from signalling its processes (Landlock, planned
// in the child stage); a kernel without Landlock's scopes gets a note.
// TestRootLandlockHostNet and TestRootLandlockHostPID try them.
func TestHostScopes(t *testing.T) {
	root := shRoot(t)
	idmap := `
    idmap:
      uid: [{inside: 0, outside: 100000, count: 65536}]
      gid: [{inside: 0, outside: 100000, count: 65536}]`
	const ptrace = "\n    security: {capabilities: {add: [SYS_PTRACE]}}"
	env := func(name, ns, extra string) string {
		return "  " + name + ":\n    rootfs: {dir: " + root + "}\n    namespaces: [" + ns + "]" + extra + "\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	for _, c := range []struct {
		name, envs string
		abi        int
		want       map[string]uint64 // environment -> scoped
		note       string
	}{
		{"own namespaces", env("a", "mnt, pid, net", ""), 7, map[string]uint64{}, ""},
		{"host network", env("a", "mnt, pid", ""), 7, map[string]uint64{"a": scopeAbstractUnix}, ""},
		{"host network by path", env("a", "mnt, pid", "\n    join: {net: /proc/self/ns/net}"), 7, map[string]uint64{"a": scopeAbstractUnix}, ""},
		{"another's network", env("a", "mnt, pid, net", "") + env("b", "mnt, pid", "\n    join: {net: a}"), 7, map[string]uint64{}, ""},
		{"another's host network", env("a", "mnt, pid", "") + env("b", "mnt, pid", "\n    join: {net: a}"), 7, map[string]uint64{"a": scopeAbstractUnix, "b": scopeAbstractUnix}, ""},
		{"host pid", env("a", "user, mnt, net", idmap), 7, map[string]uint64{"a": scopeSignal}, ""},
		{"host pid and network", env("a", "user, mnt", idmap), 7, map[string]uint64{"a": scopeAbstractUnix | scopeSignal}, ""},
		// A domain keeps CAP_SYS_PTRACE of the host's user namespace to
		// the environment's own processes (TestRootPtraceJoinerStageUnreachable);
		// in a user namespace that maps root elsewhere, not dumpable is
		// enough.
		{"ptrace", env("a", "mnt, pid, net", ptrace) + env("b", "mnt, net", "\n    join: {pid: a}"), 7, map[string]uint64{"a": scopeSignal}, ""},
		{"ptrace all", env("a", "mnt, pid, net", "\n    security: {capabilities: {add: [ALL]}}"), 7, map[string]uint64{"a": scopeSignal}, ""},
		{"ptrace joining", env("a", "mnt, pid, net", "") + env("b", "mnt, net", ptrace+"\n    join: {pid: a}"), 7, map[string]uint64{"b": scopeSignal}, ""},
		{"ptrace in a user namespace", env("a", "user, mnt, pid, net", idmap+ptrace), 7, map[string]uint64{}, ""},
		{"ptrace in this kernel", env("a", "mnt, pid, net", ptrace), 5, map[string]uint64{},
			"environments.a: this kernel's Landlock (ABI 5; 6, Linux 6.12, is needed) cannot keep CAP_SYS_PTRACE, kept in the host's user namespace, to the environment's own processes: nsup's child stage of an environment that joins its pid namespace, whose root is the host's until its root switch, is within its reach"},
		{"no scopes in this kernel", env("a", "mnt, pid", ""), 5, map[string]uint64{},
			"environments.a: this kernel's Landlock (ABI 5; 6, Linux 6.12, is needed) cannot keep the environment out of the host's network namespace: its abstract unix sockets, whose servers may trust the uid of root inside"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := spec.ParseBytes("l.yaml", t.TempDir(), []byte("version: 1\nenvironments:\n"+c.envs))
			if err != nil {
				t.Fatal(err)
			}
			caller := rootCaller
			o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &caller})
			o.LandlockABI = func() int { return c.abi }
			p, err := Compile(s, o)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]uint64{}
			for _, e := range p.Environments {
				for _, st := range e.Steps {
					if op, ok := st.Op.(Landlock); ok {
						if st.Stage != Child {
							t.Errorf("%s: Landlock in stage %s", e.Name, st.Stage)
						}
						got[e.Name] = op.Scoped
					}
				}
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("scoped (-want +got):\n%s", d)
			}
			var b strings.Builder
			Render(&b, p)
			if c.note != "" && !strings.Contains(b.String(), c.note) {
				t.Errorf("no note %q:\n%s", c.note, b.String())
			}
		})
	}
}

// TestPtraceSharersNote (helper-143's survey): a debug box keeping
// SYS_PTRACE that joins an app's pid namespace traced the app's
// processes before it was made a Landlock domain, and gets EPERM since
// (by hand: strace -p of the app's sleep, "ptrace(PTRACE_SEIZE, 1):
// Operation not permitted"). The plan says so, for the joiner and the
// joined (a join by path is named too: tried by hand); not for an
// environment alone in its pid namespace, nor where no domain is made
// (an old kernel: its own note).
func TestPtraceSharersNote(t *testing.T) {
	root := shRoot(t)
	const ptrace = "\n    security: {capabilities: {add: [SYS_PTRACE]}}"
	env := func(name, ns, extra string) string {
		return "  " + name + ":\n    rootfs: {dir: " + root + "}\n    namespaces: [" + ns + "]" + extra + "\n    processes: [{name: main, command: [/bin/sh]}]\n"
	}
	note := func(env, with string) string {
		return "environments." + env + ".security.capabilities.add: CAP_SYS_PTRACE, kept in the host's user namespace, reaches the environment's own processes only (its Landlock domain), not the others of its pid namespace, those of " + with + " (strace -p or gdb -p of one gets EPERM)"
	}
	for _, c := range []struct {
		name, envs string
		abi        int
		want       []string // notes, by environment order
	}{
		{"joining", env("app", "mnt, pid, net", "") + env("dbg", "mnt, net", ptrace+"\n    join: {pid: app}"), 7, []string{"", note("dbg", "environment app")}},
		{"joined", env("app", "mnt, pid, net", ptrace) + env("b", "mnt, net", "\n    join: {pid: app}") + env("c", "mnt, net", "\n    join: {pid: b}"), 7, []string{note("app", "environments b, c"), "", ""}},
		{"alone", env("app", "mnt, pid, net", ptrace), 7, []string{""}},
		{"old kernel", env("app", "mnt, pid, net", "") + env("dbg", "mnt, net", ptrace+"\n    join: {pid: app}"), 5, []string{"", ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := spec.ParseBytes("l.yaml", t.TempDir(), []byte("version: 1\nenvironments:\n"+c.envs))
			if err != nil {
				t.Fatal(err)
			}
			caller := rootCaller
			o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &caller})
			o.LandlockABI = func() int { return c.abi }
			p, err := Compile(s, o)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range p.Environments {
				notes := strings.Join(e.Notes, "\n")
				has := strings.Contains(notes, "reaches the environment's own processes only")
				switch {
				case c.want[i] == "" && has:
					t.Errorf("%s: a note it shares its pid namespace:\n%s", e.Name, notes)
				case c.want[i] != "" && !strings.Contains(notes, c.want[i]):
					t.Errorf("%s: no note %q:\n%s", e.Name, c.want[i], notes)
				}
			}
		})
	}
}

// TestHostIPCFilter: an environment in the host's IPC namespace, in a
// user namespace or not, has a filter refusing SysV IPC and message
// queues (EPERM), taken out of every other rule, `unconfined` too; one
// with its own IPC namespace has the profile's own
// (TestRootHostIPCRefused, TestRootHostIPCUserNSRefused try it).
func TestHostIPCFilter(t *testing.T) {
	root := shRoot(t)
	const idmapElsewhere = "\n    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: [{inside: 0, outside: 100000, count: 65536}]"
	for _, c := range []struct {
		ns, extra string
		refused   bool
	}{
		{"mnt, pid", "", true},
		{"mnt, pid, ipc", "", false},
		// In a user namespace too: the kernel checks the objects of
		// the uids it maps by uid only (TestRootHostIPCUserNSRefused).
		{"user, mnt, pid", idmapElsewhere, true},
		{"user, mnt, pid", idmapElsewhere + "\n    security: {seccomp: unconfined}", true},
		{"user, mnt, pid, ipc", idmapElsewhere + "\n    security: {seccomp: unconfined}", false},
	} {
		s, err := spec.ParseBytes("l.yaml", t.TempDir(), []byte("version: 1\nenvironments:\n  a:\n    rootfs: {dir: "+root+"}\n    namespaces: ["+c.ns+"]"+c.extra+"\n    processes: [{name: main, command: [/bin/sh]}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		caller := rootCaller
		p, err := Compile(s, Options{CacheDir: t.TempDir(), Caller: &caller, FolderStat: searchable})
		if err != nil {
			t.Fatal(err)
		}
		var f *Seccomp
		for _, st := range p.Environments[0].Steps {
			if op, ok := st.Op.(Seccomp); ok {
				f = &op
			}
		}
		if f == nil {
			if !c.refused && strings.Contains(c.extra, "unconfined") {
				continue // no filter at all
			}
			t.Fatalf("[%s]%s: no filter", c.ns, c.extra)
		}
		refused, elsewhere := false, 0
		for _, r := range f.Rules.Syscalls {
			for _, n := range r.Names {
				if !slices.Contains(hostIPCSyscalls, n) {
					continue
				}
				if r.Action == "SCMP_ACT_ERRNO" && r.ErrnoRet != nil && *r.ErrnoRet == 1 && len(r.Names) == len(hostIPCSyscalls) {
					refused = true
				} else {
					elsewhere++
				}
			}
		}
		if refused != c.refused || f.NoHostIPC != c.refused || c.refused && elsewhere > 0 {
			t.Errorf("[%s]%s: refused %v (NoHostIPC %v), %d IPC calls in other rules; want refused %v", c.ns, c.extra, refused, f.NoHostIPC, elsewhere, c.refused)
		}
		if !c.refused && elsewhere == 0 {
			t.Errorf("[%s]: Docker's profile allows no IPC call?", c.ns)
		}
	}
}

// TestHostMqueueMount: as root, an mqueue mount is refused in the host's
// IPC namespace (no ipc of the environment's own, or one joined by name
// from an environment without): it shows the host's POSIX message
// queues, and a review, through it, listed them, made a root-owned 0600
// queue 0666 for every host user, and made one of its own, while the
// filter refused mq_*. With ipc it mounts the environment's own.
func TestHostMqueueMount(t *testing.T) {
	root := shRoot(t)
	const refused = "mqueue without an ipc namespace of the environment's own"
	for _, c := range []struct {
		name, envs string
		refused    bool
	}{
		{"host-ipc", "  a:\n    rootfs: {dir: " + root + "}\n    namespaces: [mnt, pid]\n    mounts: [{type: mqueue, target: /dev/mqueue}]\n    processes: [{name: main, command: [/bin/sh]}]\n", true},
		{"own-ipc", "  a:\n    rootfs: {dir: " + root + "}\n    namespaces: [mnt, pid, ipc]\n    mounts: [{type: mqueue, target: /dev/mqueue}]\n    processes: [{name: main, command: [/bin/sh]}]\n", false},
		{"joined-host-ipc", "  h:\n    rootfs: {dir: " + root + "}\n    namespaces: [mnt, pid]\n    processes: [{name: main, command: [/bin/sh]}]\n" +
			"  a:\n    rootfs: {dir: " + root + "}\n    namespaces: [mnt, pid]\n    join: {ipc: h}\n    mounts: [{type: mqueue, target: /dev/mqueue}]\n    processes: [{name: main, command: [/bin/sh]}]\n", true},
	} {
		s, err := spec.ParseBytes("m.yaml", t.TempDir(), []byte("version: 1\nenvironments:\n"+c.envs))
		if err != nil {
			t.Fatal(err)
		}
		caller := rootCaller
		_, err = Compile(s, Options{CacheDir: t.TempDir(), Caller: &caller, FolderStat: searchable})
		got := err != nil && strings.Contains(err.Error(), refused)
		if got != c.refused {
			t.Errorf("%s: refused %v, want %v (%v)", c.name, got, c.refused, err)
		}
	}
}

// TestHostIPCFilterX32: a profile of its own that lets calls run by
// default and does not list x32 left x32's calls (nr|__X32_SYSCALL_BIT,
// under x86_64's audit arch) to that default, the refused IPC calls
// with them: x32's shmget reached the host's segments on a kernel with
// x32 (a review of the twelfth stop). The refusal lists x32 then; under
// a denying default, an unlisted x32 is refused anyway.
func TestHostIPCFilterX32(t *testing.T) {
	for _, c := range []struct {
		deflt  specs.LinuxSeccompAction
		arches []specs.Arch
		x32    bool
	}{
		{specs.ActAllow, []specs.Arch{specs.ArchX86_64}, true},
		{specs.ActAllow, nil, true},
		{specs.ActLog, []specs.Arch{specs.ArchX86_64, specs.ArchX86}, true},
		{specs.ActErrno, []specs.Arch{specs.ArchX86_64}, false},
		{specs.ActKillProcess, nil, false},
		{specs.ActAllow, []specs.Arch{specs.ArchX86_64, specs.ArchX32}, true},
	} {
		in := &specs.LinuxSeccomp{DefaultAction: c.deflt, Architectures: c.arches,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"shmget", "keyctl"}, Action: specs.ActErrno}}}
		out := refuseHostIPC(in)
		if got := slices.Contains(out.Architectures, specs.ArchX32); got != c.x32 {
			t.Errorf("default %s, architectures %v: x32 listed %v, want %v (%v)", c.deflt, c.arches, got, c.x32, out.Architectures)
		}
		// The host's pid namespace's refusals likewise.
		if got := slices.Contains(limitsOfSelfOnly(in).Architectures, specs.ArchX32); got != c.x32 {
			t.Errorf("default %s, architectures %v: x32 listed %v by limitsOfSelfOnly, want %v", c.deflt, c.arches, got, c.x32)
		}
		if n := len(out.Architectures) - len(c.arches); n > 1 || n < 0 || !slices.Equal(in.Architectures, c.arches) {
			t.Errorf("default %s, architectures %v: %v, the profile's %v", c.deflt, c.arches, out.Architectures, in.Architectures)
		}
	}
}

// TestHostIPCFilterX32Program: the plan's filter for a profile that
// allows by default and lists only x86_64 refuses x32's shmget (and
// i386's), as it does x86_64's.
func TestHostIPCFilterX32Program(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		skipOrFail(t, "x32 is amd64's")
	}
	root, dir := shRoot(t), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "allow.json"), []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := spec.ParseBytes(filepath.Join(dir, "x.yaml"), dir, []byte("version: 1\nenvironments:\n  a:\n    rootfs: {dir: "+root+"}\n    namespaces: [mnt, pid]\n    security: {seccomp: ./allow.json}\n    processes: [{name: main, command: [/bin/sh]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	caller := rootCaller
	p, err := Compile(s, Options{CacheDir: t.TempDir(), Caller: &caller, FolderStat: searchable})
	if err != nil {
		t.Fatal(err)
	}
	var prog []byte
	for _, st := range p.Environments[0].Steps {
		if op, ok := st.Op.(Seccomp); ok {
			prog = op.Program
		}
	}
	run := filterVM(t, prog)
	const x32Bit = 0x40000000
	eperm := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	for _, c := range []struct {
		what      string
		audit, nr uint32
		want      uint32
	}{
		{"x86_64 shmget", unix.AUDIT_ARCH_X86_64, 29, eperm},
		{"x32 shmget", unix.AUDIT_ARCH_X86_64, x32Bit | 29, eperm},
		{"x32 mq_open", unix.AUDIT_ARCH_X86_64, x32Bit | 240, eperm},
		{"x32 getpid", unix.AUDIT_ARCH_X86_64, x32Bit | 39, unix.SECCOMP_RET_ALLOW},
		{"x86_64 getpid", unix.AUDIT_ARCH_X86_64, 39, unix.SECCOMP_RET_ALLOW},
	} {
		if got := run(c.audit, c.nr); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.what, got, c.want)
		}
	}
}

// filterVM runs a plan's filter program on seccomp_data{nr, arch, ip,
// args} (x/net/bpf, as planner/seccomp's tests do).
func filterVM(t *testing.T, prog []byte) func(audit, nr uint32, args ...uint64) uint32 {
	t.Helper()
	var insns []bpf.Instruction
	for b := prog; len(b) >= 8; b = b[8:] {
		insns = append(insns, bpf.RawInstruction{Op: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])}.Disassemble())
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	return func(audit, nr uint32, args ...uint64) uint32 {
		d := make([]byte, 64)
		binary.LittleEndian.PutUint32(d, nr)
		binary.LittleEndian.PutUint32(d[4:], audit)
		for i, a := range args {
			binary.LittleEndian.PutUint64(d[16+8*i:], a)
		}
		for i := 0; i < len(d); i += 4 { // the VM loads big-endian words
			slices.Reverse(d[i : i+4])
		}
		r, err := vm.Run(d)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(r)
	}
}

// TestHostPIDSelfOnly: an environment in the host's pid namespace (in a
// user namespace that maps root elsewhere) sets no other process's
// resource limits, priority or I/O priority; Landlock's signal scope
// does not cover them, and a review had the kernel kill a host process
// of the uid root inside maps to with a CPU limit of 1 s
// (TestRootHostPIDNoResourceReach). Its own stay allowed; an
// environment with a pid namespace of its own keeps the profile's.
func TestHostPIDSelfOnly(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		skipOrFail(t, "the numbers are amd64's")
	}
	root := shRoot(t)
	const idmap = "\n    idmap:\n      uid: [{inside: 0, outside: 100000, count: 65536}]\n      gid: [{inside: 0, outside: 100000, count: 65536}]"
	eperm := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	for _, c := range []struct {
		ns, security string
		selfOnly     bool
	}{
		{"user, mnt, net", "", true},
		{"user, mnt, net, pid", "", false},
		// `unconfined` in a user namespace is no filter at all, but for
		// these (a review of the twelfth stop's fixes killed a host
		// process of uid 100000 so when it was none).
		{"user, mnt, net", "\n    security: {seccomp: unconfined}", true},
	} {
		s, err := spec.ParseBytes("l.yaml", t.TempDir(), []byte("version: 1\nenvironments:\n  a:\n    rootfs: {dir: "+root+"}\n    namespaces: ["+c.ns+"]"+idmap+c.security+"\n    processes: [{name: main, command: [/bin/sh]}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		caller := rootCaller
		p, err := Compile(s, Options{CacheDir: t.TempDir(), Caller: &caller, FolderStat: searchable})
		if err != nil {
			t.Fatal(err)
		}
		var f *Seccomp
		for _, st := range p.Environments[0].Steps {
			if op, ok := st.Op.(Seccomp); ok {
				f = &op
			}
		}
		if f == nil || f.SelfOnly != c.selfOnly {
			t.Fatalf("[%s]%s: filter %v, want SelfOnly %v", c.ns, c.security, f != nil, c.selfOnly)
		}
		run := filterVM(t, f.Program)
		other := uint32(unix.SECCOMP_RET_ALLOW)
		if c.selfOnly {
			other = eperm
		}
		const x86_64 = unix.AUDIT_ARCH_X86_64
		for _, k := range []struct {
			what string
			nr   uint32
			args []uint64
			want uint32
		}{
			{"prlimit64(pid)", unix.SYS_PRLIMIT64, []uint64{4242, unix.RLIMIT_CPU, 1}, other},
			{"prlimit64(0)", unix.SYS_PRLIMIT64, []uint64{0, unix.RLIMIT_CPU, 1}, unix.SECCOMP_RET_ALLOW},
			{"setpriority(PRIO_PROCESS, pid)", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_PROCESS, 4242, 19}, other},
			{"setpriority(PRIO_USER, 0)", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_USER, 0, 19}, other},
			{"setpriority(PRIO_PROCESS, 0)", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_PROCESS, 0, 19}, unix.SECCOMP_RET_ALLOW},
			{"ioprio_set(USER, 0)", unix.SYS_IOPRIO_SET, []uint64{3, 0, 0}, other},
			{"ioprio_set(PROCESS, 0)", unix.SYS_IOPRIO_SET, []uint64{1, 0, 0}, unix.SECCOMP_RET_ALLOW},
			{"i386 prlimit64(pid)", 340, []uint64{4242, unix.RLIMIT_CPU, 1}, other},
			{"sched_setscheduler(pid, SCHED_IDLE)", unix.SYS_SCHED_SETSCHEDULER, []uint64{4242, 5, 0}, other},
			{"sched_setscheduler(0, SCHED_IDLE)", unix.SYS_SCHED_SETSCHEDULER, []uint64{0, 5, 0}, unix.SECCOMP_RET_ALLOW},
			{"sched_setattr(pid)", unix.SYS_SCHED_SETATTR, []uint64{4242, 0, 0}, other},
			{"sched_setparam(pid)", unix.SYS_SCHED_SETPARAM, []uint64{4242, 0}, other},
		} {
			audit := uint32(x86_64)
			if strings.HasPrefix(k.what, "i386") {
				audit = unix.AUDIT_ARCH_I386
			}
			if got := run(audit, k.nr, k.args...); got != k.want {
				t.Errorf("[%s]%s %s: %#x, want %#x", c.ns, c.security, k.what, got, k.want)
			}
		}
	}
}
