package kube

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// noVars: the imported specs are parsed without the caller's variables.
var noVars = spec.Vars{Lookup: func(string) (string, bool) { return "", false }}

// parseImported parses an imported spec, which must be valid.
func parseImported(t *testing.T, name string, y []byte) *spec.Spec {
	t.Helper()
	s, err := spec.ParseBytesVars(name, "/nonexistent", y, noVars)
	if err != nil {
		t.Fatalf("the imported spec is not valid:\n%v\n%s", err, y)
	}
	return s
}

// TestImport compares the spec and notes of each manifest of
// testdata/import with the golden files (NAME.nsup.yaml, NAME.notes), and
// parses the spec.
func TestImport(t *testing.T) {
	files, err := filepath.Glob("testdata/import/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".nsup.yaml") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			y, notes, err := Import(f, data)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "testdata/import/"+name+".nsup.yaml", string(y))
			golden(t, "testdata/import/"+name+".notes", notesText(notes))
			parseImported(t, name+".nsup.yaml", y)
			checkNotePositions(t, f, notes)
			// The spec's header lists every note.
			for _, n := range notes {
				if !strings.Contains(string(y), "#   "+n.String()+"\n") {
					t.Errorf("the spec's header lacks %s", n)
				}
			}
		})
	}
	if n < 2 {
		t.Fatalf("%d manifests in testdata/import", n)
	}
}

// TestImportDeterministic: the same manifest gives the same spec and
// notes, many times over.
func TestImportDeterministic(t *testing.T) {
	data, err := os.ReadFile("testdata/import/foreign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	first, firstNotes, err := Import("foreign.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, notes, err := Import("foreign.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		if string(first) != string(again) || notesText(firstNotes) != notesText(notes) {
			t.Fatalf("two imports differ")
		}
	}
}

// TestImportForeignNotes: the keys of foreign.yaml without an nsup
// equivalent each have their note (the golden file pins the words).
func TestImportForeignNotes(t *testing.T) {
	data, err := os.ReadFile("testdata/import/foreign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, notes, err := Import("foreign.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, n := range notes {
		keys[n.Key] = true
		if n.Key == "metadata.name" && !strings.Contains(n.Msg, "no Pod mounts this claim") {
			t.Errorf("%s", n)
		}
	}
	for _, k := range []string{
		"metadata.name", // the orphan claim
		"metadata.namespace", "metadata.uid", "metadata.creationTimestamp", "metadata.labels.app", "metadata.labels.tier",
		"metadata.annotations.note", "metadata.annotations." + podmanPidsLimit + "ghost",
		"spec.subdomain", "spec.nodeSelector", "spec.initContainers", "spec.securityContext.fsGroup",
		"spec.dnsConfig.searches", "spec.volumes[3].configMap", "spec.volumes[5].hostPath.type", "spec.volumes[6]",
		"spec.containers[0].image", "spec.containers[0].imagePullPolicy", "spec.containers[0].args",
		"spec.containers[0].env[1].value", "spec.containers[0].env[2].valueFrom", "spec.containers[0].env[3].name",
		"spec.containers[0].envFrom",
		"spec.containers[0].ports[0].name", "spec.containers[0].ports[0].hostPort", "spec.containers[0].ports[3]",
		"spec.containers[0].ports[4].protocol",
		"spec.containers[0].resources.limits.ephemeral-storage", "spec.containers[0].resources.requests",
		"spec.containers[0].volumeMounts[3]",
		"spec.containers[0].livenessProbe", "spec.containers[0].livenessProbe.initialDelaySeconds",
		"spec.containers[0].readinessProbe.httpGet", "spec.containers[0].startupProbe",
		"spec.containers[0].lifecycle", "spec.containers[0].tty",
		"spec.containers[0].securityContext.capabilities", "spec.containers[0].securityContext.capabilities.drop",
		"spec.containers[0].securityContext.seLinuxOptions",
		"spec.containers[1].args", "spec.containers[1].securityContext.runAsNonRoot",
		"spec.containers[1].securityContext.seccompProfile", "spec.containers[1].resources.limits.memory",
		"spec.containers[1].resources.limits.cpu",
		"spec.containers[1].readinessProbe.successThreshold", "spec.containers[1].readinessProbe.terminationGracePeriodSeconds",
		"spec.containers[2].command", "spec.securityContext.runAsUser", "spec.containers[1].securityContext.runAsUser",
		"status",
		"spec.accessModes", "spec.resources", "spec.storageClassName",
		"kind",
	} {
		if !keys[k] {
			t.Errorf("no note for %s", k)
		}
	}
}

// TestImportForeignValues: what foreign.yaml's nginx becomes, read back
// through spec.ParseBytes.
func TestImportForeignValues(t *testing.T) {
	data, err := os.ReadFile("testdata/import/foreign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := Import("foreign.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	s := parseImported(t, "foreign.nsup.yaml", y)
	e := s.Env("nginx")
	if e == nil || s.Env("exporter") == nil || s.Env("shell") == nil || len(s.Environments) != 3 {
		t.Fatalf("environments %v", s.Environments)
	}
	want := []string{"nginx", "-g", "daemon off;", "-c", "/etc/nginx2/nginx.conf", "$(SECRET)", "$(literal)", "$(NOPE)", "cost: $5"}
	if got := e.Process[0].Command; !slices.Equal(got, want) {
		t.Errorf("command %q, want %q", got, want)
	}
	var vars []string
	for _, v := range e.Env {
		vars = append(vars, v.Name+"="+v.Value)
	}
	if want := []string{"CONF=/etc/nginx2", "URL=http://$(HOST):/etc/nginx"}; !slices.Equal(vars, want) {
		t.Errorf("env %q, want %q", vars, want)
	}
	if e.User == nil || e.User.UID != 101 || e.User.GID != 101 {
		t.Errorf("user %+v, want 101:101 (the Pod's runAsUser, the container's runAsGroup)", e.User)
	}
	if !e.Rootfs.Readonly || e.Rootfs.Overlay || e.Rootfs.Tar != "/nonexistent/rootfs/nginx.tar" {
		t.Errorf("rootfs %+v", e.Rootfs)
	}
	if got := e.Process[0].Restart; got == nil || got.Policy != spec.RestartOnFailure {
		t.Errorf("restart %+v", got)
	}
	if got := e.Process[0].StopTimeout; got == nil || got.Value.Seconds() != 45 {
		t.Errorf("stop_timeout %+v", got)
	}
	h := e.Process[0].Healthcheck
	if h == nil || h.Interval.Seconds() != 20 || h.Timeout.Seconds() != 3 || h.Retries != 4 || h.Command[2] != "test -e /run/nginx.pid" {
		t.Errorf("healthcheck %+v (the livenessProbe: the readinessProbe is httpGet)", h)
	}
	if e.Limits == nil || e.Limits.Memory.N != 256<<20 || e.Limits.CPU.Cores != 0.25 || e.Limits.Pids.N != 512 {
		t.Errorf("limits %+v", e.Limits)
	}
	sec := e.Security
	if sec == nil || sec.MaskedPaths == nil || len(sec.MaskedPaths.Paths) != 0 || sec.ReadonlyPaths == nil || sec.NoNewPrivileges != nil {
		t.Errorf("security %+v: procMount Unmasked, allowPrivilegeEscalation false", sec)
	}
	var caps []string
	for _, c := range sec.CapAdd {
		caps = append(caps, "+"+c.Value)
	}
	for _, c := range sec.CapDrop {
		caps = append(caps, "-"+c.Value)
	}
	if want := []string{"+CAP_NET_ADMIN", "+CAP_SYS_TIME", "-CAP_MKNOD", "-CAP_KILL"}; !slices.Equal(caps, want) {
		t.Errorf("capabilities %q, want %q", caps, want)
	}
	var mounts []string
	for _, m := range e.Mounts {
		mounts = append(mounts, strings.Join([]string{m.Type, m.Target, m.Source, m.Size}, " "))
	}
	if want := []string{"proc /proc  ", "dev /dev  ", "tmpfs /var/cache/nginx  128M", "tmpfs /tmp  ", "volume /data shop-data ", "bind /var/log/nginx /var/log/shop/nginx ", "bind /var/run/docker.sock /run/docker.sock "}; !slices.Equal(mounts, want) {
		t.Errorf("mounts\n%q, want\n%q", mounts, want)
	}
	if e.Mounts[4].Readonly != true {
		t.Errorf("the claim's mount is read-only")
	}
	if v := s.Volume("shop-data"); v == nil || v.Owner == nil || v.Owner.UID != 101 || v.Owner.GID != 101 {
		t.Errorf("volume shop-data %+v", v)
	}
	n := e.Net
	if n == nil || n.Network != spec.NetworkUser || len(n.Ports) != 3 || n.Ports[0].String() != "0.0.0.0:8080:80/tcp" ||
		n.Ports[1].String() != "127.0.0.1:8443:443/tcp" || n.Ports[2].String() != "[::1]:5353:53/udp" {
		t.Errorf("net %+v", n)
	}
	if n != nil && (len(n.DNS) != 1 || n.DNS[0].String() != "192.0.2.1" || len(n.Hosts) != 3 || n.Hosts[2].Name != "elsewhere") {
		t.Errorf("dns %v, hosts %+v (nginx and exporter on 127.0.0.1 are nsup's own)", n.DNS, n.Hosts)
	}
	if e.Hostname == nil || e.Hostname.Value != "shop-web" {
		t.Errorf("hostname %+v", e.Hostname)
	}
	ex := s.Env("exporter")
	if j := ex.Joined(spec.NSPID); j == nil || j.Ref != "nginx" {
		t.Errorf("exporter joins %+v: shareProcessNamespace", ex.Join)
	}
	if j := ex.Joined(spec.NSUser); j == nil || j.Ref != "nginx" || !e.HasNamespace(spec.NSUser) {
		t.Errorf("the Pod's user namespace (hostUsers: false): nginx %+v, exporter %+v", e.Namespaces, ex.Join)
	}
	if ex.Security == nil || ex.Security.Seccomp == nil || ex.Security.Seccomp.Value != "/var/lib/kubelet/seccomp/profiles/exporter.json" {
		t.Errorf("exporter's seccomp %+v", ex.Security)
	}
	if ex.Limits == nil || ex.Limits.Memory != nil || ex.Limits.CPU.Cores != 1.51 {
		t.Errorf("exporter's limits %+v: memory 1Mi is below nsup's least, cpu 1505m rounded up", ex.Limits)
	}
	if got := ex.Process[0].Command; !slices.Equal(got, []string{"--nginx.scrape-uri=http://localhost/stub"}) {
		t.Errorf("exporter's command %q", got)
	}
	sh := s.Env("shell")
	if got := sh.Process[0].Command; len(got) != 3 || got[0] != "/bin/sh" || !strings.Contains(got[2], "exit 1") {
		t.Errorf("shell's stand-in command %q", got)
	}
	if !sh.Rootfs.Overlay {
		t.Errorf("shell's root: writable, as readOnlyRootFilesystem is unset")
	}
}

// TestImportHostNamespaces: hostnet.yaml's agent has the host's
// namespaces; web's main, named as agent's, is renamed.
func TestImportHostNamespaces(t *testing.T) {
	data, err := os.ReadFile("testdata/import/hostnet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := Import("hostnet.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	s := parseImported(t, "hostnet.nsup.yaml", y)
	a, w := s.Env("main"), s.Env("web-main")
	if a == nil || w == nil {
		t.Fatalf("environments %v", s.Environments)
	}
	var ns []string
	for _, n := range a.Namespaces {
		ns = append(ns, n.Type)
	}
	if !slices.Equal(ns, []string{spec.NSMount, spec.NSCgroup}) || a.Net != nil || a.Hostname != nil {
		t.Errorf("agent: namespaces %v, net %+v, hostname %+v", ns, a.Net, a.Hostname)
	}
	if a.User == nil || a.User.UID != 65534 || a.User.GID != 0 || a.Security == nil || a.Security.Seccomp.Value != "unconfined" ||
		a.Security.NoNewPrivileges == nil || a.Security.NoNewPrivileges.Value || len(a.Security.CapAdd) != 0 {
		t.Errorf("agent: user %+v, security %+v (the default set is not written)", a.User, a.Security)
	}
	if a.Limits.Memory.N != 1000000000 || a.Limits.CPU.Cores != 2 {
		t.Errorf("agent: limits %+v", a.Limits)
	}
	if w.Process[0].Restart != nil || w.Process[0].StopTimeout != nil || w.Env[0].Name != "MODE" || len(w.Env) != 1 {
		t.Errorf("web: restart %+v, stop_timeout %+v, env %+v (Never, 10s and PATH are nsup's defaults)", w.Process[0].Restart, w.Process[0].StopTimeout, w.Env)
	}
	if h := w.Process[0].Healthcheck; h == nil || h.Interval.Seconds() != 10 || h.Timeout.Seconds() != 1 || h.Retries != 3 {
		t.Errorf("web: healthcheck %+v (Kubernetes' defaults: 10s, 1s, 3)", h)
	}
	if w.Hostname == nil || w.Hostname.Value != "web" {
		t.Errorf("web: hostname %+v, the Pod's name", w.Hostname)
	}
}

// TestImportErrors: what is not a manifest of a Pod is an error at its
// FILE:LINE:COL.
func TestImportErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"syntax", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [a\n", "m.yaml:4:"},
		{"tab", "apiVersion: v1\nkind: Pod\nspec:\n\tcontainers: []\n", "m.yaml:4:1:"},
		{"empty", "", "m.yaml:1:1: kind: no Pod in the manifest"},
		{"deployment", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n", "m.yaml:1:1: kind: no Pod in the manifest"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "m.yaml:1:1: kind: document 1 is not a Kubernetes object"},
		{"apiVersion", "apiVersion: v2\nkind: Pod\n", "m.yaml:1:13: apiVersion: a Pod is apiVersion v1"},
		{"no spec", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "m.yaml:1:1: spec: a Pod needs a spec"},
		{"no containers", "apiVersion: v1\nkind: Pod\nspec:\n  containers: []\n", "m.yaml:4:3: spec.containers: a Pod needs at least one container"},
		{"containers not a list", "apiVersion: v1\nkind: Pod\nspec:\n  containers: nginx\n", "m.yaml:4:15: spec.containers: must be a list"},
		{"no name", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - image: nginx\n", "m.yaml:5:7: spec.containers[0].name: a container needs a name"},
		{"bad name", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: Web_1\n", "m.yaml:5:13: spec.containers[0].name: \"Web_1\" is not a container name"},
		{"alias", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - &c {name: a}\n    - *c\n", "m.yaml:6:7: YAML aliases are not supported"},
		{"port", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      ports: [{containerPort: 70000}]\n", "m.yaml:6:15: spec.containers[0].ports[0].containerPort: must be a port"},
		{"quantity", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      resources: {limits: {memory: 1QB}}\n", "m.yaml:6:36: spec.containers[0].resources.limits.memory: \"1QB\" is not a quantity"},
		{"mount", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      volumeMounts: [{name: v, mountPath: /v}]\n", "m.yaml:6:22: spec.containers[0].volumeMounts[0].name: no volume \"v\""},
		{"restartPolicy", "apiVersion: v1\nkind: Pod\nspec:\n  restartPolicy: Sometimes\n  containers: [{name: a}]\n", "m.yaml:4:18: spec.restartPolicy: must be Always, OnFailure or Never"},
		{"integer", "apiVersion: v1\nkind: Pod\nspec:\n  terminationGracePeriodSeconds: soon\n  containers: [{name: a}]\n", "m.yaml:4:34: spec.terminationGracePeriodSeconds: must be an integer"},
		// The note of an image is a command to copy into a shell (a review).
		{"image", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, image: 'alpine$(id>/tmp/x)'}]\n", "m.yaml:4:33: spec.containers[0].image: \"alpine$(id>/tmp/x)\" is not an image reference"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Import("m.yaml", []byte(c.in))
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T), want spec.Errors", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error:\n%v\nwant one with %q", err, c.want)
			}
		})
	}
}

// TestRoundTrip: every exported example, imported again, is a valid spec;
// pod.yaml keeps its environments, joins, commands, variables, working
// directories, process names and tmpfs; what changes is what the export
// noted (web's own UTS namespace, db's loopback-only network).
func TestRoundTrip(t *testing.T) {
	for _, c := range exportCases {
		t.Run(c.name, func(t *testing.T) {
			s := parse(t, c.file)
			y, _, err := Export(s, nil, nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			back, _, err := Import(c.name+".kube.yaml", y)
			if err != nil {
				t.Fatal(err)
			}
			s2 := parseImported(t, c.name+".nsup.yaml", back)
			var names, names2 []string
			for _, e := range s.Environments {
				names = append(names, e.Name)
			}
			for _, e := range s2.Environments {
				names2 = append(names2, e.Name)
			}
			slices.Sort(names)
			slices.Sort(names2)
			if !slices.Equal(names, names2) {
				t.Errorf("environments %v, imported %v", names, names2)
			}
			for _, e := range s.Environments {
				e2 := s2.Env(e.Name)
				if e2 == nil {
					continue
				}
				if !slices.Equal(e.Process[0].Command, e2.Process[0].Command) || e.Process[0].Name != e2.Process[0].Name {
					t.Errorf("%s: main process %s %q, imported %s %q", e.Name, e.Process[0].Name, e.Process[0].Command, e2.Process[0].Name, e2.Process[0].Command)
				}
				if a, b := envText(e, e.Process[0]), envText(e2, e2.Process[0]); !slices.Equal(a, b) {
					t.Errorf("%s: env %q, imported %q", e.Name, a, b)
				}
			}
			if c.name != "pod" {
				return
			}
			db, web := s2.Env("db"), s2.Env("web")
			for _, tj := range []string{spec.NSNet, spec.NSIPC, spec.NSUTS} {
				if j := web.Joined(tj); j == nil || j.Ref != "db" {
					t.Errorf("web does not join db's %s: %+v", tj, web.Join)
				}
			}
			if web.HasNamespace(spec.NSUTS) || web.Hostname != nil {
				t.Errorf("web: its own uts, noted as not carried, is db's now: %+v", web.Namespaces)
			}
			if len(web.Join) != 3 || len(db.Join) != 0 {
				t.Errorf("joins: db %+v, web %+v", db.Join, web.Join)
			}
			if web.Cwd == nil || web.Cwd.Value != "/srv" || db.Hostname == nil || db.Hostname.Value != "db" {
				t.Errorf("web's cwd %+v, db's hostname %+v", web.Cwd, db.Hostname)
			}
			last := web.Mounts[len(web.Mounts)-1]
			if last.Type != spec.MountTmpfs || last.Target != "/srv" || last.SizeBytes != 1<<20 {
				t.Errorf("web's tmpfs %+v", last)
			}
			if db.Net == nil || db.Net.Network != spec.NetworkUser {
				t.Errorf("db's net %+v: a Pod's network has outbound traffic", db.Net)
			}
		})
	}
}

// envText is a process's variables as the planner gives them (PATH by
// default).
func envText(e *spec.Environment, p *spec.Process) []string {
	var out []string
	for _, v := range planner.MergeEnv(e.Env, p.Env) {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// TestEveryExample: every spec of examples/ exports to manifests
// Kubernetes takes, which import back into a valid spec with the same
// environments.
func TestEveryExample(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "examples", "*.yaml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		name := "examples/" + filepath.Base(f)
		t.Run(filepath.Base(f), func(t *testing.T) {
			s := parse(t, name)
			y, notes, err := Export(s, nil, nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			validateManifest(t, y)
			checkNotePositions(t, f, notes)
			back, _, err := Import(name+".kube.yaml", y)
			if err != nil {
				t.Fatal(err)
			}
			s2 := parseImported(t, name, back)
			if len(s2.Environments) != len(s.Environments) {
				t.Errorf("%d environments, imported %d", len(s.Environments), len(s2.Environments))
			}
		})
	}
}

// TestImportMutations: each seed manifest with one line deleted, or one
// scalar replaced by an odd value: Import does not panic, and a spec it
// returns is valid (FuzzImport explores further with go test -fuzz).
func TestImportMutations(t *testing.T) {
	odd := []string{"", "-1", "0", "70000", "x y", "$(", "$$", "/", "..", "true", "null", "[]", "{}", "A_B", strings.Repeat("a", 70), "1Ei", "-5Mi", "::1", "Always", "a=b", "-", ".", "1e400", "99999999999999999999", "0.001", "/a/../..", "Localhost", "Unmasked", "Memory", "Never", "UDP"}
	if testing.Short() {
		odd = odd[:8]
	}
	tried, specs := 0, 0
	try := func(data []byte) {
		tried++
		if checkImport(t, data) {
			specs++
		}
	}
	defer func() {
		t.Logf("%d manifests, %d specs", tried, specs)
		if specs < tried/4 {
			t.Errorf("only %d of %d manifests imported: the mutations test little", specs, tried)
		}
	}()
	for _, seed := range importSeeds(t) {
		lines := strings.Split(string(seed), "\n")
		for i := range lines {
			m := slices.Concat(lines[:i], lines[i+1:])
			try([]byte(strings.Join(m, "\n")))
		}
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "#") {
				continue
			}
			// Each value of the line (after "key: " or "- ", up to the
			// next , ] or } of a flow collection, or the end).
			for _, loc := range scalarValue.FindAllStringSubmatchIndex(l, -1) {
				for _, v := range odd {
					m := slices.Clone(lines)
					m[i] = l[:loc[2]] + strconvQuote(v) + l[loc[3]:]
					try([]byte(strings.Join(m, "\n")))
				}
			}
		}
	}
}

var scalarValue = regexp.MustCompile(`(?:: |- |\[|, )([^,{}\[\]]+)`)

func strconvQuote(v string) string {
	if v == "[]" || v == "{}" || v == "null" || v == "true" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

func importSeeds(t testing.TB) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob("testdata/import/*.yaml")
	files = append(files, "testdata/export/pod.kube.yaml", "testdata/export/all.kube.yaml")
	for _, file := range files {
		if strings.HasSuffix(file, ".nsup.yaml") {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// checkImport imports data; a spec it returns must be valid. It says
// whether there was one.
func checkImport(t testing.TB, data []byte) bool {
	t.Helper()
	y, _, err := Import("m.yaml", data)
	if err != nil {
		return false
	}
	if _, err := spec.ParseBytesVars("m.nsup.yaml", "/nonexistent", y, noVars); err != nil {
		t.Fatalf("an invalid spec:\n%v\n--- from:\n%s", err, data)
	}
	return true
}

// FuzzImport: whatever the manifest, Import does not panic, and a spec it
// returns is valid.
func FuzzImport(f *testing.F) {
	for _, s := range importSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte("apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a, command: [x]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkImport(t, data) })
}

// TestImportMountsParentFirst: a container's volumeMounts become mounts
// with a folder's before those below it, as containerd's CRI orders
// them: nsup mounts in the order listed and refuses a mount that a later
// one covers, which a Pod listing /work/cache before /work would be.
func TestImportMountsParentFirst(t *testing.T) {
	y, _, err := Import("pod.yaml", []byte(`apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  volumes:
    - {name: work, hostPath: {path: /srv/work}}
    - {name: cache, emptyDir: {}}
    - {name: deep, emptyDir: {}}
  containers:
    - name: c
      image: busybox
      volumeMounts:
        - {name: deep, mountPath: /work/cache/deep}
        - {name: cache, mountPath: /work/cache}
        - {name: work, mountPath: /work}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := parseImported(t, "pod.nsup.yaml", y)
	var got []string
	for _, m := range s.Environments[0].Mounts {
		got = append(got, m.Target)
	}
	if want := []string{"/proc", "/dev", "/work", "/work/cache", "/work/cache/deep"}; !slices.Equal(got, want) {
		t.Errorf("mounts %q, want %q", got, want)
	}
}
