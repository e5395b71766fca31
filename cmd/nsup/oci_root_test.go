package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/spec"
)

// The same environment, three ways: each exportable example (and the
// specs that cover the rest of spec v1) runs under nsup apply, and,
// exported by nsup export, under runc run and crun run. The main process
// is replaced by a probe (testdata/ociprobe) in all three; what the probes
// report must be the same, except for the differences listed in
// ociExceptions, each with its reason.

// ociCase is one environment of a spec file, relative to cmd/nsup.
type ociCase struct {
	name, file, env string
}

var ociCases = []ociCase{
	{name: "hello", file: "../../examples/hello.yaml", env: "hello"},
	{name: "devbox", file: "../../examples/devbox.yaml", env: "devbox"},
	// pod.yaml's web joins db by name: refused (TestExportRefusesJoinByName).
	{name: "pod-db", file: "../../examples/pod.yaml", env: "db"},
	// Every other key: a joined net namespace (by path), domainname, cgroup
	// namespace, sysfs, mqueue, devpts, a readonly dev, binds, user, cwd,
	// env, init: false, a writable root.
	{name: "all", file: "../../planner/oci/testdata/specs/all.yaml", env: "all"},
	{name: "userns", file: "testdata/oci/userns.yaml", env: "userns"},
	{name: "time", file: "../../planner/oci/testdata/specs/time.yaml", env: "clocks"},
	// Every key of security changed, and rlimits: capabilities, a
	// profile of its own, masked and read-only paths, no_new_privs off;
	// then no filter, device nodes allowed, init: false.
	{name: "security-locked", file: "testdata/oci/security.yaml", env: "locked"},
	{name: "security-open", file: "testdata/oci/security.yaml", env: "open"},
}

// probeReport is what testdata/ociprobe prints.
type probeReport struct {
	Hostname    string            `json:"hostname"`
	Domainname  string            `json:"domainname"`
	PID         int               `json:"pid"`
	Status      map[string]string `json:"status"`
	Cwd         string            `json:"cwd"`
	Env         []string          `json:"env"`
	NS          map[string]string `json:"ns"`
	Mounts      []string          `json:"mounts"`
	Dev         []string          `json:"dev"`
	LoUp        bool              `json:"loUp"`
	TimeNS      string            `json:"timensOffsets"`
	Cgroup      string            `json:"cgroup"`
	Limits      string            `json:"limits"`
	StartLimits string            `json:"startLimits"`
	OOMScore    string            `json:"oomScoreAdj"`
	Syscalls    map[string]string `json:"syscalls"`
	Confined    map[string]string `json:"confined"`
	Identity    map[string]string `json:"identity"`
	Errors      []string          `json:"errors,omitempty"`
}

// confinement is what config.json masks and makes read-only (what nsup
// apply does too: export writes the plan's paths).
type confinement struct {
	MaskedPaths   []string `json:"maskedPaths"`
	ReadonlyPaths []string `json:"readonlyPaths"`
}

// ociRuntime runs a bundle; cmd returns the command for one container.
type ociRuntime struct {
	name string
	cmd  func(state, bundle, id string) *exec.Cmd
	// unsupported says why the runtime cannot run case c on this machine
	// ("" when it can); the case is then left out for it, with the reason
	// logged.
	unsupported func(c ociCase) string
	// knowsDomainname: runc before 1.2 reads runtime-spec 1.0 configs and
	// ignores domainname (a 1.1 field) without a word.
	knowsDomainname bool
}

func TestRootOCISameEnvironment(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	runtimes := ociRuntimes(t)
	bin := buildNsup(t)
	probe := buildProbe(t)
	cache := t.TempDir()
	// Namespaces of their own, joined by path by the "all" (net) and
	// "time" (uts) cases, whose specs name PID 1's.
	sleeper := exec.Command("unshare", "--net", "--uts", "sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	joinNet := fmt.Sprintf("/proc/%d/ns/net", sleeper.Process.Pid)
	joinUTS := fmt.Sprintf("/proc/%d/ns/uts", sleeper.Process.Pid)
	waitNewNet(t, joinNet)
	host := hostNamespaces(t, map[string]string{"net-joined": joinNet, "uts-joined": joinUTS})
	joins := map[string]string{"/proc/1/ns/net": joinNet, "/proc/1/ns/uts": joinUTS}

	for _, c := range ociCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file := variant(t, c, dir, probe, joins)
			nsupOut := runCmd(t, exec.Command(bin, "apply", file, c.env), "NSUP_CACHE_DIR="+cache)
			want := parseReport(t, "nsup apply", nsupOut)
			bundle := filepath.Join(dir, "bundle")
			if out, err := exec.Command(bin, "export", "--oci", bundle, file, c.env).CombinedOutput(); err != nil {
				t.Fatalf("export: %v\n%s", err, out)
			}
			cfg, err := os.ReadFile(filepath.Join(bundle, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := validateOCI(t, cfg); err != nil {
				t.Errorf("config.json is not valid runtime-spec: %v", err)
			}
			var cfgConf struct {
				Linux confinement `json:"linux"`
			}
			if err := json.Unmarshal(cfg, &cfgConf); err != nil {
				t.Fatal(err)
			}
			conf := cfgConf.Linux
			checkConfined(t, c, want, conf)
			// The offsets nsup applies are those config.json gives the
			// runtimes (which cannot run a time namespace here: see
			// ociRuntimes).
			if c.name == "time" {
				var cfgv struct {
					Linux struct {
						TimeOffsets map[string]struct {
							Secs     int64  `json:"secs"`
							Nanosecs uint32 `json:"nanosecs"`
						} `json:"timeOffsets"`
					} `json:"linux"`
				}
				json.Unmarshal(cfg, &cfgv)
				var lines []string
				for _, clock := range []string{"monotonic", "boottime"} {
					o := cfgv.Linux.TimeOffsets[clock]
					lines = append(lines, fmt.Sprintf("%s %d %d", clock, o.Secs, o.Nanosecs))
				}
				got := strings.Join(strings.Fields(want.TimeNS), " ")
				if w := strings.Join(lines, " "); got != w || w != "monotonic 3600 0 boottime -2 500000000" {
					t.Errorf("timens_offsets under nsup: %q; config.json: %q", got, w)
				}
			}
			for _, rt := range runtimes {
				if why := rt.unsupported(c); why != "" {
					t.Logf("%s: not run under %s: %s", c.name, rt.name, why)
					continue
				}
				id := fmt.Sprintf("nsup-oci-%d-%s-%s", os.Getpid(), c.name, rt.name)
				state := filepath.Join(dir, rt.name+"-state")
				t.Run(rt.name, func(t *testing.T) {
					defer cleanupContainer(t, rt, state, id)
					out := runCmd(t, rt.cmd(state, bundle, id))
					got := parseReport(t, rt.name, out)
					w, g := comparable(t, c, rt, host, conf, want), comparable(t, c, rt, host, conf, got)
					if d := cmp.Diff(w, g); d != "" {
						t.Errorf("%s differs from nsup apply (-nsup +%s):\n%s", rt.name, rt.name, d)
					}
				})
			}
			// The comparison can fail: a bundle without its last mount,
			// with another hostname, without its filter, its masked paths,
			// its limits and no_new_privs does not pass for the same.
			if c.name == "hello" {
				var m map[string]any
				dec := json.NewDecoder(bytes.NewReader(cfg))
				dec.UseNumber() // RLIM_INFINITY is no float64
				if err := dec.Decode(&m); err != nil {
					t.Fatal(err)
				}
				ms := m["mounts"].([]any)
				m["mounts"], m["hostname"] = ms[:len(ms)-1], "tampered"
				linux, process := m["linux"].(map[string]any), m["process"].(map[string]any)
				delete(linux, "seccomp")
				delete(linux, "maskedPaths")
				delete(process, "rlimits")
				delete(process, "noNewPrivileges")
				b, _ := json.Marshal(m)
				os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)
				rt := runtimes[0]
				id := fmt.Sprintf("nsup-oci-%d-tampered", os.Getpid())
				state := filepath.Join(dir, "tampered-state")
				func() {
					defer cleanupContainer(t, rt, state, id)
					got := parseReport(t, rt.name, runCmd(t, rt.cmd(state, bundle, id)))
					w, g := comparable(t, c, rt, host, conf, want), comparable(t, c, rt, host, conf, got)
					if w.Hostname == g.Hostname || len(w.Mounts) == len(g.Mounts) {
						t.Errorf("a tampered bundle compares the same: %s\n%v", g.Hostname, g.Mounts)
					}
					for what, same := range map[string]bool{
						"seccomp":      cmp.Equal(w.Syscalls, g.Syscalls) || w.Status["Seccomp"] == g.Status["Seccomp"],
						"masked paths": cmp.Equal(w.Confined, g.Confined) || cmp.Equal(w.ConfineMounts, g.ConfineMounts),
						"rlimits":      w.StartLimits == g.StartLimits,
						"no_new_privs": w.Status["NoNewPrivs"] == g.Status["NoNewPrivs"],
					} {
						if same {
							t.Errorf("a bundle without its %s compares the same", what)
						}
					}
				}()
			}
		})
	}
}

// ociRuntimes finds runc and crun, and what each cannot do here.
func ociRuntimes(t *testing.T) []ociRuntime {
	var out []ociRuntime
	for _, name := range []string{"runc", "crun"} {
		if _, err := exec.LookPath(name); err != nil {
			skipOrFail(t, name+" is not installed (apt-get install runc crun; .ci/run does)")
		}
	}
	// runc says what it knows (runc features, since 1.1).
	var feat struct {
		OCIVersionMax string `json:"ociVersionMax"`
		Linux         struct {
			Namespaces []string `json:"namespaces"`
		} `json:"linux"`
	}
	if b, err := exec.Command("runc", "features").Output(); err != nil || json.Unmarshal(b, &feat) != nil {
		t.Fatalf("runc features: %v", err)
	}
	runcTime := strings.Contains(strings.Join(feat.Linux.Namespaces, " "), "time")
	out = append(out, ociRuntime{
		name: "runc",
		cmd: func(state, bundle, id string) *exec.Cmd {
			return exec.Command("runc", "--root", state, "run", "--bundle", bundle, id)
		},
		unsupported: func(c ociCase) string {
			if c.name == "time" && !runcTime {
				return "runc features lists no time namespace (runc < 1.2 refuses the config)"
			}
			return ""
		},
		knowsDomainname: !strings.HasPrefix(feat.OCIVersionMax, "1.0."),
	})
	// crun before 1.9 has no features command.
	_, crunFeatErr := exec.Command("crun", "features").Output()
	out = append(out, ociRuntime{
		name: "crun",
		cmd:  crunCmd,
		unsupported: func(c ociCase) string {
			if c.name == "time" && crunFeatErr != nil {
				return "crun < 1.9 fails to start a container with a time namespace in a new pid namespace ('write to sync socket': it forks the container's PID 1 after unshare(CLONE_NEWTIME), and that child is not PID 1)"
			}
			return ""
		},
		knowsDomainname: true,
	})
	return out
}

// crunCmd runs crun in a private mount namespace: crun 1.8 refuses a host
// with hybrid cgroups whose cgroup2 root lists controllers, even with
// --cgroup-manager=disabled (../shared/bench/README.md). There, and only
// there, /sys/fs/cgroup/unified is covered by an empty tmpfs, so crun sees
// plain cgroup v1. The host's mount table is untouched.
func crunCmd(state, bundle, id string) *exec.Cmd {
	const script = `set -e
if [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] &&
   [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
   [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  umount /sys/fs/cgroup/unified
  mount -t tmpfs -o size=64k,mode=755 nsup-oci-hide /sys/fs/cgroup/unified
fi
exec crun --root "$1" run --bundle "$2" "$3"`
	return exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", state, bundle, id)
}

// cleanupContainer deletes the container if the runtime left it, and
// checks that no cgroup of it is left on the host (runc and crun make one
// per container, under every hierarchy).
func cleanupContainer(t *testing.T, rt ociRuntime, state, id string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(state, id)); err == nil {
		t.Errorf("%s left its container state %s behind", rt.name, id)
		exec.Command(rt.name, "--root", state, "delete", "--force", id).Run()
	}
	var left []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(p, "/sys/fs/cgroup"), "/") > 4 {
			return filepath.SkipDir
		}
		if d.Name() == id {
			left = append(left, p)
			return filepath.SkipDir
		}
		return nil
	})
	for _, p := range left {
		t.Errorf("%s left cgroup %s behind (removed)", rt.name, p)
		os.Remove(p)
	}
}

func runCmd(t *testing.T, cmd *exec.Cmd, env ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, out.String(), errb.String())
	}
	return out.Bytes()
}

func parseReport(t *testing.T, who string, out []byte) probeReport {
	t.Helper()
	var r probeReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%s: the probe's report: %v\n%s", who, err, out)
	}
	if len(r.Errors) > 0 {
		t.Errorf("%s: the probe could not look at everything: %v", who, r.Errors)
	}
	return r
}

// buildProbe builds testdata/ociprobe into a folder of /var/tmp: the
// probe joins each closure with its host path, and /tmp is a mount target
// of hello.yaml, which would hide it.
func buildProbe(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "nsup-oci-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The closure keeps the folder's mode: a process running as another
	// user than root (all.yaml) must reach the probe.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(dir, "probe")
	cmd := exec.Command("go", "build", "-o", probe, "./testdata/ociprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build probe: %v\n%s", err, out)
	}
	return probe
}

// variant writes case c's spec with only its environment, the probe added
// to the closure and run as the main process (the first process keeps
// its name, env, cwd and user; its children and the other processes go),
// relative paths made absolute, and the replacements made.
func variant(t *testing.T, c ociCase, dir, probe string, replace map[string]string) string {
	t.Helper()
	src, err := os.ReadFile(c.file)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := filepath.Abs(filepath.Dir(c.file))
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	abs := func(n *yaml.Node) {
		if n != nil && n.Kind == yaml.ScalarNode && !filepath.IsAbs(n.Value) {
			n.Value = filepath.Join(base, n.Value)
		}
		if n != nil {
			if r, ok := replace[n.Value]; ok {
				n.Value = r
			}
		}
	}
	envs := get(doc.Content[0], "environments")
	var keep []*yaml.Node
	for i := 0; i < len(envs.Content); i += 2 {
		if envs.Content[i].Value == c.env {
			keep = envs.Content[i : i+2]
		}
	}
	if keep == nil {
		t.Fatalf("%s: no environment %s", c.file, c.env)
	}
	envs.Content = keep
	e := keep[1]
	rootfs := get(e, "rootfs")
	abs(get(rootfs, "dir"))
	abs(get(rootfs, "tar"))
	cl := get(rootfs, "closure")
	if cl == nil {
		t.Fatalf("%s: the probe needs a closure rootfs", c.file)
	}
	for _, n := range cl.Content {
		abs(n)
	}
	cl.Content = append(cl.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: probe})
	if j := get(e, "join"); j != nil {
		for i := 1; i < len(j.Content); i += 2 {
			abs(j.Content[i])
		}
	}
	if ms := get(e, "mounts"); ms != nil {
		for _, m := range ms.Content {
			abs(get(m, "source"))
		}
	}
	if sc := get(get(e, "security"), "seccomp"); sc != nil && sc.Value != "default" && sc.Value != "unconfined" {
		abs(sc)
	}
	ps := get(e, "processes")
	main := ps.Content[0]
	ps.Content = ps.Content[:1]
	for i := 0; i < len(main.Content); i += 2 {
		switch main.Content[i].Value {
		case "command":
			main.Content[i+1] = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: probe}}}
		case "children":
			main.Content = append(main.Content[:i], main.Content[i+2:]...)
			i -= 2
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, c.name+".yaml")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// get is the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// waitNewNet waits until the sleeper is in its own network namespace
// (unshare has run): joining it earlier would join the host's.
func waitNewNet(t *testing.T, p string) {
	t.Helper()
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; i < 200; i++ {
		if l, err := os.Readlink(p); err == nil && l != hostNet {
			b, _ := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(p)), "comm"))
			if strings.TrimSpace(string(b)) == "sleep" {
				return
			}
		}
		sleepMs(10)
	}
	t.Fatalf("%s: no network namespace of its own", p)
}

// hostNamespaces maps each namespace inode of the host (this test) to
// "host"; extra names a namespace file by what it is ("net-joined").
func hostNamespaces(t *testing.T, extra map[string]string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, ty := range []string{"mnt", "pid", "net", "ipc", "uts", "cgroup", "user", "time"} {
		l, err := os.Readlink("/proc/self/ns/" + ty)
		if err != nil {
			t.Fatal(err)
		}
		m[l] = "host"
	}
	for name, p := range extra {
		l, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		m[l] = name
	}
	return m
}

// ociView is the part of a report that must be the same.
type ociView struct {
	Hostname, Domainname string
	PID1                 bool
	Status               map[string]string
	Cwd                  string
	Env                  []string
	// NS says, for each type, "host", "new" or what was joined.
	NS     map[string]string
	Mounts []string
	Dev    []string
	LoUp   bool
	TimeNS string
	// Limits are the probe's own, after the Go runtime raised its soft
	// RLIMIT_NOFILE; StartLimits those it was started with.
	Limits, StartLimits string
	OOMScore            string
	// Syscalls and Confined: what the seccomp filter returns, what the
	// masked paths read and whether the read-only paths may be written.
	Syscalls map[string]string
	Confined map[string]string
	// ConfineMounts are the mounts of the masked and read-only paths.
	ConfineMounts []string
	// Identity are /etc/passwd and /etc/group as read inside.
	Identity map[string]string
}

// comparable is r with the documented differences taken out: each rule
// below names what differs between nsup and OCI runtimes, and why.
func comparable(t *testing.T, c ociCase, rt ociRuntime, host map[string]string, conf confinement, r probeReport) ociView {
	v := ociView{Hostname: r.Hostname, Domainname: r.Domainname, PID1: r.PID == 1, Status: r.Status, Cwd: r.Cwd,
		Env: r.Env, NS: map[string]string{}, Mounts: append([]string(nil), r.Mounts...), Dev: r.Dev, LoUp: r.LoUp, TimeNS: r.TimeNS,
		Limits: r.Limits, StartLimits: r.StartLimits, OOMScore: r.OOMScore, Syscalls: r.Syscalls, Confined: r.Confined, Identity: r.Identity}
	for ty, l := range r.NS {
		if h, ok := host[l]; ok {
			v.NS[ty] = h
		} else {
			v.NS[ty] = "new"
		}
	}
	s, err := spec.Parse(c.file)
	if err != nil {
		t.Fatal(err)
	}
	e := s.Env(c.env)
	hasDev := false
	for _, m := range e.Mounts {
		hasDev = hasDev || m.Type == spec.MountDev
	}
	// 1. OCI has no init: the runtime's process is PID 1. nsup's init is
	// PID 1 unless init: false (export says so, as a translation).
	if e.Init == nil || e.Init.Value {
		v.PID1 = true
	}
	// 2. nsup's /etc/passwd and /etc/group, where the rootfs lacks them
	// or lacks a user, are files of a tmpfs moved onto the rootfs's;
	// export writes the same files into the bundle's rootfs. Their
	// content is compared (Identity), not how they got there. (HOME is
	// compared too: nsup sets it from that passwd, as runc and crun do.)
	v.Mounts = without(v.Mounts, func(s string) bool {
		f := strings.Fields(s)
		return len(f) > 1 && (f[0] == "/etc/passwd" || f[0] == "/etc/group") && f[1] == "tmpfs"
	})
	// 3. Without a `type: dev` mount, nsup's environment has no /dev, while
	// OCI runtimes always create the default devices and links in the
	// rootfs's /dev (runtime-spec config-linux.md, "Default Devices").
	// With one, the listings must match, but crun adds /dev/core, a link
	// to /proc/kcore.
	if !hasDev {
		v.Dev = nil
	}
	v.Dev = without(v.Dev, func(s string) bool { return strings.HasPrefix(s, "core ") && strings.HasSuffix(s, " -> /proc/kcore") })
	// 4. cgroup membership is not compared: runc and crun put the
	// container in a cgroup of its own; nsup creates none (export writes
	// no linux.resources). Namespaces, mounts and identity are.
	// 5. An overlay root is translated into a writable copy of the tree
	// (export says so): "/" is the bundle's filesystem, not overlayfs;
	// both are read-write.
	if e.Rootfs.Overlay {
		for i, m := range v.Mounts {
			if f := strings.Fields(m); len(f) > 3 && f[0] == "/" {
				v.Mounts[i] = "/ (root, writable: " + fmt.Sprint(strings.HasPrefix(f[3], "rw")) + ")"
			}
		}
	}
	// 6. runc < 1.2 knows runtime-spec 1.0 only and ignores domainname.
	if !rt.knowsDomainname {
		v.Domainname = "(not compared: " + rt.name + " ignores domainname)"
	}
	// 7. The read-only flag of sysfs's superblock is not compared: crun
	// mounts sysfs read-write and then makes the mount read-only, where
	// nsup and runc pass MS_RDONLY to mount(2); and every sysfs mount of
	// a network namespace shares one superblock, so its flag is the first
	// mount's. The mount's own flag (what the environment can do) is
	// compared.
	for i, m := range v.Mounts {
		if f := strings.Fields(m); len(f) == 6 && f[1] == "sysfs" {
			f[4] = strings.TrimPrefix(strings.TrimPrefix(f[4], "ro"), "rw")
			v.Mounts[i] = strings.Join(f, " ")
		}
	}
	// For the same reason, access(W_OK) on what sysfs shows fails with
	// EROFS where the superblock is read-only (the kernel checks it
	// first), and with EACCES (a process that may not write it anyway)
	// or EROFS (the mount's flag, checked last) where only the mount
	// is: both refuse the write, which is what is compared.
	v.Confined = map[string]string{}
	for p, s := range r.Confined {
		if strings.HasPrefix(p, "/sys/") {
			s = strings.NewReplacer(" write=EROFS", " write=refused", " write=EACCES", " write=refused").Replace(s)
		}
		v.Confined[p] = s
	}
	// 8. In a new user namespace the runtime binds the default devices
	// itself (it cannot mknod them), after the config's mounts; export
	// leaves them out (runc fails on a second bind of /dev/tty), crun
	// binds them nosuid,noexec, and both read-write, where nsup binds
	// them read-only (helper-94's review: outside a user namespace root
	// inside would chmod the host's node; in one it owns none, so either
	// way holds). They are compared as a set, without those three flags.
	if v.NS["user"] == "new" {
		var devs []string
		rest := v.Mounts[:0:0]
		for _, m := range v.Mounts {
			f := strings.Fields(m)
			switch f[0] {
			case "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty":
				f[3] = strings.NewReplacer(",nosuid", "", ",noexec", "").Replace(strings.TrimPrefix(strings.TrimPrefix(f[3], "ro"), "rw"))
				devs = append(devs, strings.Join(f, " "))
			default:
				rest = append(rest, m)
			}
		}
		sort.Strings(devs)
		v.Mounts = append(rest, devs...)
	}
	// 9. The root is nodev under nsup (unless rootfs.dev), and OCI has no
	// option for the root's flags: runtimes mount it without (export
	// says so, as not honoured).
	if !e.Rootfs.Dev && !e.Rootfs.Overlay {
		for i, m := range v.Mounts {
			if f := strings.Fields(m); len(f) > 3 && f[0] == "/" {
				f[3] = strings.Join(without(strings.Split(f[3], ","), func(o string) bool { return o == "nodev" }), ",")
				v.Mounts[i] = strings.Join(f, " ")
			}
		}
	}
	// 10. The mounts of the masked and read-only paths are compared as a
	// set, by what they do (what the paths read and whether they can be
	// written is compared as it is, in Confined):
	//   - the order differs: nsup confines a path right after the mount
	//     that holds it (so that no later mount of the spec is hidden
	//     by it), runc after every mount (read-only paths, then masked),
	//     crun after every mount (masked, then read-only);
	//   - a masked folder is an empty read-only tmpfs, nosuid, nodev and
	//     noexec under nsup, with none of those three under runc and crun
	//     (crun's with size=0k); a masked file is /dev/null bound over it,
	//     the host's under nsup, the container's under runc (a node it
	//     made in /dev, or in the rootfs's /dev when there is no /dev
	//     mount), and crun remounts it read-only: its filesystem, source
	//     and flags differ, and are left out (reading gives nothing either
	//     way);
	//   - crun makes a read-only path read-only by a remount with
	//     MS_RDONLY alone, which clears the nosuid, nodev and noexec the
	//     bind had from /proc (there is nothing in /proc/sys to execute,
	//     nor a device node); nsup and runc keep them. Only "ro" is
	//     compared.
	// Each is the last mount at its path (it covers whatever was there:
	// the bind of /etc/profile.json that security.yaml masks).
	last := map[string]int{}
	for i, m := range v.Mounts {
		last[strings.Fields(m)[0]] = i
	}
	drop := map[int]bool{}
	for _, p := range conf.MaskedPaths {
		if i, ok := last[p]; ok {
			drop[i] = true
			v.ConfineMounts = append(v.ConfineMounts, p+" masked")
		}
	}
	for _, p := range conf.ReadonlyPaths {
		if i, ok := last[p]; ok {
			f := strings.Fields(v.Mounts[i])
			ro := "rw"
			if strings.HasPrefix(f[3], "ro,") || f[3] == "ro" {
				ro = "ro"
			}
			drop[i] = true
			v.ConfineMounts = append(v.ConfineMounts, strings.Join([]string{p, f[1], f[2], ro, "read-only path"}, " "))
		}
	}
	var rest []string
	for i, m := range v.Mounts {
		if !drop[i] {
			rest = append(rest, m)
		}
	}
	v.Mounts = rest
	sort.Strings(v.ConfineMounts)
	return v
}

// checkConfined checks what nsup apply's probe saw of the masked and
// read-only paths of config.json (the runtimes' probes are compared with
// nsup's): every masked path reads empty, and every read-only path
// refuses a write with EROFS, or EACCES for a process of another uid
// than 0, which may not write there anyway (/proc/sys is looked at
// through a file of it: procfs refuses a write to its folders first).
// Under nsup's default filter, keyctl and a new user namespace are
// refused (EPERM).
func checkConfined(t *testing.T, c ociCase, r probeReport, conf confinement) {
	t.Helper()
	look := func(p string) string {
		if p == "/proc/sys" {
			p = "/proc/sys/kernel/domainname"
		}
		got, ok := r.Confined[p]
		if !ok {
			t.Errorf("the probe does not look at %s: add it to its confinedPaths", p)
		}
		return got
	}
	for _, p := range conf.MaskedPaths {
		if got := look(p); !strings.HasPrefix(got, "read=empty ") {
			t.Errorf("masked %s under nsup: %s", p, got)
		}
	}
	for _, p := range conf.ReadonlyPaths {
		got := look(p)
		if !strings.HasSuffix(got, " write=EROFS") && !(r.Status["Uid"] != "0 0 0 0" && strings.HasSuffix(got, " write=EACCES")) {
			t.Errorf("read-only %s under nsup: %s", p, got)
		}
	}
	// keyctl, unshare(CLONE_NEWUSER), Seccomp and NoNewPrivs of
	// /proc/self/status.
	want, ok := map[string][4]string{
		// Docker's default profile denies both.
		"hello": {"EPERM", "EPERM", "2", "1"},
		// Its own profile: keyctl ENOSYS, unshare EPERM; no_new_privs off.
		"security-locked": {"ENOSYS", "EPERM", "2", "0"},
		// unconfined, without a user namespace: a filter of the keyring
		// calls and of new user namespaces only (root inside is the
		// host's root).
		"security-open": {"EPERM", "EPERM", "2", "1"},
	}[c.name]
	got := [4]string{r.Syscalls["keyctl(KEYCTL_GET_KEYRING_ID)"], r.Syscalls["unshare(CLONE_NEWUSER)"], r.Status["Seccomp"], r.Status["NoNewPrivs"]}
	if ok && got != want {
		t.Errorf("keyctl, unshare(CLONE_NEWUSER), Seccomp, NoNewPrivs under nsup: %q, want %q", got, want)
	}
}

func without(ss []string, drop func(string) bool) []string {
	var out []string
	for _, s := range ss {
		if !drop(s) {
			out = append(out, s)
		}
	}
	return out
}
