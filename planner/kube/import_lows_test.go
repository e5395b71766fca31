package kube

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/internal/textsafe"
	"github.com/nsup/nsup/spec"
)

// TestImportCgroupNamespace: each container gets a cgroup namespace of
// its own, as Kubernetes and podman give one on cgroup v2 (the host's
// pid, network and IPC namespaces do not change that), and none joins
// another's: the import gave none, and /proc/self/cgroup inside showed
// where the host keeps the environment.
func TestImportCgroupNamespace(t *testing.T) {
	for _, f := range []string{"foreign.yaml", "hostnet.yaml"} {
		data, err := os.ReadFile("testdata/import/" + f)
		if err != nil {
			t.Fatal(err)
		}
		y, _, err := Import(f, data)
		if err != nil {
			t.Fatal(err)
		}
		s := parseImported(t, f, y)
		if len(s.Environments) < 2 {
			t.Fatalf("%s: %d environments", f, len(s.Environments))
		}
		for _, e := range s.Environments {
			var ns []string
			for _, n := range e.Namespaces {
				ns = append(ns, n.Type)
			}
			if !slices.Contains(ns, spec.NSCgroup) {
				t.Errorf("%s: %s: namespaces %v, no cgroup", f, e.Name, ns)
			}
			if e.Joined(spec.NSCgroup) != nil {
				t.Errorf("%s: %s joins a cgroup namespace", f, e.Name)
			}
		}
	}
}

// TestImportBidiEscaped: a manifest's strings that hold bidirectional
// runes or control characters (the Trojan Source class: U+202E shows
// the text after it reversed) are written escaped, in values, keys and
// the header's notes: the YAML holds no such rune, and reads back as the
// manifest's very strings. The import wrote U+202E raw.
func TestImportBidiEscaped(t *testing.T) {
	// The manifest spells them as YAML escapes (a YAML file holds no
	// raw C0 or C1 control); arg and val are what they read as.
	arg, val := "echo safe \u202e;hs.kcab/pmt/ \u2066x\u2069\u009b", "v\u200f\u061c\t\x1b[2J"
	manifest := `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations: {"note\u202e\n#": "y"}
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "echo safe \u202e;hs.kcab/pmt/ \u2066x\u2069\x9b"]
    env:
    - {name: BIDI, value: "v\u200f\u061c\t\e[2J"}
`
	y, notes, err := Import("p.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.IndexFunc(string(y), func(r rune) bool { return r != '\n' && textsafe.Unsafe(r) }); i >= 0 {
		t.Errorf("a raw %U at byte %d of:\n%s", []rune(string(y)[i:])[0], i, y)
	}
	if !strings.Contains(string(y), `"echo safe \u202e;hs.kcab`) || !strings.Contains(string(y), `metadata.annotations.note\u202e #`) {
		t.Errorf("no \\u202e in:\n%s", y)
	}
	if len(notes) == 0 {
		t.Errorf("no notes")
	}
	s := parseImported(t, "p.nsup.yaml", y)
	e := s.Environments[0]
	if got := e.Process[0].Command; len(got) != 3 || got[2] != arg {
		t.Errorf("command %q, want %q", got, arg)
	}
	if len(e.Env) == 0 || e.Env[len(e.Env)-1].Name != "BIDI" || e.Env[len(e.Env)-1].Value != val {
		t.Errorf("env %+v, want BIDI=%q", e.Env, val)
	}
}

// subPathManifest mounts a folder of a hostPath volume by subPath.
const subPathManifest = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  volumes:
  - {name: shared, hostPath: {path: /srv/shared}}
  containers:
  - name: c
    image: busybox
    command: [cat, /c/x]
    volumeMounts:
    - {name: shared, mountPath: /c, subPath: SUB, readOnly: true}
`

// TestImportSubPath: a hostPath's subPath is the bind's subpath, which
// the plan keeps within the volume (TestBindSubpath), not a source of
// its own: /srv/shared/app, where app is a link another Pod planted,
// bound whatever it led to, where the kubelet refuses a subPath that
// escapes its volume. A subPath with .. is refused, as Kubernetes
// validates it; the export gives the subPath back.
func TestImportSubPath(t *testing.T) {
	y, _, err := Import("p.yaml", []byte(strings.Replace(subPathManifest, "SUB", "app/conf", 1)))
	if err != nil {
		t.Fatal(err)
	}
	s := parseImported(t, "p.nsup.yaml", y)
	var found bool
	for _, m := range s.Environments[0].Mounts {
		if m.Target == "/c" {
			found = true
			if m.Source != "/srv/shared/app/conf" || m.Within != "/srv/shared" {
				t.Errorf("mount %+v: want source /srv/shared/app/conf within /srv/shared", m)
			}
		}
	}
	if !found || !strings.Contains(string(y), "source: /srv/shared, subpath: app/conf") {
		t.Errorf("no subpath in:\n%s", y)
	}
	for _, sub := range []string{"a/../../etc", "a/../b", "../x", "/etc"} {
		if _, _, err := Import("p.yaml", []byte(strings.Replace(subPathManifest, "SUB", sub, 1))); err == nil || !strings.Contains(err.Error(), "subPath: must be a relative path inside the volume") {
			t.Errorf("subPath %s: %v", sub, err)
		}
	}
	out, _, err := Export(s, nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	validateManifest(t, out)
	if !strings.Contains(string(out), "path: /srv/shared\n") || !strings.Contains(string(out), "subPath: app/conf") {
		t.Errorf("export:\n%s", out)
	}
}

// TestExportBidiEscaped: the manifests export --kube writes show a
// spec's bidirectional runes and controls escaped too, and decode to the
// spec's strings: they were written raw.
func TestExportBidiEscaped(t *testing.T) {
	// The spec spells them as YAML escapes; arg is what they read as.
	arg := "echo safe \u202e;hs.kcab \u2066x\u2069\u009b"
	y, _ := exportInline(t, `version: 1
environments:
  a:
    rootfs: {dir: /srv/root}
    namespaces: [mnt, pid]
    env: {B: "v\u200f\t\e[2J"}
    processes:
      - {name: main, command: [sh, -c, "echo safe \u202e;hs.kcab \u2066x\u2069\x9b"]}
`)
	if i := strings.IndexFunc(string(y), func(r rune) bool { return r != '\n' && textsafe.Unsafe(r) }); i >= 0 {
		t.Errorf("a raw %U at byte %d of:\n%s", []rune(string(y)[i:])[0], i, y)
	}
	var pod struct {
		Spec struct {
			Containers []struct {
				Command []string
				Env     []struct{ Name, Value string }
			}
		}
	}
	if err := yaml.Unmarshal(y, &pod); err != nil {
		t.Fatal(err)
	}
	c := pod.Spec.Containers
	if len(c) != 1 || len(c[0].Command) != 3 || c[0].Command[2] != arg {
		t.Errorf("containers %+v, want the command's %q", c, arg)
	}
}
