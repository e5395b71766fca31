package kube

// Review of nsup import --kube (f431aca, 13aaeb1): each test states what
// should hold for an untrusted manifest, and fails on the code reviewed.

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// reviewHostManifest asks for everything that takes confinement away, each
// of which the import translates.
const reviewHostManifest = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  hostNetwork: true
  hostPID: true
  hostIPC: true
  volumes:
  - name: root
    hostPath: {path: /}
  containers:
  - name: c
    image: busybox
    command: [sleep, "1"]
    securityContext:
      seccompProfile: {type: Unconfined}
      procMount: Unmasked
      capabilities: {drop: [ALL], add: [SYS_ADMIN, SYS_PTRACE, SYS_MODULE]}
    volumeMounts:
    - {name: root, mountPath: /host}
`

// Every translation that gives an environment less confinement than
// nsup's default, or a host path, is said on stderr (a note), so that a
// spec printed from someone else's manifest cannot look harmless: the
// host's / bound writable, the host's network, pid and ipc namespaces,
// seccomp off, /proc unmasked, SYS_ADMIN and SYS_MODULE added,
// no_new_privileges off. The reviewed code notes none of them.
func TestImportConfinementNotes(t *testing.T) {
	out, notes, err := Import("host.yaml", []byte(reviewHostManifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"source: /", "seccomp: unconfined", "SYS_ADMIN", "masked_paths: []", "no_new_privileges: false", "namespaces: [mnt, cgroup]"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the spec lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(notesText(notes), "refused by nsup's planner as written when root applies it: root inside the host's pid namespace could signal and ptrace the host's processes") {
		t.Errorf("hostPID: no note of the planner's refusal:\n%s", notesText(notes))
	}
	for _, key := range []string{
		"spec.volumes[0].hostPath",
		"spec.hostNetwork",
		"spec.hostPID",
		"spec.hostIPC",
		"spec.containers[0].securityContext.seccompProfile",
		"spec.containers[0].securityContext.procMount",
		"spec.containers[0].securityContext.capabilities",
		"spec.containers[0].securityContext.allowPrivilegeEscalation",
	} {
		found := false
		for _, n := range notes {
			if strings.HasPrefix(n.Key, key) {
				found = true
			}
		}
		if !found {
			t.Errorf("no note on stderr for %s, which the spec translates into less confinement", key)
		}
	}
}

// reviewPod is a Pod with extra lines after "  containers:" (and more
// after its container, at TAIL).
func reviewPod(specLines, containerLines string) []byte {
	return []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + specLines +
		"  containers:\n  - name: c\n    image: busybox\n    command: [sleep, '1']\n" + containerLines)
}

// Import of a manifest within its own bound (MaxManifest) allocates at
// most a few hundred MiB, and refuses a quantity too long to read in
// linear time (no time is asserted: the test's own timeout is the guard
// against a hang). Reviewed with a 4 MiB bound:
// hostAliases' names and env's variables are looked up in a list each
// (quadratic: 100,000 names took about 14 s); a quantity of 4 million
// digits was parsed by math/big (quadratic, 17 s); and 1.9 million
// one-letter args became 2.4 GB of yaml.Nodes. The bound is now 256 KiB:
// the worst of each that fits it.
func TestImportBounded(t *testing.T) {
	many := func(n int, f func(i int) string, sep string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(f(i))
		}
		return b.String()
	}
	cases := []struct {
		name     string
		manifest []byte
	}{
		{"hostAliases", reviewPod("  hostAliases:\n  - ip: 10.0.0.1\n    hostnames: ["+many(28000, func(i int) string { return fmt.Sprintf("h%d", i) }, ",")+"]\n", "")},
		{"env", reviewPod("", "    env:\n"+many(8000, func(i int) string { return fmt.Sprintf("    - {name: V%d, value: x}", i) }, "\n")+"\n")},
		{"quantity", reviewPod("", "    resources: {limits: {memory: '"+strings.Repeat("9", 250000)+"'}}\n")},
		{"nodes", reviewPod("", "    args: ["+strings.Repeat("a,", 125000)+"a]\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.manifest) > MaxManifest {
				t.Fatalf("the manifest is %d bytes, over the bound", len(c.manifest))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, _, err := Import("big.yaml", c.manifest)
			if c.name == "quantity" && (err == nil || !strings.Contains(err.Error(), "250000 digits")) {
				t.Errorf("a quantity of 250,000 digits: %v, want it refused unread", err)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<20 {
				t.Errorf("Import of a %d-byte manifest allocated %d MiB", len(c.manifest), alloc>>20)
			}
		})
	}
}

// A key written twice in one mapping, a key that is not a string and a
// merge key (<<) refuse the manifest, at FILE:LINE:COL of the key: yaml.v3
// checks none of them when it decodes into nodes, and the importer read
// a key's first value (and noted nothing of the second) where Kubernetes
// refuses a duplicate field or takes the last, and applies a merge: the
// manifest a reader checked and the spec printed disagreed
// (helper-82's review: hostNetwork: true then false imported the host's
// network; a second capabilities add was dropped unsaid).
func TestImportDuplicateKeys(t *testing.T) {
	for _, c := range []struct {
		name     string
		manifest []byte
		want     string
	}{
		{"hostNetwork", reviewPod("  hostNetwork: true\n  hostNetwork: false\n", ""), `dup.yaml:6:3: duplicate key "hostNetwork" (first at line 5)`},
		{"add", reviewPod("", "    securityContext:\n      capabilities:\n        add: [NET_BIND_SERVICE]\n        add: [SYS_ADMIN]\n"), `dup.yaml:12:9: duplicate key "add" (first at line 11)`},
		{"merge", reviewPod("", "    securityContext:\n      <<: {privileged: true}\n"), `dup.yaml:10:7: YAML merge keys (<<) are not supported`},
		{"mapping key", reviewPod("", "    ? {a: b}\n    : c\n"), `dup.yaml:9:7: keys must be strings`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := Import("dup.yaml", c.manifest)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Import: %v\n%s\nwant an error with %q", err, out, c.want)
			}
		})
	}
}

// A hostPath with a ".." is refused, as Kubernetes refuses it: the
// planner binds the path cleaned, so /srv/x/../../etc is the host's /etc
// while the spec shows a path below /srv, the more so with a U+202E as x
// that turns the rest of the line around in a reader's editor
// (helper-82's review).
func TestImportHostPathDotDot(t *testing.T) {
	m := reviewPod("  volumes:\n  - name: v\n    hostPath: {path: \"/srv/\\u202e/../../etc\"}\n", "    volumeMounts: [{name: v, mountPath: /v}]\n")
	out, _, err := Import("pod.yaml", m)
	if err == nil || !strings.Contains(err.Error(), "pod.yaml:7:22: spec.volumes[0].hostPath.path: must not contain '..'") {
		t.Errorf("Import: %v\n%s\nwant the hostPath refused", err, out)
	}
}

// A Pod's nsup.dev/project label becomes the spec's name, and so picks
// the folder of its named volumes (VOLUMES/PROJECT/NAME): a manifest from
// someone else labelled with the name of a project of this host mounts
// that project's volumes. Import says so (helper-82's review).
func TestImportProjectVolumes(t *testing.T) {
	m := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {" + LabelProject + ": myapp}\nspec:\n" +
		"  volumes:\n  - name: v\n    persistentVolumeClaim: {claimName: pgdata}\n" +
		"  containers:\n  - name: c\n    image: busybox\n    command: [sleep, '1']\n    volumeMounts: [{name: v, mountPath: /v}]\n")
	y, notes, err := Import("pod.yaml", m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(y), "\nname: myapp\n") {
		t.Fatalf("the spec is not project myapp's:\n%s", y)
	}
	if !strings.Contains(notesText(notes), "pod.yaml:5:30: metadata.labels."+LabelProject+": translated: the spec's name (its project) is myapp, from this label: its named volumes (pgdata) are project myapp's") {
		t.Errorf("notes:\n%s", notesText(notes))
	}
}
