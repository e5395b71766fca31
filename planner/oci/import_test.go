package oci

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// TestRoundTrip: export, import, export again gives the same config.json,
// and importing what export made loses nothing (no note).
func TestRoundTrip(t *testing.T) {
	for _, c := range exportCases {
		t.Run(c.name, func(t *testing.T) {
			b, err := export(t, c.file, c.env)
			if err != nil {
				t.Fatal(err)
			}
			first := marshal(t, b.Config)
			bundle := t.TempDir()
			root := filepath.Join(bundle, RootfsDir)
			for _, f := range b.Rootfs.Files {
				p := filepath.Join(root, f.Path)
				if f.Type == "dir" {
					os.MkdirAll(p, 0o755)
				} else {
					os.MkdirAll(filepath.Dir(p), 0o755)
					os.WriteFile(p, nil, os.FileMode(f.Mode))
				}
			}
			// The config is where a seccomp profile other than the
			// default is read from.
			if err := os.WriteFile(filepath.Join(bundle, "config.json"), first, 0o644); err != nil {
				t.Fatal(err)
			}
			y, notes, err := Import(first, importOptions("config.json", bundle))
			if err != nil {
				t.Fatal(err)
			}
			if len(notes) > 0 {
				t.Errorf("importing an exported bundle lost:\n%s", notesText(notes))
			}
			checkNsupSchema(t, y)
			s, err := spec.ParseBytes("imported.yaml", bundle, y)
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Envs: []string{c.env}, Caller: &rootCaller, Seccomp: fixedSeccomp, HostPath: fixedHostPath})
			if err != nil {
				t.Fatalf("%v\n%s", err, y)
			}
			b2, err := Export(s, p, c.env)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(first), string(marshal(t, b2.Config))); d != "" {
				t.Errorf("export → import → export changed config.json (-first +second):\n%s\nimported:\n%s", d, y)
			}
			if b2.Rootfs.Type != "dir" || b2.Rootfs.Path != root {
				t.Errorf("imported rootfs: %+v", b2.Rootfs)
			}
		})
	}
}

// TestImportRuncSpec imports the config `runc spec` writes (runc 1.1.5):
// everything nsup does otherwise is noted, and the YAML is a valid spec.
func TestImportRuncSpec(t *testing.T) {
	data, err := os.ReadFile("testdata/import/runc-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	opts := importOptions("config.json", "/srv/bundles/my-app")
	opts.Schema = "https://nsup.dev/schema/nsup.schema.json"
	y, notes, err := Import(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/import/runc-spec.yaml", string(y))
	golden(t, "testdata/import/runc-spec.notes", notesText(notes))
	if _, err := spec.ParseBytes("runc-spec.yaml", "/srv/bundles/my-app", y); err != nil {
		t.Error(err)
	}
	checkNsupSchema(t, y)
	if !strings.HasPrefix(string(y), "# yaml-language-server: $schema=https://nsup.dev/schema/nsup.schema.json\n") {
		t.Errorf("no modeline first:\n%s", y)
	}
}

// TestImportUnknownAndBroken: keys runtime-spec does not have are noted,
// not dropped silently; a config without a process or root is refused.
func TestImportUnknownAndBroken(t *testing.T) {
	b, err := export(t, "examples/hello.yaml", "hello")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(marshal(t, b.Config)))
	dec.UseNumber() // RLIM_INFINITY is no float64
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	m["futureKey"] = true
	m["process"].(map[string]any)["newThing"] = "x"
	m["process"].(map[string]any)["env"] = []any{"PATH=" + planner.DefaultPath, "A=1", "BROKEN", "A=2"}
	_, notes, err := Import(marshal(t, m), importOptions("c.json", "/b"))
	if err != nil {
		t.Fatal(err)
	}
	want := `c.json: futureKey: not a runtime-spec 1.3.0 field: dropped
c.json: process.newThing: not a runtime-spec 1.3.0 field: dropped
c.json: process.env[2]: "BROKEN" is not NAME=VALUE: dropped
c.json: process.env[3]: A set twice: the last value is kept
`
	if d := cmp.Diff(want, notesText(notes)); d != "" {
		t.Errorf("notes (-want +got):\n%s", d)
	}
	for _, c := range []string{`{"ociVersion": "1.0.2", "root": {"path": "rootfs"}}`, `{"process": {"args": ["sh"]}}`, `{`} {
		if _, _, err := Import([]byte(c), ImportOptions{File: "c.json"}); err == nil {
			t.Errorf("%s: accepted", c)
		}
	}
}

// importOptions are the planner's options of the golden tests: nsup's
// defaults the same on every host.
func importOptions(file, bundle string) ImportOptions {
	return ImportOptions{File: file, Bundle: bundle, Schema: "x.json", Seccomp: fixedSeccomp, HostPath: fixedHostPath, Caller: &rootCaller}
}

// checkNsupSchema validates YAML against schema/nsup.schema.json, as an
// editor would.
func checkNsupSchema(t *testing.T, y []byte) {
	t.Helper()
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join(repoRoot(t), "schema", "nsup.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(v)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("imported YAML does not match nsup's schema: %v\n%s", err, y)
	}
}

// TestImportMknodNodev: a writable bind or tmpfs without nodev is the
// option dev, but not in a bundle that keeps CAP_MKNOD outside a user
// namespace: a node made there would open the host's device, which the
// runtime's device cgroup stops and nsup, which has none, does not (the
// tenth stop's review wrote the host's kernel log from such a bundle).
// There it is imported nodev, with a note.
func TestImportMknodNodev(t *testing.T) {
	data, err := os.ReadFile("testdata/import/runc-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, mknod := range []bool{false, true} {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if mknod {
			caps := m["process"].(map[string]any)["capabilities"].(map[string]any)
			for _, set := range []string{"bounding", "effective", "permitted"} {
				caps[set] = append(caps[set].([]any), "CAP_MKNOD")
			}
		}
		m["mounts"] = append(m["mounts"].([]any),
			map[string]any{"destination": "/data", "type": "bind", "source": "/srv/data", "options": []any{"rbind", "rprivate"}},
			map[string]any{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": []any{"nosuid"}})
		y, notes, err := Import(marshal(t, m), importOptions("config.json", "/srv/bundles/my-app"))
		if err != nil {
			t.Fatal(err)
		}
		var data, scratch string
		for _, l := range strings.Split(string(y), "\n") {
			switch {
			case strings.Contains(l, "target: /data"):
				data = l
			case strings.Contains(l, "target: /scratch"):
				scratch = l
			}
		}
		dev := strings.Contains(data, "dev]") || strings.Contains(data, "dev,")
		tdev := strings.Contains(scratch, "dev]") || strings.Contains(scratch, "dev,")
		if dev == mknod || tdev == mknod {
			t.Errorf("CAP_MKNOD kept %v: %q and %q, want the option dev %v", mknod, data, scratch, !mknod)
		}
		if noted := strings.Contains(notesText(notes), "bind on /data: nodev"); noted != mknod {
			t.Errorf("CAP_MKNOD kept %v: noted %v:\n%s", mknod, noted, notesText(notes))
		}
	}
}
