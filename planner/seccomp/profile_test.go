package seccomp

import (
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLoadConfig: a whole OCI config.json is a profile, its linux.seccomp
// (what nsup import points a spec's seccomp at): loaded as that object
// alone is, the rest of the config ignored.
func TestLoadConfig(t *testing.T) {
	resolved, err := Default(defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := json.Marshal(&specs.Spec{
		Version: "1.1.0",
		Process: &specs.Process{Args: []string{"sh"}, Cwd: "/"},
		Root:    &specs.Root{Path: "rootfs"},
		Linux:   &specs.Linux{Seccomp: resolved, MaskedPaths: []string{"/proc/kcore"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(cfg, defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, resolved) {
		t.Error("the config's profile loads as another")
	}
	if got, want := Digest(compile(t, s, runtime.GOARCH).prog), Digest(defaultFilter(t, defaultCaps).prog); got != want {
		t.Errorf("%s, want Default's %s", got, want)
	}
	for data, want := range map[string]string{
		`{"ociVersion": "1.0.2", "process": {"args": ["sh"]}}`:                                              "an OCI config without linux.seccomp",
		`{"ociVersion": "1.0.2", "linux": {"namespaces": []}}`:                                              "an OCI config without linux.seccomp",
		`{"ociVersion": "1.0.2", "linux": {"seccomp": null}}`:                                               "an OCI config without linux.seccomp",
		`{"ociVersion": "1.0.2", "linux": {"seccomp": {"defaultAction": "SCMP_X"}}}`:                        "SCMP_X",
		`{"ociVersion": "1.0.2", "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscall": []}}}`: `unknown field "syscall"`,
		`{"ociVersion": "1.0.2", "linux": 7}`:                                                               "an OCI config",
	} {
		if _, err := Load([]byte(data), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want %q", data, err, want)
		}
	}
}
