package kube

import (
	"bytes"
	"errors"
	"flag"
	goldenfile "github.com/nsup/nsup/internal/golden"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func repoRoot(t testing.TB) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// parse parses file (relative to the repository) with no variables from
// the caller, naming it as given so that the notes do not depend on
// where the repository is.
func parse(t testing.TB, file string) *spec.Spec {
	t.Helper()
	s, err := spec.ParseVars(filepath.Join(repoRoot(t), file), spec.Vars{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	s.File = file
	return s
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	goldenfile.Check(t, file, got, *update)
}

func notesText(ns []Note) string {
	var b strings.Builder
	for _, n := range ns {
		b.WriteString(n.String() + "\n")
	}
	return b.String()
}

// exportCases are specs (relative to the repository) and the golden
// files of their manifests, testdata/export/NAME.kube.yaml and .notes.
var exportCases = []struct{ name, file string }{
	{"pod", "examples/pod.yaml"},
	{"compose", "examples/compose.yaml"},
	{"health", "examples/health.yaml"},
	{"hello", "examples/hello.yaml"},
	{"devbox", "examples/devbox.yaml"},
	// Every key of spec v1.
	{"all", "planner/kube/testdata/specs/all.yaml"},
}

// TestExport compares each manifest and its notes with the golden files,
// decodes it strictly into k8s.io/api's types and checks it as the API
// server would.
func TestExport(t *testing.T) {
	root := repoRoot(t)
	for _, c := range exportCases {
		t.Run(c.name, func(t *testing.T) {
			s := parse(t, c.file)
			y, notes, err := Export(s, nil, nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "testdata/export/"+c.name+".kube.yaml", strings.ReplaceAll(string(y), root, "$REPO"))
			golden(t, "testdata/export/"+c.name+".notes", strings.ReplaceAll(notesText(notes), root, "$REPO"))
			pods, _ := validateManifest(t, y)
			// One container per environment, named after it.
			var containers []string
			for _, p := range pods {
				for _, c := range p.Spec.Containers {
					containers = append(containers, c.Name)
				}
			}
			var envs []string
			for _, e := range s.Environments {
				envs = append(envs, e.Name)
			}
			slices.Sort(containers)
			slices.Sort(envs)
			if !slices.Equal(containers, envs) {
				t.Errorf("containers %v, want the environments %v", containers, envs)
			}
			checkNotePositions(t, filepath.Join(root, c.file), notes)
		})
	}
}

// checkNotePositions: every note is at a place of the file whose line,
// or the line above (a key whose value is a block below it), names one
// of the key's last words; a note on a list item is at the item; one on
// a default (init) at the processes key.
func checkNotePositions(t *testing.T, file string, notes []Note) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for _, n := range notes {
		if n.Pos.Line < 1 || n.Pos.Line > len(lines) || n.Pos.Col < 1 || n.Pos.Col > len(lines[n.Pos.Line-1])+1 {
			t.Errorf("%s: not a place of %s", n, file)
			continue
		}
		line := lines[n.Pos.Line-1]
		above := ""
		if n.Pos.Line > 1 {
			above = lines[n.Pos.Line-2]
		}
		var words []string
		for _, seg := range strings.Split(n.Key, ".") {
			if i := strings.IndexByte(seg, '['); i >= 0 {
				seg = seg[:i]
			}
			words = append(words, seg)
		}
		if words[len(words)-1] == "init" {
			words = append(words, "processes")
		}
		// A note on a list item, or on a key the item lacks, is at the item.
		parent := n.Key[:max(0, strings.LastIndexByte(n.Key, '.'))]
		item := strings.HasSuffix(n.Key, "]") || strings.HasSuffix(parent, "]")
		found := item && strings.HasPrefix(strings.TrimSpace(line), "- ")
		for _, w := range words[max(0, len(words)-3):] {
			found = found || strings.Contains(line, w) || strings.Contains(above, w+":")
		}
		if !found {
			t.Errorf("%s: line %d (%q) names none of the key's last words", n, n.Pos.Line, line)
		}
	}
}

// TestExportDeterministic: the same spec, parsed twice, gives the same
// bytes and notes (maps are written sorted, nothing depends on Go's
// map order), many times over.
func TestExportDeterministic(t *testing.T) {
	for _, c := range exportCases {
		first, firstNotes, err := Export(parse(t, c.file), nil, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			again, notes, err := Export(parse(t, c.file), nil, nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, again) || notesText(firstNotes) != notesText(notes) {
				t.Fatalf("%s: two exports differ:\n%s", c.name, cmp.Diff(string(first), string(again)))
			}
		}
	}
}

// TestExportEveryKeyNoted: each key of all.yaml that has no exact
// equivalent in a Pod has a note (the golden file pins their words; this
// list says which must be there).
func TestExportEveryKeyNoted(t *testing.T) {
	_, notes, err := Export(parse(t, "planner/kube/testdata/specs/all.yaml"), nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, n := range notes {
		keys[n.Key] = true
	}
	for _, k := range []string{
		"volumes.data", "volumes.data.mode", "volumes.data.owner", "volumes.cache",
		"environments.app.rootfs.dev",
		"environments.app.namespaces", // time
		"environments.app.domainname", "environments.app.idmap", "environments.app.time",
		"environments.app.mounts[1]", "environments.app.mounts[4]", "environments.app.mounts[10]",
		"environments.app.mounts[5].mode", "environments.app.mounts[5].options",
		"environments.app.mounts[6]", "environments.app.mounts[6].recursive", "environments.app.mounts[7]",
		"environments.app.env.PRICE",
		"environments.app.init",
		"environments.app.security.seccomp", "environments.app.security.masked_paths",
		"environments.app.security.readonly_paths", "environments.app.security.no_new_privileges",
		"environments.app.rlimits.nofile", "environments.app.rlimits.core",
		"environments.app.limits.memory_swap", "environments.app.limits.pids",
		"environments.app.limits.cpu_weight", "environments.app.limits.io_weight",
		"environments.app.net.host_loopback",
		"environments.app.processes[0].stop_timeout", "environments.app.processes[0].restart",
		"environments.app.processes[0].rlimits.nofile",
		"environments.app.processes[0].healthcheck", "environments.app.processes[0].healthcheck.interval",
		"environments.app.processes[0].healthcheck.start_period",
		"environments.app.processes[0].children[0]", "environments.app.processes[1]",
		"environments.side.namespaces", // its own uts, with its hostname
		"environments.side.join.time", "environments.side.net.dns", "environments.side.depends_on.app",
		"environments.side.processes[0].restart",
		"environments.peer.namespaces", "environments.peer.join.cgroup", "environments.peer.processes[0]",
		"environments.hosty.rootfs.host", "environments.hosty.depends_on.app",
	} {
		if !keys[k] {
			t.Errorf("no note for %s", k)
		}
	}
}

// TestExportPlan: a plan of the spec changes nothing (the values are the
// spec's, with the planner's defaults); a plan of another spec is
// refused.
func TestExportPlan(t *testing.T) {
	s := parse(t, "examples/pod.yaml")
	p, err := planner.Compile(s, planner.Options{
		CacheDir: t.TempDir(),
		Closure:  fakeClosure,
		Caller:   &planner.Caller{Privileged: true},
		Seccomp: func(string, []string) (*specs.LinuxSeccomp, error) {
			return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, nil
		},
		HostPath: func(string) (bool, bool) { return true, true },
		Cgroups: func() (*cgroup.Layout, error) {
			return cgroup.Discover(os.DirFS(filepath.Join(repoRoot(t), "planner/cgroup/testdata/v2-delegated")))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	with, _, err := Export(s, p, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	without, _, err := Export(s, nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(with, without) {
		t.Errorf("with a plan:\n%s", cmp.Diff(string(without), string(with)))
	}
	p.SpecDigest = "sha256:0000"
	if _, _, err := Export(s, p, nil, Options{}); err == nil || !strings.Contains(err.Error(), "another version of the spec") {
		t.Errorf("a plan of another spec: %v", err)
	}
}

// fakeClosure: a closure of the named files alone, none of this host's.
func fakeClosure(paths []string) ([]planner.File, error) {
	var out []planner.File
	seen := map[string]bool{}
	for _, p := range paths {
		for d := filepath.Dir(p); d != "/" && !seen[d]; d = filepath.Dir(d) {
			seen[d] = true
			out = append(out, planner.File{Path: d, Type: "dir", Mode: 0o755})
		}
		out = append(out, planner.File{Path: p, Type: "file", Mode: 0o755, Source: p, Size: 1, Digest: "sha256:00"})
	}
	slices.SortFunc(out, func(a, b planner.File) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// TestExportSelect: environments asked for bring what they join or
// depend on; an unknown one is an error.
func TestExportSelect(t *testing.T) {
	for _, c := range []struct {
		file string
		envs []string
		pods []string
	}{
		{"examples/pod.yaml", []string{"web"}, []string{"db"}},
		{"examples/pod.yaml", []string{"db"}, []string{"db"}},
		{"examples/health.yaml", []string{"web"}, []string{"db", "web"}},
		{"examples/health.yaml", []string{"db"}, []string{"db"}},
	} {
		y, _, err := Export(parse(t, c.file), nil, c.envs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		pods, _ := validateManifest(t, y)
		var names []string
		for _, p := range pods {
			names = append(names, p.Name)
		}
		if !slices.Equal(names, c.pods) {
			t.Errorf("%s %v: Pods %v, want %v", c.file, c.envs, names, c.pods)
		}
	}
	// db alone: web is not in its Pod.
	y, _, _ := Export(parse(t, "examples/pod.yaml"), nil, []string{"db"}, Options{})
	if pods, _ := validateManifest(t, y); len(pods) != 1 || len(pods[0].Spec.Containers) != 1 {
		t.Errorf("db alone: %s", y)
	}
	if _, _, err := Export(parse(t, "examples/pod.yaml"), nil, []string{"nope"}, Options{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown environment: %v", err)
	}
}

// TestExportImage: Options.Image names the images, and the pull policy
// follows: a local image is never pulled.
func TestExportImage(t *testing.T) {
	s := parse(t, "examples/pod.yaml")
	y, _, err := Export(s, nil, nil, Options{Image: func(env string) string { return "registry.example/team/" + env + ":v1" }})
	if err != nil {
		t.Fatal(err)
	}
	pods, _ := validateManifest(t, y)
	for _, c := range pods[0].Spec.Containers {
		if c.Image != "registry.example/team/"+c.Name+":v1" || c.ImagePullPolicy != "IfNotPresent" {
			t.Errorf("%s: image %s, %s", c.Name, c.Image, c.ImagePullPolicy)
		}
	}
	y, _, _ = Export(s, nil, nil, Options{})
	pods, _ = validateManifest(t, y)
	for _, c := range pods[0].Spec.Containers {
		if c.Image != DefaultImage("examples", c.Name) || c.ImagePullPolicy != "Never" {
			t.Errorf("%s: image %s, %s", c.Name, c.Image, c.ImagePullPolicy)
		}
	}
	if got := DefaultImage("proj", "web"); got != "localhost/nsup/proj/web:latest" {
		t.Errorf("DefaultImage: %s", got)
	}
}

// exportInline exports a spec given as text.
func exportInline(t *testing.T, text string) ([]byte, []Note) {
	t.Helper()
	s, err := spec.ParseBytesVars("inline.yaml", "/tmp", []byte(text), spec.Vars{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	y, notes, err := Export(s, nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	validateManifest(t, y)
	return y, notes
}

// TestExportHostNetwork: a Pod on the host's network has no ports, name
// servers or hosts of its own, even where a container had its own
// network namespace.
func TestExportHostNetwork(t *testing.T) {
	y, notes := exportInline(t, `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, net]
    join: {pid: a}
    net: {network: user, ports: ["8080:80"], dns: [192.0.2.1], hosts: {x: 10.0.0.1}}
    env: {"CAF\u00c9": "1"}
    processes: [{name: main, command: [/bin/sh]}]
`)
	pods, _ := validateManifest(t, y)
	if len(pods) != 1 || !pods[0].Spec.HostNetwork || pods[0].Spec.DNSConfig != nil || len(pods[0].Spec.HostAliases) > 0 || len(pods[0].Spec.Containers[1].Ports) > 0 {
		t.Errorf("manifest:\n%s", y)
	}
	text := notesText(notes)
	for _, want := range []string{"inline.yaml:11:5: environments.b.net: not carried: the Pod is on the host's network",
		"inline.yaml:9:23: environments.b.namespaces: translated: the container gets the host's net namespace, not its own",
		"inline.yaml:12:11: environments.b.env.CAF\u00c9: not carried: Kubernetes takes variable names of printable ASCII only"} {
		if !strings.Contains(text, want) {
			t.Errorf("no note %q in:\n%s", want, text)
		}
	}
}

// TestExportRefusedCombinations: what Kubernetes would refuse is not
// written: hostUsers: false beside a host namespace, ids above
// 2147483647, allowPrivilegeEscalation: false with CAP_SYS_ADMIN, a
// hostname that is no DNS label.
func TestExportRefusedCombinations(t *testing.T) {
	y, notes := exportInline(t, `version: 1
environments:
  a:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid, user, uts]
    user: "3000000000:3000000000"
    idmap:
      uid: [{inside: 3000000000, outside: 1000, count: 1}]
      gid: [{inside: 3000000000, outside: 1000, count: 1}]
    processes: [{name: main, command: [/bin/sh]}]
  b:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid, net, ipc, uts]
    hostname: Not_A_Label
    security: {capabilities: {add: [SYS_ADMIN]}}
    processes: [{name: main, command: [/bin/sh]}]
`)
	pods, _ := validateManifest(t, y)
	if len(pods) != 2 {
		t.Fatalf("%d Pods:\n%s", len(pods), y)
	}
	a, b := pods[0], pods[1]
	if a.Spec.HostUsers != nil || a.Spec.Containers[0].SecurityContext.RunAsUser != nil || a.Spec.Containers[0].SecurityContext.RunAsGroup != nil {
		t.Errorf("a: hostUsers or ids written:\n%s", y)
	}
	if b.Spec.Hostname != "" || b.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation != nil {
		t.Errorf("b: hostname or allowPrivilegeEscalation written:\n%s", y)
	}
	text := notesText(notes)
	for _, want := range []string{"inline.yaml:5:28: environments.a.namespaces: not carried: Kubernetes gives no user namespace",
		"inline.yaml:6:11: environments.a.user: not carried: Kubernetes takes ids up to 2147483647",
		"inline.yaml:11:3: environments.b.security.no_new_privileges: not carried: Kubernetes refuses allowPrivilegeEscalation: false with CAP_SYS_ADMIN",
		"inline.yaml:14:15: environments.b.hostname: not carried: a Pod's hostname is a DNS label"} {
		if !strings.Contains(text, want) {
			t.Errorf("no note %q in:\n%s", want, text)
		}
	}
}

// TestExportCallerValuesSecret: a variable whose value came from nsup's
// caller (the .env file, nsup's environment) is read from the
// environment's Secret (PROJECT-ENV-env), not written in the manifest,
// which is made to be shared and held a 0600 .env's token; a value the
// spec writes, and a reference's own default, stay as values.
func TestExportCallerValuesSecret(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("API_TOKEN=s3cr3t\n"), 0o600)
	lookup := func(n string) (string, bool) {
		if n == "SHELL_KEY" {
			return "k3y", true
		}
		return "", false
	}
	s, err := spec.ParseBytesVars("vars.yaml", dir, []byte(`version: 1
name: proj
environments:
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    env:
      TOKEN: ${API_TOKEN}
      KEY: "key=${SHELL_KEY}"
      TAG: ${TAG:-dev}
    processes:
      - name: main
        command: [/bin/sh]
`), spec.Vars{Lookup: lookup, DotEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	y, notes, err := Export(s, nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(y), "s3cr3t") || strings.Contains(string(y), "k3y") {
		t.Errorf("the manifest holds a value the caller gave:\n%s", y)
	}
	pods, _ := validateManifest(t, y)
	if len(pods) != 1 {
		t.Fatalf("%d pods", len(pods))
	}
	got := map[string]string{}
	for _, e := range pods[0].Spec.Containers[0].Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			got[e.Name] = "secret " + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		default:
			got[e.Name] = e.Value
		}
	}
	want := map[string]string{"TOKEN": "secret proj-web-env/TOKEN", "KEY": "secret proj-web-env/KEY", "TAG": "dev"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (env %v)", k, got[k], v, got)
		}
	}
	text := notesText(notes)
	for _, w := range []string{
		"vars.yaml:8:7: environments.web.env.TOKEN: translated: its value came from nsup's caller (${API_TOKEN} from .env:1), which a manifest, made to be shared, does not carry: read from key TOKEN of the Secret proj-web-env",
		"vars.yaml:9:7: environments.web.env.KEY: translated: its value came from nsup's caller (${SHELL_KEY} from environment)",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("notes:\n%s\nwant them to hold:\n%s", text, w)
		}
	}
}

// TestExportCallerArgsRefused: a value of nsup's caller in the main
// process's command or working folder cannot be read from a Secret: the
// manifest would carry it as it is (the container's command, its
// workingDir), so export refuses, at each reference, all at once; a
// reference's own default passes.
func TestExportCallerArgsRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("API_TOKEN=s3cr3t\nWORK=/srv/w0rk\n"), 0o600)
	s, err := spec.ParseBytesVars("args.yaml", dir, []byte(`version: 1
name: proj
environments:
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    cwd: $WORK
    processes:
      - name: main
        command: [/bin/sh, -c, "exec app --token=${API_TOKEN}", "${TAG:-dev}"]
`), spec.Vars{Lookup: func(string) (string, bool) { return "", false }, DotEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := Export(s, nil, nil, Options{})
	var refused Refused
	if !errors.As(err, &refused) || y != nil {
		t.Fatalf("Export gave %q, %v: want it refused", y, err)
	}
	want := []string{
		"args.yaml:7:10: environments.web.cwd: refused: its value came from nsup's caller ($WORK from .env:2)",
		"args.yaml:10:32: environments.web.processes[0].command[2]: refused: its value came from nsup's caller (${API_TOKEN} from .env:1)",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal:\n%s\nwant it to hold:\n%s", err, w)
		}
	}
	if strings.Count(err.Error(), "\n") != 1 || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("want two refusals, naming no value:\n%s", err)
	}
}

// TestExportCallerValueOverride: a process's variable that overrides the
// environment's, its value the caller's, is read from the Secret; and the
// environment's caller value it overrides is not. The export's own merge
// kept the environment's value position for the process's value, so the
// token of a process's TOKEN: ${API_TOKEN} over TOKEN: dev was written in
// the manifest.
func TestExportCallerValueOverride(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("API_TOKEN=s3cr3t\n"), 0o600)
	s, err := spec.ParseBytesVars("over.yaml", dir, []byte(`version: 1
name: proj
environments:
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    env:
      TOKEN: dev
      MODE: ${API_TOKEN}
    processes:
      - name: main
        command: [/bin/sh]
        env: {TOKEN: "${API_TOKEN}", MODE: prod}
`), spec.Vars{Lookup: func(string) (string, bool) { return "", false }, DotEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := Export(s, nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pods, _ := validateManifest(t, y)
	got := map[string]string{}
	for _, e := range pods[0].Spec.Containers[0].Env {
		got[e.Name] = e.Value
		if e.ValueFrom != nil {
			got[e.Name] = "secret " + e.ValueFrom.SecretKeyRef.Key
		}
	}
	if got["TOKEN"] != "secret TOKEN" || got["MODE"] != "prod" || strings.Contains(string(y), "s3cr3t") {
		t.Errorf("env %v, want TOKEN from the Secret and MODE prod:\n%s", got, y)
	}
}
