package planner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	goldenfile "github.com/nsup/nsup/internal/golden"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixedClosure stands in for the ELF resolver in golden tests, so that a
// golden plan does not depend on this host's libraries: each path becomes
// one executable file whose digest is that of its name. The real resolver
// is tested against ldd in closure_test.go.
func fixedClosure(paths []string) ([]File, error) {
	m := map[string]File{}
	for _, p := range paths {
		sum := sha256.Sum256([]byte(p))
		m[p] = File{Path: p, Type: "file", Mode: 0o755, Source: p, Size: int64(len(p)), Digest: "sha256:" + hex.EncodeToString(sum[:])}
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			m[d] = File{Path: d, Type: "dir", Mode: 0o755}
		}
	}
	var out []File
	for _, f := range m {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// The callers golden plans are made for: root, and a user without
// privilege who has subordinate ids and the helpers.
var (
	rootCaller = Caller{Privileged: true, HardLimits: fixedLimits}
	userCaller = Caller{UID: 1000, GID: 1000, Name: "dev",
		SubUIDs: []IDRange{{100000, 65536}}, SubGIDs: []IDRange{{100000, 65536}},
		NewUIDMap: "/usr/bin/newuidmap", NewGIDMap: "/usr/bin/newgidmap", HardLimits: fixedLimits}
	fixedLimits = map[string]uint64{"nofile": 524288, "nproc": 95000}
)

// fixedSeccomp stands in for Docker's default profile, whose rules
// depend on the kernel's version, and for profile files: a golden plan is
// the same on every host.
func fixedSeccomp(profile string, caps []string) (*specs.LinuxSeccomp, error) {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow},
	}}, nil
}

// fixedHostPath stands in for the host's /proc and /sys: a kernel
// without /proc/timer_stats (gone since Linux 4.11) nor
// /sys/devices/virtual/powercap.
func fixedHostPath(p string) (isDir, ok bool) {
	switch p {
	case "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/sched_debug", "/proc/sysrq-trigger":
		return false, true
	case "/proc/timer_stats", "/sys/devices/virtual/powercap":
		return false, false
	}
	if slices.Contains(DefaultMaskedPaths, p) || slices.Contains(DefaultReadonlyPaths, p) {
		return true, true
	}
	// A bind source of a test spec.
	st, err := os.Stat(p)
	return err == nil && st.IsDir(), err == nil
}

// fixedOptions sets the seams above.
func fixedOptions(o Options) Options {
	o.Closure, o.Seccomp, o.HostPath, o.Cgroups = fixedClosure, fixedSeccomp, fixedHostPath, fixedCgroups
	o.LandlockABI = func() int { return 7 } // Linux 6.15
	if o.KernelRelease == nil {
		o.KernelRelease = func() string { return "6.15.0" }
	}
	// A host whose folders above nsup's cache and volumes every uid may
	// search (childReaches): the golden plans with an idmap apply there.
	// A test of folders it made itself passes folderStat.
	if o.FolderStat == nil {
		o.FolderStat = searchable
	}
	// A host up 8h12m (a golden time offset as low as -8h12m plans).
	if o.Clocks == nil {
		o.Clocks = fixedClocks(8*time.Hour + 12*time.Minute)
	}
	return o
}

// fixedClocks is a host up for d, never suspended (CLOCK_MONOTONIC and
// CLOCK_BOOTTIME read the same).
func fixedClocks(d time.Duration) func() (time.Duration, time.Duration, error) {
	return func() (time.Duration, time.Duration, error) { return d, d, nil }
}

// searchable is a FolderStat of folders every uid may search (root's,
// 0755).
func searchable(string) (uid, gid, mode uint32, err error) { return 0, 0, 0o40755, nil }

// The golden plans' host has pasta at /usr/bin/pasta and a /dev/net/tun
// a user may open (as distributions ship it), whatever this one has.
func init() {
	lookPasta = func() (string, error) { return "/usr/bin/pasta", nil }
	tunUsable = func() bool { return true }
}

// fixedCgroups is a host with cgroup v2 only, whose nsup group delegates
// memory, pids, cpu and io (planner/cgroup/testdata/v2-delegated).
func fixedCgroups() (*cgroup.Layout, error) {
	return cgroup.Discover(os.DirFS("cgroup/testdata/v2-delegated"))
}

func repoRoot(t testing.TB) string {
	t.Helper()
	r, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// compileFile parses name (relative to the repository) and compiles it
// with the fixed resolver and a fixed cache dir.
func compileFile(t testing.TB, name string) (*Plan, error) {
	t.Helper()
	return compileFileWith(t, name, Options{})
}

// compileFileWith is compileFile with options (a fixed state dir).
func compileFileWith(t testing.TB, name string, opts Options) (*Plan, error) {
	t.Helper()
	root := repoRoot(t)
	caller := rootCaller
	if strings.Contains(name, "rootless") {
		caller = userCaller
	}
	name = strings.TrimSuffix(name, "#rootless")
	full := filepath.Join(root, name)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.ParseBytes(name, filepath.Dir(full), data)
	if err != nil {
		return nil, err
	}
	opts = fixedOptions(opts)
	opts.CacheDir, opts.Caller = "/var/cache/nsup", &caller
	if opts.Detach {
		opts.StateDir = "/run/nsup"
	}
	p, err := Compile(s, opts)
	if p != nil {
		p.SpecPath = "$REPO/" + name
		// Every golden plan keeps to the stage table.
		if cerr := p.Check(); cerr != nil {
			return nil, cerr
		}
	}
	return p, err
}

// originCol is the padding before a step's origin comment, which depends
// on the length of the line's arguments (so on this checkout's path).
var originCol = regexp.MustCompile(`  +# `)

// normalize replaces this checkout's absolute path, so that golden files
// hold on any clone.
// nsIdentity is what a plan says of a namespace file joined by path:
// which namespace it was (in the text, and the JSON's "ns" and "owner"),
// or that it could not be opened. It depends on the host, and on the
// user planning (/proc/1/ns/uts opens for root only): left out of the
// golden plans. TestPathJoinIdentity checks it.
var nsIdentity = regexp.MustCompile(`( = [a-z]+:\[[0-9]+\]| \(no [a-z]+ namespace nsup could open there when planned: apply refuses it\))|(?m)^ *"(ns|owner)": [0-9]+,\n`)

func normalize(t testing.TB, b []byte) string {
	s := nsIdentity.ReplaceAllString(string(b), "")
	return originCol.ReplaceAllString(strings.ReplaceAll(s, repoRoot(t), "$REPO"), "  # ")
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	goldenfile.Check(t, file, got, *update)
}

// goldenCases are every example, as root and rootless, plus the cases
// under testdata/plans (planned rootless when their name says so).
func goldenCases(t *testing.T) map[string]string {
	cases := map[string]string{}
	ex, _ := filepath.Glob(filepath.Join(repoRoot(t), "examples", "*.yaml"))
	for _, f := range ex {
		if hostRooted(t, f) {
			continue
		}
		base := strings.TrimSuffix(filepath.Base(f), ".yaml")
		cases["examples/"+filepath.Base(f)] = filepath.Join("testdata", "examples", base)
		// Every example planned for a user without privilege too.
		cases["examples/"+filepath.Base(f)+"#rootless"] = filepath.Join("testdata", "examples", base+"-rootless")
	}
	td, _ := filepath.Glob(filepath.Join("testdata", "plans", "*", "spec.yaml"))
	for _, f := range td {
		cases["planner/"+f] = filepath.Dir(f) + "/plan"
	}
	if len(ex) < 3 {
		t.Fatalf("found %d examples, want at least 3", len(ex))
	}
	return cases
}

func TestGoldenPlans(t *testing.T) {
	for name, out := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			p, err := compileFile(t, name)
			if err != nil {
				t.Fatal(err)
			}
			var txt bytes.Buffer
			if err := Render(&txt, p); err != nil {
				t.Fatal(err)
			}
			js, err := MarshalIndent(p)
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Dir(out), 0o755)
			golden(t, out+".txt", normalize(t, txt.Bytes()))
			golden(t, out+".json", normalize(t, js))

			// The JSON round-trips exactly.
			back, err := Unmarshal(js)
			if err != nil {
				t.Fatal(err)
			}
			// Writable is not in the JSON: it is nsup plan -o's check
			// of where the plan is saved, not a step.
			back.Writable = p.Writable
			if d := cmp.Diff(p, back); d != "" {
				t.Errorf("JSON round trip differs (-compiled +decoded):\n%s", d)
			}
			js2, _ := MarshalIndent(back)
			if !bytes.Equal(js, js2) {
				t.Error("JSON of the decoded plan is not byte-identical")
			}
			// Deterministic: a second compile renders byte-identically.
			p2, _ := compileFile(t, name)
			var txt2 bytes.Buffer
			Render(&txt2, p2)
			if !bytes.Equal(txt.Bytes(), txt2.Bytes()) {
				t.Error("two compiles of the same spec render differently")
			}
		})
	}
}

// TestGoldenDetachedPlans: every example planned for nsup apply -d: the
// state directory, the lock, the log and the control socket first, the
// state file and the end of the parent-death signal last.
// hostRooted says whether the spec at f has a root of host folders or a
// closure of packages: its plan is this host's (its merged-/usr links,
// where its tools are, what its dpkg database lists), so it has no golden
// file; TestHostRoot and TestPackages check such plans, and the root
// tests run the examples.
func hostRooted(t *testing.T, f string) bool {
	s, err := spec.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range s.Environments {
		if len(e.Rootfs.Host) > 0 || len(e.Rootfs.Packages) > 0 {
			return true
		}
	}
	return false
}

func TestGoldenDetachedPlans(t *testing.T) {
	ex, _ := filepath.Glob(filepath.Join(repoRoot(t), "examples", "*.yaml"))
	for _, f := range ex {
		if hostRooted(t, f) {
			continue
		}
		name := "examples/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			p, err := compileFileWith(t, name, Options{Detach: true})
			if err != nil {
				t.Fatal(err)
			}
			var txt bytes.Buffer
			if err := Render(&txt, p); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "examples", strings.TrimSuffix(filepath.Base(f), ".yaml")+".detached.txt"), normalize(t, txt.Bytes()))
			js, err := MarshalIndent(p)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Unmarshal(js)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(p, back); d != "" {
				t.Errorf("JSON round trip differs (-compiled +decoded):\n%s", d)
			}
			// The order that makes kill -9 safe: the lock before anything
			// else; the state file before the end of the parent-death
			// signal, which is the last step.
			for _, e := range p.Environments {
				var ops []string
				for _, st := range e.Steps {
					ops = append(ops, st.Stage.String()+" "+st.Op.Syscall())
				}
				n := len(ops)
				if n < 4 || ops[0] != "host mkdir" || ops[1] != "host flock" ||
					ops[n-2] != "host state" || ops[n-1] != "init prctl" {
					t.Errorf("%s: steps %q", e.Name, ops)
				}
			}
		})
	}
}

// TestDetachInitFalse: a detached environment needs nsup's init.
func TestDetachInitFalse(t *testing.T) {
	_, err := compileFileWith(t, "planner/testdata/plans/dir-init-false/spec.yaml", Options{Detach: true})
	if err == nil || !strings.Contains(err.Error(), "init: false cannot be detached") {
		t.Errorf("got %v", err)
	}
}

// TestHostClosure plans hello.yaml with the real ELF resolver: the plan
// holds the interpreter and libc, each with a digest.
func TestHostClosure(t *testing.T) {
	s, err := spec.Parse(filepath.Join(repoRoot(t), "examples", "hello.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(s, Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Environments[0].Steps[0].Op.(Rootfs)
	var libc, interp bool
	for _, f := range r.Files {
		if f.Type == "file" && !strings.HasPrefix(f.Digest, "sha256:") {
			t.Errorf("%s has no digest", f.Path)
		}
		libc = libc || strings.Contains(f.Path, "libc.so")
		interp = interp || strings.Contains(f.Path, "ld-linux")
	}
	if !libc || !interp {
		t.Errorf("closure lacks libc (%v) or the interpreter (%v): %v", libc, interp, r.Files)
	}
	for _, want := range []string{"/proc", "/tmp"} {
		if f, ok := mapTreeOf(r.Files)(want); !ok || f.Type != "dir" {
			t.Errorf("mount target %s is not a directory of the tree", want)
		}
	}
}

func mapTreeOf(files []File) treeView {
	m := map[string]File{}
	for _, f := range files {
		m[f.Path] = f
	}
	return mapTree(m)
}

func TestEnvSelection(t *testing.T) {
	root := repoRoot(t)
	s, err := spec.Parse(filepath.Join(root, "examples", "pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(s, Options{Closure: fixedClosure, Envs: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range p.Environments {
		names = append(names, e.Name)
	}
	if d := cmp.Diff([]string{"db", "web"}, names); d != "" {
		t.Errorf("selecting web plans (-want +got):\n%s", d)
	}
	_, err = Compile(s, Options{Closure: fixedClosure, Envs: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), `no environment named "nope"`) {
		t.Errorf("unknown env: got %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	dir := t.TempDir()
	src := `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: /nonexistent/nsup, target: /x}
    processes:
      - {name: main, command: [no-such-command]}
`
	s, err := spec.ParseBytes("t.yaml", dir, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(s, Options{Closure: fixedClosure})
	want := `t.yaml:7:30: environments.a.mounts[0].source: /nonexistent/nsup: no such file or directory: make it, or say create: true (apply then makes the folder)
t.yaml:9:32: environments.a.processes[0].command[0]: "no-such-command" not found in the rootfs nor in its mounts (PATH=` + DefaultPath + `): bind the host folder that has it (mounts, or rootfs.host), or give its path`
	if err == nil {
		t.Fatal("no error")
	}
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestResolveIn(t *testing.T) {
	tree := mapTreeOf([]File{
		{Path: "/bin", Type: "symlink", Link: "usr/bin"},
		{Path: "/usr", Type: "dir"}, {Path: "/usr/bin", Type: "dir"},
		{Path: "/usr/bin/dash", Type: "file", Mode: 0o755},
		{Path: "/usr/bin/sh", Type: "symlink", Link: "dash"},
		{Path: "/escape", Type: "symlink", Link: "../../../usr/bin/dash"},
		{Path: "/loop", Type: "symlink", Link: "/loop"},
	})
	for p, want := range map[string]string{
		"/bin/sh": "/usr/bin/dash", "/escape": "/usr/bin/dash", "/usr/../bin/dash": "/usr/bin/dash",
		"/loop": "", "/nope": "", "/usr/bin/dash/x": "",
		"//usr//bin/./sh": "/usr/bin/dash", "/bin/": "/usr/bin", "/usr/bin/dash/..": "",
		// Below a file "." and a trailing slash fail as ".." does
		// (stat /usr/bin/env/. : ENOTDIR).
		"/usr/bin/dash/.": "", "/usr/bin/dash//": "", "/bin/sh/": "",
		"": "/", "/..": "/", "/bin/../bin/dash": "/usr/bin/dash",
	} {
		f, ok := resolveIn(tree, p)
		if got := map[bool]string{true: f.Path}[ok]; got != want {
			t.Errorf("resolveIn(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestEveryOpRenders: no operation type falls through FormatOp.
func TestEveryOpRenders(t *testing.T) {
	for _, op := range AllOps() {
		if s := FormatOp(op); strings.HasSuffix(s, "?") || !strings.HasPrefix(s, op.Syscall()+"(") {
			t.Errorf("%T renders as %q", op, s)
		}
		b, err := Step{Op: op}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Step
		if err := back.UnmarshalJSON(b); err != nil {
			t.Errorf("%T: %v", op, err)
		}
	}
}

func TestFlags(t *testing.T) {
	f := MountFlags(msBIND | msREC | msRDONLY | 0x10000000)
	s := f.String()
	if s != "MS_BIND|MS_REC|MS_RDONLY|0x10000000" {
		t.Errorf("got %s", s)
	}
	var back MountFlags
	if err := back.UnmarshalText([]byte(s)); err != nil || back != f {
		t.Errorf("round trip: %v %v", back, err)
	}
	if err := back.UnmarshalText([]byte("MS_NOPE")); err == nil {
		t.Error("unknown flag accepted")
	}
}

// bigSpec generates a spec of n environments, each with a closure, five
// namespaces, mounts and a process; every tenth joins its predecessor.
func bigSpec(n int) []byte {
	var b strings.Builder
	b.WriteString("version: 1\nenvironments:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  env-%d:\n    rootfs: {closure: [/bin/sh]}\n", i)
		if i%10 == 9 {
			fmt.Fprintf(&b, "    namespaces: [mnt, pid, uts]\n    join: {net: env-%d, ipc: env-%d}\n", i-1, i-1)
		} else {
			b.WriteString("    namespaces: [mnt, pid, uts, ipc, net]\n")
		}
		fmt.Fprintf(&b, "    hostname: h%d\n    mounts:\n      - {type: proc, target: /proc}\n      - {type: tmpfs, target: /tmp, size: 16M}\n", i)
		b.WriteString("    processes:\n      - {name: main, command: [/bin/sh, -c, 'echo hi']}\n")
	}
	return []byte(b.String())
}

// BenchmarkCompile parses and plans a spec of 1,000 environments, with
// the real ELF resolver (the closure of /bin/sh, hashed once per compile).
func BenchmarkCompile(b *testing.B) {
	data := bigSpec(1000)
	b.ReportAllocs()
	for b.Loop() {
		s, err := spec.ParseBytes("big.yaml", "/", data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Compile(s, Options{CacheDir: "/var/cache/nsup"}); err != nil {
			b.Fatal(err)
		}
	}
}

// withWorkers compiles with n environments at once.
func withWorkers(t testing.TB, n int, f func()) {
	t.Helper()
	old := compileWorkers
	compileWorkers = func() int { return n }
	defer func() { compileWorkers = old }()
	f()
}

// TestCompileParallel: environments compiled at once give the plan (or
// the errors) of environments compiled one by one: every golden case,
// and a spec of pods whose members join a leader's namespaces by name
// (waiting for it), rootless (each asking which user namespace the
// others are in), some of them refused.
func TestCompileParallel(t *testing.T) {
	type result struct {
		p   *Plan
		err string
	}
	compileBoth := func(t *testing.T, compile func() (*Plan, error)) {
		t.Helper()
		var one, many result
		run := func(r *result) {
			p, err := compile()
			r.p = p
			if err != nil {
				r.err = err.Error()
			}
		}
		withWorkers(t, 1, func() { run(&one) })
		for range 5 {
			withWorkers(t, 4, func() { run(&many) })
			if !reflect.DeepEqual(one.p, many.p) || one.err != many.err {
				t.Fatalf("at once differs from one by one (-one +at once):\n%s\nerrors:\n%s\n%s", cmp.Diff(one.p, many.p), one.err, many.err)
			}
		}
	}
	for name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			compileBoth(t, func() (*Plan, error) { return compileFile(t, name) })
		})
	}
	for _, refused := range []bool{false, true} {
		for _, caller := range []Caller{rootCaller, userCaller} {
			var b strings.Builder
			b.WriteString("version: 1\nenvironments:\n")
			for i := range 120 {
				fmt.Fprintf(&b, "  e%d:\n    rootfs: {closure: [/bin/sh]}\n", i)
				switch i % 4 {
				case 0, 3: // a pod's leader
					b.WriteString("    namespaces: [mnt, pid, net, ipc, uts]\n    mounts: [{type: proc, target: /proc}]\n")
				case 1:
					fmt.Fprintf(&b, "    namespaces: [mnt, pid]\n    join: {net: e%d, ipc: e%d}\n", i-1, i-1)
				case 2:
					// The leader's mounts, its root, and the user namespace
					// of the one before (rootless).
					fmt.Fprintf(&b, "    namespaces: [uts]\n    join: {mnt: e%d, net: e%d, pid: e%d}\n", i-2, i-1, i-1)
				}
				if refused && i%8 == 3 {
					// init: false runs one process.
					b.WriteString("    init: false\n")
					b.WriteString("    processes: [{name: main, command: [/bin/sh]}, {name: b, command: [/bin/sh]}]\n")
					continue
				}
				b.WriteString("    processes: [{name: main, command: [/bin/sh]}]\n")
			}
			s, err := spec.ParseBytes("pods.yaml", t.TempDir(), []byte(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			t.Run(fmt.Sprintf("pods-uid%d-refused-%v", caller.UID, refused), func(t *testing.T) {
				if _, err := Compile(s, fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &caller})); (err != nil) != refused {
					t.Fatalf("err = %v", err)
				}
				compileBoth(t, func() (*Plan, error) {
					return Compile(s, fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &caller}))
				})
			})
		}
	}
}
