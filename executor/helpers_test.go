package executor_test

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/nsup/nsup/executor"
	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
	"golang.org/x/sys/unix"
)

// The test binary is its own child stage: Apply re-executes /proc/self/exe.
// It is also nsup apply for tests that need nsup in a process of its own
// (to kill it, or to run two at once): see helperApply.
// Apply needs the main thread kept, as nsup's main package keeps it
// (but in the helper of TestApplyNeedsKeptMainThread).
func init() {
	if os.Getenv("NSUP_TEST_UNKEPT") == "" {
		executor.KeepMainThread()
	}
	// And its monitor thread calmed, as nsup apply does: every test's
	// processes then come from threads that must give them nsup's own
	// timer slack (TestRootTimerSlack).
	executor.CalmSysmon()
}

func TestMain(m *testing.M) {
	if executor.IsInit() {
		os.Exit(executor.RunInit())
	}
	if executor.IsKeeper() {
		if os.Getenv("NSUP_TEST_KEEPER_POLL") != "" {
			// The runtime's poller up before the keeper's own code, as
			// a timer of the runtime's (its scavenger's) may have it
			// (keeperfd_root_test.go).
			time.Sleep(time.Microsecond)
		}
		os.Exit(executor.RunKeeper(os.Stderr))
	}
	// And as a pod's holder: that process holds namespaces, and nothing
	// else.
	if executor.IsHolder() {
		os.Exit(executor.RunHolder())
	}
	if os.Getenv("NSUP_TEST_HELPER") == "apply" {
		os.Exit(helperApply())
	}
	code := m.Run()
	if probeBin != "" {
		os.RemoveAll(filepath.Dir(probeBin)) // secProbe's folder
	}
	os.Exit(code)
}

// helperApply applies the plan in the JSON file $NSUP_TEST_PLAN, as nsup
// apply does, pausing for good before step $NSUP_TEST_PAUSE ("ENV STEP")
// if set, and saying so on stderr: "nsup-test: paused ENV STEP"; step
// $NSUP_TEST_FAIL ("ENV STEP"), if set, fails.
func helperApply() int {
	b, err := os.ReadFile(os.Getenv("NSUP_TEST_PLAN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsup-test:", err)
		return 2
	}
	p, err := planner.Unmarshal(b)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsup-test:", err)
		return 2
	}
	opts := executor.Options{}
	if os.Getenv("NSUP_TEST_NOCLONE3") != "" {
		// As a host whose filter refuses clone3 (Docker's profile, gVisor).
		if err := refuseClone3(); err != nil {
			fmt.Fprintln(os.Stderr, "nsup-test:", err)
			return 2
		}
	}
	if pz := os.Getenv("NSUP_TEST_PAUSE"); pz != "" {
		var env string
		var step int
		fmt.Sscan(pz, &env, &step)
		opts = executor.PauseAt(opts, env, step, func(env string, step int) {
			fmt.Fprintf(os.Stderr, "nsup-test: paused %s %d\n", env, step)
		})
		if fifo := os.Getenv("NSUP_TEST_RESUME"); fifo != "" {
			opts = executor.ResumeFrom(opts, fifo)
		}
	}
	if fz := os.Getenv("NSUP_TEST_FAIL"); fz != "" {
		// "ENV STEP": that step fails with EPERM (FailAt).
		var env string
		var step int
		fmt.Sscan(fz, &env, &step)
		opts = executor.FailAt(opts, env, step, unix.EPERM)
	}
	st, err := executor.Apply(context.Background(), p, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsup-test:", err)
		return 1
	}
	return st
}

// requireRoot skips a root test without root, except under CI=true, where
// a test that cannot run is a failure.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root")
	}
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// ---- the host is sacred ----

// checkHost snapshots the host's mount table and nsup's state directory,
// and checks when the test ends that both are unchanged and that no
// process the test started is left: none in a mount or pid namespace other
// than the host's running a test executable, none running the test binary.
func checkHost(t *testing.T) {
	t.Helper()
	before := mountTable(t)
	state := stateDir()
	groups := nsupCgroups()
	ns := threadNS()
	pids := map[int]bool{}
	for _, p := range allPids() {
		pids[p] = true
	}
	t.Cleanup(func() {
		var problems []string
		for try := 0; try < 40; try++ { // up to 2 s for processes to finish dying
			problems = nil
			if after := mountTable(t); after != before {
				problems = append(problems, fmt.Sprintf("mount table changed:\n--- before\n%s--- after\n%s", before, after))
			}
			if s := stateDir(); s != state {
				problems = append(problems, fmt.Sprintf("/run/nsup changed: %q -> %q", state, s))
			}
			if g := nsupCgroups(); g != groups {
				problems = append(problems, fmt.Sprintf("nsup's cgroups changed: %q -> %q", groups, g))
			}
			if after := threadNS(); after != ns {
				problems = append(problems, fmt.Sprintf("the test process's namespaces changed:\n--- before\n%s--- after\n%s", ns, after))
			}
			for _, p := range allPids() {
				if !pids[p] {
					if why := leaked(p); why != "" {
						problems = append(problems, fmt.Sprintf("process %d left behind: %s", p, why))
					}
				}
			}
			if len(problems) == 0 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("the host is not as it was:\n%s", strings.Join(problems, "\n"))
	})
}

// mountTable is /proc/self/mountinfo without mount ids: root, mount point,
// options, fstype and source of each mount.
func mountTable(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 4 {
			out.WriteString(strings.Join(f[3:], " ") + "\n")
		}
	}
	return out.String()
}

// threadNS lists the namespaces of the test process's threads, each
// distinct one once: setns(2) and unshare(2) of Apply change a locked
// thread, which must end with its goroutine, never live on in another
// namespace.
func threadNS() string {
	seen := map[string]bool{}
	var out []string
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		ents, _ := os.ReadDir("/proc/self/task/" + task.Name() + "/ns")
		for _, e := range ents {
			l, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/" + e.Name())
			if err == nil && !seen[e.Name()+" "+l] {
				seen[e.Name()+" "+l] = true
				out = append(out, e.Name()+" "+l)
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n") + "\n"
}

func stateDir() string {
	if _, err := os.Stat("/run/nsup"); err != nil {
		return "(none)"
	}
	return strings.Join(dirNames("/run/nsup"), " ")
}

// dirNames is the names in the folder dir, none where it cannot be read.
func dirNames(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func allPids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, n)
		}
	}
	return out
}

var (
	trackedMu sync.Mutex
	// tracked are the executables tests run inside environments, by
	// device and inode: a process running one of them in a foreign
	// namespace is ours, whatever else runs on the machine.
	tracked = map[[2]uint64]string{}
)

func track(t *testing.T, path string) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	trackedMu.Lock()
	tracked[[2]uint64{st.Dev, st.Ino}] = path
	trackedMu.Unlock()
}

// leaked says why process pid is one of ours left behind, or "".
func leaked(pid int) string {
	var st syscall.Stat_t
	if syscall.Stat(fmt.Sprintf("/proc/%d/exe", pid), &st) != nil {
		return "" // gone, or a kernel thread
	}
	var self syscall.Stat_t
	if syscall.Stat("/proc/self/exe", &self) == nil && self.Dev == st.Dev && self.Ino == st.Ino {
		return "it runs the test binary (a child stage or init)"
	}
	trackedMu.Lock()
	exe, ok := tracked[[2]uint64{st.Dev, st.Ino}]
	trackedMu.Unlock()
	if !ok {
		return ""
	}
	for _, ns := range []string{"mnt", "pid"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		its, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err == nil && its != host {
			return fmt.Sprintf("it runs %s in another %s namespace (%s)", exe, ns, its)
		}
	}
	return ""
}

// ---- root trees ----

// busyboxRoot makes a root tree in dir/rootfs: /bin/busybox (static) and
// its applets as symlinks, and an /etc. It returns the tree's path.
func busyboxRoot(t *testing.T, dir string) string {
	t.Helper()
	bb := requireBusybox(t)
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, bb, filepath.Join(root, "bin", "busybox"), 0o755)
	track(t, filepath.Join(root, "bin", "busybox"))
	for _, a := range []string{"sh", "cat", "echo", "ls", "id", "env", "stat", "touch", "readlink",
		"sleep", "grep", "sed", "tr", "basename", "true", "false", "mkdir", "hostname", "head"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "nsup-marker"), []byte("inside\n"), 0o644)
	return root
}

func requireBusybox(t *testing.T) string {
	t.Helper()
	const bb = "/bin/busybox"
	out, err := exec.Command("file", "-L", bb).Output()
	if err != nil && os.Getenv("CI") != "true" {
		if _, serr := os.Stat(bb); serr != nil {
			skipOrFail(t, "needs busybox-static at /bin/busybox (apt-get install busybox-static)")
		}
	}
	if err == nil && !bytes.Contains(out, []byte("statically linked")) {
		skipOrFail(t, "/bin/busybox is not static (apt-get install busybox-static)")
	}
	if _, err := os.Stat(bb); err != nil {
		skipOrFail(t, "needs busybox-static at /bin/busybox")
	}
	return bb
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// ---- plans ----

// compile parses yaml as the spec file dir/test.yaml and plans it with the
// cache in dir/cache: the real spec → plan pipeline, as nsup apply runs it.
func compile(t *testing.T, dir, yaml string) *planner.Plan {
	t.Helper()
	s, err := spec.ParseBytesVars("test.yaml", dir, []byte(yaml), asWritten)
	if err != nil {
		t.Fatalf("spec:\n%v", err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatalf("plan:\n%v", err)
	}
	return p
}

// planText renders p for failure messages.
func planText(p *planner.Plan) string {
	var b strings.Builder
	planner.Render(&b, p)
	return b.String()
}

// syncBuffer is an io.Writer safe for concurrent writes (Apply copies
// stdout and stderr separately), readable while the environment runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run applies p with empty stdin and returns the status, stdout, stderr.
func run(t *testing.T, p *planner.Plan, opts executor.Options) (int, string, string, error) {
	t.Helper()
	var stdout, stderr syncBuffer
	opts.Stdin, opts.Stdout, opts.Stderr = strings.NewReader(""), &stdout, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := executor.Apply(ctx, p, opts)
	return st, stdout.String(), stderr.String(), err
}

// linesOf returns the lines of out prefixed with "LABEL | " (several
// processes writing), without the prefix.
func linesOf(out, label string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, label+" | "); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}

// runOK applies p and fails the test unless setup succeeds and the main
// process exits 0; it returns the environment's stdout.
func runOK(t *testing.T, p *planner.Plan) string {
	t.Helper()
	st, out, errOut, err := run(t, p, executor.Options{})
	if err != nil || st != 0 {
		t.Fatalf("apply: %d %v\n%s\n%s", st, err, errOut, planText(p))
	}
	return out
}

// sections splits probe output made of "== NAME" headers into NAME → lines.
func sections(out string) map[string][]string {
	m := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, "== "); ok {
			cur = name
			m[cur] = []string{}
			continue
		}
		if line != "" {
			m[cur] = append(m[cur], line)
		}
	}
	return m
}

// requireStaticSelf: the test binary is its own child stage, and one born
// in a joined mount namespace is executed in that namespace's root, where
// a dynamic loader may not exist. make test builds it static
// (CGO_ENABLED=0), as make build builds nsup.
func requireStaticSelf(t *testing.T) {
	t.Helper()
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			skipOrFail(t, "the test binary is dynamically linked: run the tests with CGO_ENABLED=0 (make test does)")
		}
	}
}

// planMountPoints are the mount points an environment's plan makes, in
// order, as /proc/self/mountinfo inside lists them: its root, then every
// mount inside it (the spec's, and the masked and read-only paths that
// this host has).
func planMountPoints(p *planner.Plan, env string) []string {
	pts := []string{"/"}
	for _, e := range p.Environments {
		if e.Name != env {
			continue
		}
		for _, st := range e.Steps {
			switch m := st.Op.(type) {
			case planner.Mount:
				if m.InRoot && m.Flags&syscall.MS_REMOUNT == 0 {
					pts = append(pts, m.Target)
				}
			case planner.EtcFile:
				// nsup's generated file, moved onto the rootfs's.
				pts = append(pts, m.Target)
			}
		}
	}
	return pts
}

// refuseClone3 loads, on every thread, a syscall filter that answers
// clone3 with ENOSYS and allows everything else.
func refuseClone3() error {
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // the syscall number
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_CLONE3},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return fmt.Errorf("seccomp: %w", e)
	}
	return nil
}

// nsupCgroups lists every nsup/ cgroup folder of the host's hierarchies
// and what is in it, to compare before and after a test.
func nsupCgroups() string {
	var out []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(p, "/sys/fs/cgroup"), "/") > 5 {
			return fs.SkipDir
		}
		if d.Name() == "nsup" {
			ents, _ := os.ReadDir(p)
			names := []string{}
			for _, e := range ents {
				if e.IsDir() {
					names = append(names, e.Name())
				}
			}
			out = append(out, p+"="+strings.Join(names, ","))
			return fs.SkipDir
		}
		return nil
	})
	return strings.Join(out, " ")
}

// asWritten parses the tests' specs as written: their shell commands use $
// freely, and interpolation is package spec's (tested there and through
// nsup's command line), not the executor's.
var asWritten = spec.Vars{Off: true}
