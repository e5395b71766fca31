package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	moby "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The bounding set nsup keeps (README, "Safety").
var defaultCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_AUDIT_WRITE", "CAP_SETFCAP"}

const (
	allow   = unix.SECCOMP_RET_ALLOW
	eperm   = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys  = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	killPro = unix.SECCOMP_RET_KILL_PROCESS

	auditX86_64  = 0xc000003e // AUDIT_ARCH_X86_64, linux/audit.h
	auditI386    = 0x40000003
	auditAARCH64 = 0xc00000b7
	auditARM     = 0x40000028
)

// filter is a compiled program in x/net/bpf's VM.
type filter struct {
	t    testing.TB
	vm   *bpf.VM
	prog []Instruction
}

func compile(t testing.TB, s *specs.LinuxSeccomp, goarch string) *filter {
	t.Helper()
	prog, err := Compile(s, goarch)
	if err != nil {
		t.Fatal(err)
	}
	insns := make([]bpf.Instruction, len(prog))
	for i, in := range prog {
		insns[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}.Disassemble()
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	return &filter{t, vm, prog}
}

// run is the filter's verdict on struct seccomp_data{nr, audit, ip, args}.
func (f *filter) run(audit, nr uint32, args ...uint64) uint32 {
	f.t.Helper()
	d := make([]byte, 64)
	le := binary.LittleEndian
	le.PutUint32(d[0:], nr)
	le.PutUint32(d[4:], audit)
	le.PutUint64(d[8:], 0x7f00deadbeef)
	for i, a := range args {
		le.PutUint64(d[16+8*i:], a)
	}
	// The VM loads words big-endian (network order), the kernel loads
	// seccomp_data native-endian: reverse each word so that the VM reads
	// what the kernel would.
	for i := 0; i < len(d); i += 4 {
		slices.Reverse(d[i : i+4])
	}
	r, err := f.vm.Run(d)
	if err != nil {
		f.t.Fatal(err)
	}
	return uint32(r)
}

func nr(info *arch.Info, name string) uint32 {
	n, ok := info.SyscallNames[name]
	if !ok {
		panic(name)
	}
	return uint32(n)
}

func errno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }

func defaultFilter(t testing.TB, caps []string) *filter {
	t.Helper()
	s, err := Default(caps)
	if err != nil {
		t.Fatal(err)
	}
	return compile(t, s, runtime.GOARCH)
}

func TestDefaultProfile(t *testing.T) {
	native, err := arch.GetInfo(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	audit := uint32(native.ID)
	f := defaultFilter(t, defaultCaps)
	t.Logf("%s: %d instructions, %s", runtime.GOARCH, len(f.prog), Digest(f.prog))
	for _, c := range []struct {
		name string
		args []uint64
		want uint32
	}{
		{"read", nil, allow},
		{"write", nil, allow},
		{"exit_group", nil, allow},
		{"futex", nil, allow},
		{"clone", []uint64{uint64(unix.SIGCHLD)}, allow},
		{"clone", []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, eperm},
		{"clone", []uint64{unix.CLONE_NEWNS}, eperm},
		{"keyctl", nil, eperm},
		{"add_key", nil, eperm},
		{"request_key", nil, eperm},
		{"perf_event_open", nil, eperm},
		{"userfaultfd", nil, eperm},
		{"mount", nil, eperm},
		{"unshare", []uint64{unix.CLONE_NEWUSER}, eperm},
		{"socket", []uint64{unix.AF_VSOCK}, eperm},
		{"socket", []uint64{unix.AF_INET}, allow},
		{"socket", []uint64{unix.AF_NETLINK}, allow},
		{"personality", []uint64{0}, allow},
		{"personality", []uint64{0xffffffff}, allow},
		{"personality", []uint64{0x1234}, eperm},
		{"personality", []uint64{1 << 32}, eperm}, // the whole 64 bits
		{"clone3", nil, enosys},                   // errnoRet 38 without CAP_SYS_ADMIN
	} {
		if got := f.run(audit, nr(native, c.name), c.args...); got != c.want {
			t.Errorf("%s(%#x) = %#x, want %#x", c.name, c.args, got, c.want)
		}
	}
	// Newer than any syscall the profile names: ENOSYS (runc's stub).
	for _, n := range []uint32{1000, x32Bit - 1} {
		if got := f.run(audit, n); got != enosys {
			t.Errorf("nr %d = %#x, want ENOSYS", n, got)
		}
	}
	// A foreign arch is killed.
	for _, a := range []uint32{0, 0x12345, auditAARCH64 ^ auditX86_64 ^ audit} {
		if got := f.run(a, 0); got != killPro {
			t.Errorf("arch %#x = %#x, want KILL_PROCESS", a, got)
		}
	}
	compat := map[string]struct {
		audit, read, keyctl uint32
	}{"amd64": {auditI386, 3, 288}, "arm64": {auditARM, 3, 311}}[runtime.GOARCH]
	for _, c := range []struct{ nr, want uint32 }{
		{compat.read, allow}, {compat.keyctl, eperm}, {0x100000, enosys}, // past arm's 0xf0005 too
	} {
		if got := f.run(compat.audit, c.nr); got != c.want {
			t.Errorf("compat nr %d = %#x, want %#x", c.nr, got, c.want)
		}
	}
	if runtime.GOARCH == "amd64" {
		// i386's socketcall (102) refused whatever its sub-call: the
		// family lies behind its pointer; i386's socket (359) checked.
		for _, c := range []struct {
			nr   uint32
			arg  uint64
			want uint32
		}{{102, 1, enosys}, {102, 3, enosys}, {359, unix.AF_VSOCK, eperm}, {359, unix.AF_INET, allow}} {
			if got := f.run(auditI386, c.nr, c.arg); got != c.want {
				t.Errorf("i386 nr %d(%d) = %#x, want %#x", c.nr, c.arg, got, c.want)
			}
		}
		// x32: AUDIT_ARCH_X86_64 with __X32_SYSCALL_BIT, x32's own numbers.
		for _, c := range []struct{ nr, want uint32 }{
			{0, allow},     // read
			{250, eperm},   // keyctl
			{435, enosys},  // clone3
			{528, eperm},   // kexec_load (x32's own number)
			{1000, enosys}, // past the last
			{246, eperm},   // kexec_load's x86_64 number under x32
			{13, allow},    // rt_sigaction's x86_64 number under x32 (ENOSYS in the kernel)
			{512, allow},   // rt_sigaction
			{0x3fffffff, enosys},
		} {
			if got := f.run(auditX86_64, x32Bit|c.nr, unix.CLONE_NEWUSER); got != c.want {
				t.Errorf("x32 nr %d = %#x, want %#x", c.nr, got, c.want)
			}
		}
	}

	admin := defaultFilter(t, append(slices.Clone(defaultCaps), "CAP_SYS_ADMIN"))
	for _, c := range []struct {
		name string
		arg  uint64
	}{{"unshare", unix.CLONE_NEWUSER}, {"mount", 0}, {"clone", unix.CLONE_NEWUSER}, {"clone3", 0}} {
		if got := admin.run(audit, nr(native, c.name), c.arg); got != allow {
			t.Errorf("with CAP_SYS_ADMIN: %s(%#x) = %#x, want ALLOW", c.name, c.arg, got)
		}
	}
	if got := admin.run(audit, nr(native, "keyctl")); got != eperm {
		t.Errorf("with CAP_SYS_ADMIN: keyctl = %#x, want EPERM", got)
	}
}

// x32 numbers never match x86_64 rules: without SCMP_ARCH_X32 they get the
// default action; with it, x32's rules.
func TestX32(t *testing.T) {
	read := specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActKillProcess}
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{read}}
	f := compile(t, s, "amd64")
	if got := f.run(auditX86_64, 0); got != killPro {
		t.Errorf("read = %#x, want KILL_PROCESS", got)
	}
	if got := f.run(auditX86_64, x32Bit); got != allow {
		t.Errorf("x32 read without SCMP_ARCH_X32 = %#x, want the default ALLOW", got)
	}
	s.DefaultAction = specs.ActErrno
	f = compile(t, s, "amd64")
	for _, n := range []uint32{x32Bit, x32Bit | 1000, 0xffffffff} {
		if got := f.run(auditX86_64, n); got != eperm {
			t.Errorf("x32 nr %#x without SCMP_ARCH_X32 = %#x, want the default EPERM", n, got)
		}
	}
	if got := f.run(auditX86_64, 1); got != enosys {
		t.Errorf("write = %#x, want ENOSYS (past the profile's last)", got)
	}
	s.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX32}
	s.Syscalls = []specs.LinuxSyscall{{Names: []string{"arch_prctl"}, Action: specs.ActAllow}}
	f = compile(t, s, "amd64")
	for _, c := range []struct{ audit, nr, want uint32 }{
		{auditX86_64, 158, allow}, {auditX86_64, x32Bit | 158, allow},
		{auditX86_64, x32Bit, eperm}, {auditX86_64, 0, eperm},
		{auditX86_64, x32Bit | 159, enosys}, {auditX86_64, 159, enosys},
		{auditI386, 0, killPro}, // SCMP_ARCH_X86 is not listed
	} {
		if got := f.run(c.audit, c.nr); got != c.want {
			t.Errorf("arch %#x nr %#x = %#x, want %#x", c.audit, c.nr, got, c.want)
		}
	}
}

// ref is the semantics Compile implements, for a 64-bit ABI, written
// plainly: first rule (in order) naming the syscall whose conditions all
// hold, else ENOSYS past the last named number, else the default.
func ref(s *specs.LinuxSeccomp, info *arch.Info, n uint32, args [6]uint64) uint32 {
	act := func(a specs.LinuxSeccompAction, e *uint) uint32 {
		r, err := action(a, e)
		if err != nil {
			panic(err)
		}
		return r
	}
	if n >= x32Bit && info == arch.X86_64 {
		return act(s.DefaultAction, s.DefaultErrnoRet) // SCMP_ARCH_X32 is not listed
	}
	name := info.SyscallNumbers[int(n)]
	top := -1
	for _, r := range s.Syscalls {
		for _, nm := range r.Names {
			if k, ok := info.SyscallNames[nm]; ok {
				top = max(top, k)
			}
		}
	}
	for _, r := range s.Syscalls {
		if name == "" || !slices.Contains(r.Names, name) {
			continue
		}
		ok := true
		for _, a := range r.Args {
			x, v := args[a.Index], a.Value
			ok = ok && map[specs.LinuxSeccompOperator]bool{
				specs.OpEqualTo: x == v, specs.OpNotEqual: x != v,
				specs.OpLessThan: x < v, specs.OpLessEqual: x <= v,
				specs.OpGreaterThan: x > v, specs.OpGreaterEqual: x >= v,
				specs.OpMaskedEqual: x&v == a.ValueTwo,
			}[a.Op]
		}
		if ok {
			return act(r.Action, r.ErrnoRet)
		}
	}
	if d := act(s.DefaultAction, s.DefaultErrnoRet) & unix.SECCOMP_RET_ACTION_FULL; d != allow && d != unix.SECCOMP_RET_LOG && d != unix.SECCOMP_RET_TRACE && top >= 0 && int(n) > top {
		return enosys
	}
	return act(s.DefaultAction, s.DefaultErrnoRet)
}

var ops = []specs.LinuxSeccompOperator{specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
	specs.OpEqualTo, specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual}

// Each operator against values either side of its operand, where the high
// word alone decides and where it is equal.
func TestOperators(t *testing.T) {
	for _, op := range ops {
		for _, v := range []uint64{0, 5, 0xffffffff, 1 << 32, 0x1_0000_0005, 0xffff_ffff_0000_0000, ^uint64(0)} {
			v2 := v & 0xffff_0000_0000_00ff
			s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{
				Names: []string{"read"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 2, Value: v, ValueTwo: v2, Op: op}},
			}}}
			f := compile(t, s, "amd64")
			for _, x := range []uint64{0, 4, 5, 6, 0xfffffffe, 0xffffffff, 1 << 32, 0x1_0000_0004,
				0x1_0000_0005, 0x1_0000_0006, 0x2_0000_0000, ^uint64(0), v - 1, v, v + 1, v2, v ^ 1<<40} {
				args := [6]uint64{2: x}
				want := ref(s, arch.X86_64, 0, args)
				if got := f.run(auditX86_64, 0, args[:]...); got != want {
					t.Errorf("%s %#x (two %#x) on %#x = %#x, want %#x", op, v, v2, x, got, want)
				}
			}
		}
	}
	// On a 32-bit ABI only the low word counts, as in libseccomp.
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1<<32 | 5, Op: specs.OpEqualTo}}}}}
	f := compile(t, s, "amd64")
	for x, want := range map[uint64]uint32{5: allow, 1<<32 | 5: allow, 1 << 32: eperm} {
		if got := f.run(auditI386, 3, x); got != want {
			t.Errorf("i386 read(%#x) = %#x, want %#x", x, got, want)
		}
	}
	if got := f.run(auditX86_64, 0, 5); got != eperm {
		t.Errorf("x86_64 read(5) = %#x, want EPERM", got)
	}
}

func TestRuleOrder(t *testing.T) {
	e := func(n uint) *uint { return &n }
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: e(99), Syscalls: []specs.LinuxSyscall{
		{Names: []string{"write", "read"}, Action: specs.ActErrno, ErrnoRet: e(11),
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 7, Op: specs.OpNotEqual}}},
		{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpGreaterEqual}}},
		{Names: []string{"read", "close"}, Action: specs.ActTrace, ErrnoRet: e(22)},
		{Names: []string{"read"}, Action: specs.ActAllow}, // shadowed
		{Names: []string{"close"}, Action: specs.ActLog},  // shadowed
		{Names: []string{"getpid"}, Action: specs.ActKill},
		{Names: []string{"no_such_syscall", "gettid"}, Action: specs.ActTrap},
	}}
	f := compile(t, s, "amd64")
	for _, c := range []struct {
		name string
		args []uint64
		want uint32
	}{
		{"read", []uint64{1, 0}, errno(11)},
		{"read", []uint64{1, 7}, allow},
		{"read", []uint64{2}, allow},
		{"read", []uint64{0}, unix.SECCOMP_RET_TRACE | 22},
		{"write", []uint64{1, 0}, errno(11)},
		{"write", []uint64{1, 7}, errno(99)},
		{"close", nil, unix.SECCOMP_RET_TRACE | 22},
		{"getpid", nil, unix.SECCOMP_RET_KILL_THREAD},
		{"gettid", nil, unix.SECCOMP_RET_TRAP},
		{"open", nil, errno(99)},
		{"tkill", nil, enosys}, // past gettid (186)
	} {
		if got := f.run(auditX86_64, nr(arch.X86_64, c.name), c.args...); got != c.want {
			t.Errorf("%s(%v) = %#x, want %#x", c.name, c.args, got, c.want)
		}
	}
}

// A block of 400 conditional rules for read puts the blocks after it far
// past 255 instructions from the search: trampolines must get there.
func TestLongJumps(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for i := range 400 {
		e := uint(i + 1)
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: &e,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: uint64(i), Op: specs.OpEqualTo}}})
	}
	s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"write", "getpid"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}})
	f := compile(t, s, "amd64")
	if !slices.ContainsFunc(f.prog, func(in Instruction) bool { return in.Code == 0x05 }) {
		t.Fatal("no ja in the program: long jumps not exercised")
	}
	for i := range 401 {
		want := errno(unix.Errno(i + 1))
		if i == 400 {
			want = eperm
		}
		if got := f.run(auditX86_64, 0, uint64(i)); got != want {
			t.Fatalf("read(%d) = %#x, want %#x", i, got, want)
		}
	}
	for n, want := range map[uint32]uint32{1: allow, 39: allow, 2: eperm, 40: enosys, x32Bit: eperm} {
		if got := f.run(auditX86_64, n, 1); got != want {
			t.Errorf("nr %d = %#x, want %#x", n, got, want)
		}
	}
	for n, want := range map[uint32]uint32{1: eperm, 39: eperm, 40: enosys} {
		if got := f.run(auditX86_64, n, 2); got != want {
			t.Errorf("nr %d = %#x, want %#x", n, got, want)
		}
	}
	// Past BPF_MAXINSNS: an error, not a program the kernel refuses. The
	// rules test two arguments, so that they are compiled one by one, not
	// as a search over one argument's values.
	for i := range 2000 {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"close"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: uint(i % 2), Value: uint64(i), Op: specs.OpEqualTo}}})
	}
	if _, err := Compile(s, "amd64"); err == nil || !strings.Contains(err.Error(), "BPF_MAXINSNS") {
		t.Errorf("a program too long: err = %v", err)
	}
}

// Random profiles against ref.
func TestRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	gen := profileGen{rng: rng, names: sortedNames()}
	jas := 0
	for iter := range 300 {
		s, pool := gen.profile()
		f := compile(t, s, "amd64")
		jas += len(slices.DeleteFunc(slices.Clone(f.prog), func(in Instruction) bool { return in.Code != 0x05 }))
		for range 200 {
			n := uint32(nr(arch.X86_64, pool[rng.Intn(len(pool))]))
			n += uint32(rng.Intn(5)) - 2
			var args [6]uint64
			for i := range 3 {
				args[i] = testValues[rng.Intn(len(testValues))] + uint64(rng.Intn(3)) - 1
			}
			if got, want := f.run(auditX86_64, n, args[:]...), ref(s, arch.X86_64, n, args); got != want {
				t.Fatalf("profile %d: nr %d args %#x = %#x, want %#x", iter, n, args[:3], got, want)
			}
		}
	}
	if jas == 0 {
		t.Error("no long jump in any random program")
	}
}

func TestDeterministic(t *testing.T) {
	a, b := defaultFilter(t, defaultCaps), defaultFilter(t, defaultCaps)
	if Digest(a.prog) != Digest(b.prog) {
		t.Errorf("two compilations differ: %s, %s", Digest(a.prog), Digest(b.prog))
	}
	if d := Digest(a.prog); !strings.HasPrefix(d, "sha256:") || len(d) != 7+64 || len(Bytes(a.prog)) != 8*len(a.prog) {
		t.Errorf("digest %s of %d bytes", d, len(Bytes(a.prog)))
	}
}

func TestLoad(t *testing.T) {
	want := Digest(defaultFilter(t, defaultCaps).prog)
	// Docker's format: default.json is json.Marshal of DefaultProfile.
	docker, err := json.Marshal(moby.DefaultProfile())
	if err != nil {
		t.Fatal(err)
	}
	// The OCI form: the resolved profile, as in a config.json.
	resolved, err := Default(defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	oci, err := json.Marshal(resolved)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"docker": docker, "oci": oci} {
		s, err := Load(data, defaultCaps)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "docker" {
			s = refuseSocketcall(s) // what Default adds to Docker's own
		}
		if got := Digest(compile(t, s, runtime.GOARCH).prog); got != want {
			t.Errorf("%s: %s, want Default's %s", name, got, want)
		}
	}
	s, err := Load([]byte(`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
		"architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
		"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := compile(t, s, "amd64")
	if got := f.run(auditX86_64, 0); got != allow {
		t.Errorf("read = %#x", got)
	}
	if got := f.run(auditX86_64, x32Bit); got != errno(unix.EACCES) {
		t.Errorf("x32 read = %#x", got)
	}
	if fl, err := Flags(s); err != nil || fl != unix.SECCOMP_FILTER_FLAG_LOG {
		t.Errorf("flags = %#x, %v", fl, err)
	}
	for data, want := range map[string]string{
		`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}`: "syscalls[0] (read): action SCMP_ACT_NOTIFY is not supported: nsup has no seccomp agent",
		`{"defaultAction": "SCMP_ACT_NOTIFY"}`: "defaultAction: action SCMP_ACT_NOTIFY is not supported: nsup has no seccomp agent",
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]}`: "syscalls[1] (personality): op SCMP_CMP_FOO is not supported",
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`:                                                 "syscalls[0] (read and 1 more): arg index 6 is not in 0..5",
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscall": []}`:               `unknown field "syscall"`,
		`{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FOO"]}`:    `flags[0]: "SECCOMP_FOO" is not supported`,
		`{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]}`: `architectures[0]: "x86_64" is not an architecture`,
		`{}`: "no defaultAction",
	} {
		if _, err := Load([]byte(data), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want %q", data, err, want)
		}
	}
	if _, err := Compile(resolved, "riscv64"); err == nil {
		t.Error("riscv64 compiled")
	}
}

func ExampleCompile() {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow}}}
	prog, _ := Compile(s, "amd64")
	// AUDIT_ARCH_X86_64 or KILL_PROCESS; then a search over nr: read and
	// write (0, 1) and exit_group (231) ALLOW, 232 up to the x32 numbers
	// ENOSYS, the rest ERRNO|EPERM.
	for _, in := range prog {
		fmt.Println(bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}.Disassemble())
	}
	// Output:
	// ld [4]
	// jeq #3221225534,1
	// ret #2147483648
	// ld [0]
	// jge #231,1
	// jge #2,2,3
	// jlt #232,2
	// jlt #1073741824,2
	// ret #327681
	// ret #2147418112
	// ret #327718
}

// TestNoStubUnderLog: runc's ENOSYS stub only under a denying default;
// under LOG and TRACE (runc's isAllowAction) a call newer than every one
// the profile names gets the default. A LOG profile naming only SysV's
// calls (as nsup's host IPC refusals add to one naming none) had openat
// and every later call ENOSYS.
func TestNoStubUnderLog(t *testing.T) {
	const openatAMD64 = 257 // compiled for amd64 whatever the host is
	eperm := uint(unix.EPERM)
	for _, d := range []specs.LinuxSeccompAction{specs.ActLog, specs.ActTrace} {
		s := &specs.LinuxSeccomp{DefaultAction: d, Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"shmget"}, Action: specs.ActErrno, ErrnoRet: &eperm}}}
		f := compile(t, s, "amd64")
		want, _ := action(d, nil)
		if got := f.run(auditX86_64, openatAMD64); got != want {
			t.Errorf("default %s: openat = %#x, want %#x", d, got, want)
		}
	}
}
