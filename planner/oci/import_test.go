package oci

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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
			p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Envs: []string{c.env}, Caller: &rootCaller, Seccomp: fixedSeccomp, HostPath: fixedHostPath})
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
	m := configMap(t, marshal(t, b.Config))
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

// TestImportMknodNodev: a bind or tmpfs without nodev is imported with
// the option dev only where the bundle's device rules open every device
// (as Export writes for dev) and it does not keep CAP_MKNOD outside a user
// namespace (read-only or not: a node made in a writable mount of the same
// files opens through it). Under any other rules only the devices listed
// open, which nsup, with no device cgroup, cannot say: nodev, with a note.
// The tenth stop's reviews wrote the host's kernel log from bundles
// imported dev: one keeping CAP_MKNOD with a volume, one with a
// read-only bind of /dev.
func TestImportMknodNodev(t *testing.T) {
	data, err := os.ReadFile("testdata/import/runc-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		allowAll   bool
		mknod, dev bool
		// userGID, if not "", adds a user namespace mapping root to
		// 100000 and gid 0 to it: a gid of the host's 0 passes the
		// group checks of device nodes (a review).
		userGID string
	}{
		{"runc's rules", false, false, false, ""},
		{"runc's rules, MKNOD", false, true, false, ""},
		{"every device", true, false, true, ""},
		{"every device, MKNOD", true, true, false, ""},
		{"every device, MKNOD, a user namespace", true, true, true, "100000"},
		{"every device, MKNOD, a user namespace mapping gid 0 to 0", true, true, false, "0"},
	} {
		m := configMap(t, data)
		if c.mknod {
			caps := m["process"].(map[string]any)["capabilities"].(map[string]any)
			for _, set := range []string{"bounding", "effective", "permitted"} {
				caps[set] = append(caps[set].([]any), "CAP_MKNOD")
			}
		}
		if c.userGID != "" {
			linux := m["linux"].(map[string]any)
			linux["namespaces"] = append(linux["namespaces"].([]any), map[string]any{"type": "user"})
			linux["uidMappings"] = []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
			linux["gidMappings"] = []any{map[string]any{"containerID": 0, "hostID": json.Number(c.userGID), "size": 65536}}
		}
		if c.allowAll {
			m["linux"].(map[string]any)["resources"] = map[string]any{"devices": []any{map[string]any{"allow": true, "access": "rwm"}}}
		}
		m["mounts"] = append(m["mounts"].([]any),
			map[string]any{"destination": "/data", "type": "bind", "source": "/srv/data", "options": []any{"rbind", "rprivate"}},
			map[string]any{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": []any{"nosuid"}},
			map[string]any{"destination": "/hostdev", "type": "bind", "source": "/dev", "options": []any{"rbind", "ro"}})
		y, notes, err := Import(marshal(t, m), importOptions("config.json", "/srv/bundles/my-app"))
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]string{}
		for _, l := range strings.Split(string(y), "\n") {
			for _, target := range []string{"/data", "/scratch", "/hostdev"} {
				if strings.Contains(l, "target: "+target+",") || strings.Contains(l, "target: "+target+"}") {
					lines[target] = l
				}
			}
		}
		for _, l := range lines {
			// Read-only too: the node is made in a writable mount of
			// the same files (a review).
			want := c.dev
			_, opts, _ := strings.Cut(l, "options: [")
			opts, _, _ = strings.Cut(opts, "]")
			if got := slices.Contains(strings.Split(strings.ReplaceAll(opts, " ", ""), ","), "dev"); got != want {
				t.Errorf("%s: %q, want the option dev %v", c.name, l, want)
			}
		}
		if len(lines) != 3 {
			t.Errorf("%s: mounts %v", c.name, lines)
		}
		if noted := strings.Contains(notesText(notes), "bind on /data: nodev"); noted == c.dev {
			t.Errorf("%s: noted %v:\n%s", c.name, noted, notesText(notes))
		}
	}
}

// TestImportRelativeSource: a bind's relative source is the bundle's, as
// a runtime resolves it, written absolute: in the YAML it would be the
// spec's folder's, and "~/.ssh" the caller's home (a review).
func TestImportRelativeSource(t *testing.T) {
	data, err := os.ReadFile("testdata/import/runc-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	m := configMap(t, data)
	m["mounts"] = append(m["mounts"].([]any),
		map[string]any{"destination": "/keys", "type": "bind", "source": "~/.ssh", "options": []any{"rbind", "ro"}},
		map[string]any{"destination": "/data", "type": "bind", "source": "data", "options": []any{"rbind", "ro"}})
	y, notes, err := Import(marshal(t, m), importOptions("config.json", "/srv/bundles/my-app"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"source: /srv/bundles/my-app/~/.ssh, target: /keys", "source: /srv/bundles/my-app/data, target: /data"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("no %q in:\n%s", want, y)
		}
	}
	if !strings.Contains(notesText(notes), "source ~/.ssh is relative: the bundle's /srv/bundles/my-app/~/.ssh") {
		t.Errorf("notes:\n%s", notesText(notes))
	}
}

// An absolute bind source or root path that is not clean is written as
// nsup uses it, cleaned, with a note: nsup cleans host paths as it reads
// a spec, so /srv/x/../../etc binds the host's /etc whatever /srv/x is,
// which the YAML showed as a path below /srv (helper-82's review).
func TestImportUncleanSource(t *testing.T) {
	data, err := os.ReadFile("testdata/import/runc-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	m := configMap(t, data)
	m["root"] = map[string]any{"path": "/srv/bundles/my-app/x/../../../root"}
	m["mounts"] = append(m["mounts"].([]any),
		map[string]any{"destination": "/data", "type": "bind", "source": "/srv/\u202e/../../etc", "options": []any{"rbind", "ro"}})
	y, notes, err := Import(marshal(t, m), importOptions("config.json", "/srv/bundles/my-app"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"source: /etc, target: /data", "dir: /srv/root\n"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("no %q in:\n%s", want, y)
		}
	}
	if !strings.Contains(notesText(notes), "written /etc, the path nsup binds") || !strings.Contains(notesText(notes), "written /srv/root, the folder nsup uses") {
		t.Errorf("notes:\n%s", notesText(notes))
	}
}

// Import of a config within its bound (MaxConfig) allocates at most a few
// hundred MiB, and one beyond it is refused unread (helper-82's review: a
// config.json of 22 MB, a list of {}, took 670 MB, and cmd/nsup read up
// to 256 MiB of one, 8 GB decoded).
func TestImportBounded(t *testing.T) {
	head := `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/bin/sh"]},"x":[`
	n := (MaxConfig - len(head) - 2) / 3
	worst := []byte(head + strings.TrimSuffix(strings.Repeat("{},", n), ",") + "]}")
	if len(worst) > MaxConfig {
		t.Fatalf("the config is %d bytes, over the bound", len(worst))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, _, err := Import(worst, importOptions("config.json", "/b")); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<20 {
		t.Errorf("Import of a %d-byte config allocated %d MiB", len(worst), alloc>>20)
	}
	big := append(append([]byte(nil), worst...), strings.Repeat(" ", MaxConfig)...)
	if _, _, err := Import(big, importOptions("config.json", "/b")); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Import of a %d-byte config: %v, want it refused", len(big), err)
	}
}
