package oci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	goldenfile "github.com/nsup/nsup/internal/golden"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/planner/seccomp"
	"github.com/nsup/nsup/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixedClosure resolves a closure to the named files alone, so that the
// golden bundles do not depend on this host's libraries.
// Plans made as root, whatever runs the tests; no mount flag of this
// host's is locked in them.
var rootCaller = planner.Caller{Privileged: true}

// fixedSeccomp and fixedHostPath make the golden bundles the same on
// every host: Docker's profile depends on the kernel's version, the
// masked paths on what /proc and /sys hold.
// A profile file is read as apply would read it.
func fixedSeccomp(profile string, caps []string) (*specs.LinuxSeccomp, error) {
	if profile != spec.SeccompDefault {
		data, err := os.ReadFile(profile)
		if err != nil {
			return nil, err
		}
		return seccomp.Load(data, caps)
	}
	return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow}}}, nil
}

func fixedHostPath(p string) (isDir, ok bool) {
	switch p {
	case "/proc/timer_stats", "/sys/devices/virtual/powercap":
		return false, false
	case "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug", "/proc/sysrq-trigger":
		return false, true
	}
	return true, true
}

func fixedClosure(paths []string) ([]planner.File, error) {
	m := map[string]planner.File{}
	for _, p := range paths {
		sum := sha256.Sum256([]byte(p))
		m[p] = planner.File{Path: p, Type: "file", Mode: 0o755, Source: p, Size: int64(len(p)), Digest: "sha256:" + hex.EncodeToString(sum[:])}
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			m[d] = planner.File{Path: d, Type: "dir", Mode: 0o755}
		}
	}
	var out []planner.File
	for _, f := range m {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func repoRoot(t testing.TB) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// exportCase is one environment of a spec file (relative to the repo).
type exportCase struct{ name, file, env string }

var exportCases = []exportCase{
	{"hello", "examples/hello.yaml", "hello"},
	{"devbox", "examples/devbox.yaml", "devbox"},
	{"pod-db", "examples/pod.yaml", "db"},
	{"all", "planner/oci/testdata/specs/all.yaml", "all"},
	{"userns", "planner/oci/testdata/specs/userns.yaml", "userns"},
	{"time", "planner/oci/testdata/specs/time.yaml", "clocks"},
	{"ptrace", "planner/oci/testdata/specs/ptrace.yaml", "debug"},
	// Every key of security changed, rlimits (and, in open, no filter,
	// dev: true and init: false): shared with cmd/nsup's tests.
	{"security-locked", "cmd/nsup/testdata/oci/security.yaml", "locked"},
	{"security-open", "cmd/nsup/testdata/oci/security.yaml", "open"},
}

// export parses and plans file (relative to the repo) and exports env.
func export(t testing.TB, file, env string) (*Bundle, error) {
	t.Helper()
	root := repoRoot(t)
	s, err := spec.Parse(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	s.File = file
	p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Closure: fixedClosure, Envs: []string{env}, Caller: &rootCaller, Seccomp: fixedSeccomp, HostPath: fixedHostPath})
	if err != nil {
		t.Fatal(err)
	}
	return Export(s, p, env)
}

// configMap decodes a config as a map, to be changed and encoded again,
// its numbers as they are (RLIM_INFINITY is no float64).
func configMap(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func marshal(t testing.TB, c any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(c, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
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

// TestExport compares each bundle's config.json and notes with its golden
// file, and validates it against runtime-spec's JSON Schema.
func TestExport(t *testing.T) {
	root := repoRoot(t)
	for _, c := range exportCases {
		t.Run(c.name, func(t *testing.T) {
			b, err := export(t, c.file, c.env)
			if err != nil {
				t.Fatal(err)
			}
			js := marshal(t, b.Config)
			golden(t, "testdata/export/"+c.name+".json", strings.ReplaceAll(string(js), root, "$REPO"))
			golden(t, "testdata/export/"+c.name+".notes", notesText(b.Notes))
			if err := validate(t, js); err != nil {
				t.Errorf("config.json is not valid runtime-spec:\n%v", err)
			}
			if b.Rootfs.Type != "closure" || len(b.Rootfs.Files) == 0 {
				t.Errorf("rootfs to copy: %+v", b.Rootfs)
			}
		})
	}
}

// TestExportRefused: what has no OCI equivalent is refused, every key at
// once, with its origin.
func TestExportRefused(t *testing.T) {
	_, err := export(t, "planner/oci/testdata/specs/refused.yaml", "web")
	var r Refused
	if !errors.As(err, &r) {
		t.Fatalf("export of web: %v, want Refused", err)
	}
	golden(t, "testdata/export/refused.errors", r.Error()+"\n")
	if len(r) != 6 {
		t.Errorf("%d refusals, want 6 (2 joins, 2 children, 1 second process, 1 dev)", len(r))
	}
	// db alone has none of that.
	if _, err := export(t, "planner/oci/testdata/specs/refused.yaml", "db"); err != nil {
		t.Errorf("export of db: %v", err)
	}
}

// TestExportEveryOp runs every operation type of the planner through the
// exporter's switch: a new one cannot be forgotten.
func TestExportEveryOp(t *testing.T) {
	for _, op := range planner.AllOps() {
		x := &exporter{s: &spec.Spec{}, e: &spec.Environment{}, ns: map[string]string{},
			cfg: &specs.Spec{Root: &specs.Root{}, Process: &specs.Process{}, Linux: &specs.Linux{}, Annotations: map[string]string{}}}
		err := x.step(planner.Step{Op: op})
		if err != nil && strings.Contains(err.Error(), "unhandled") {
			t.Errorf("%T: %v", op, err)
		}
	}
}

// TestOCIVersion: the version is the oldest that defines what is used.
func TestOCIVersion(t *testing.T) {
	// devbox: its recursive read-only bind is rro; security-*: recursive
	// bind flags, and locked's profile sets errnoRet. Docker's default
	// profile (not the golden tests' fixed one) sets defaultErrnoRet.
	want := map[string]string{"hello": "1.0.2", "devbox": "1.1.0", "pod-db": "1.0.2", "all": "1.1.0", "userns": "1.0.2", "time": "1.1.0", "ptrace": "1.0.2",
		"security-locked": "1.1.0", "security-open": "1.1.0"}
	for _, c := range exportCases {
		b, err := export(t, c.file, c.env)
		if err != nil {
			t.Fatal(err)
		}
		if b.Config.Version != want[c.name] {
			t.Errorf("%s: ociVersion %s, want %s", c.name, b.Config.Version, want[c.name])
		}
	}
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// validate checks a config against the JSON Schema that runtime-spec ships
// (schema/config-schema.json of the module whose Go types export uses).
func validate(t testing.TB, js []byte) error {
	t.Helper()
	schemaOnce.Do(func() {
		schema, schemaErr = runtimeSpecSchema()
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return schema.Validate(inst)
}

func runtimeSpecSchema() (*jsonschema.Schema, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/opencontainers/runtime-spec").Output()
	if err != nil {
		return nil, err
	}
	dir := strings.TrimSpace(string(out))
	c := jsonschema.NewCompiler()
	// The files without a $schema (config-vm.json) are draft-04 too.
	c.DefaultDraft(jsonschema.Draft4)
	c.UseLoader(pointerFixLoader{})
	return c.Compile(filepath.Join(dir, "schema", "config-schema.json"))
}

// pointerFixLoader reads runtime-spec's schema files, some of whose $refs
// end in "#definitions/X": not a JSON pointer (it must start with "/"),
// which lenient validators (gojsonschema, runtime-tools') read as
// "#/definitions/X". So does this loader.
type pointerFixLoader struct{}

func (pointerFixLoader) Load(url string) (any, error) {
	f, err := jsonschema.FileLoader{}.ToFile(url)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	b = bytes.ReplaceAll(b, []byte(`#definitions/`), []byte(`#/definitions/`))
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// TestSchemaRejects: the validator can fail.
func TestSchemaRejects(t *testing.T) {
	b, err := export(t, "examples/hello.yaml", "hello")
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(m map[string]any){
		"no ociVersion": func(m map[string]any) { delete(m, "ociVersion") },
		"bad namespace": func(m map[string]any) {
			m["linux"].(map[string]any)["namespaces"] = []any{map[string]any{"type": "nope"}}
		},
		"relative cwd type": func(m map[string]any) { m["process"].(map[string]any)["cwd"] = 7 },
		"args not a list":   func(m map[string]any) { m["process"].(map[string]any)["args"] = "sh" },
	} {
		m := configMap(t, marshal(t, b.Config))
		if validate(t, marshal(t, m)) != nil {
			t.Fatal("the config, decoded and encoded again, is not valid")
		}
		edit(m)
		if validate(t, marshal(t, m)) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestExportTerminal: a plan made with a terminal (nsup's stdin one)
// gives the process a terminal; import says nsup decides that itself.
func TestExportTerminal(t *testing.T) {
	root := repoRoot(t)
	s, err := spec.Parse(filepath.Join(root, "examples/hello.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Closure: fixedClosure, Envs: []string{"hello"}, Caller: &rootCaller,
		Seccomp: fixedSeccomp, HostPath: fixedHostPath, Terminal: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Export(s, p, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Config.Process.Terminal {
		t.Error("process.terminal is false")
	}
	js := marshal(t, b.Config)
	if err := validate(t, js); err != nil {
		t.Error(err)
	}
	_, notes, err := Import(js, importOptions("config.json", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if got := notesText(notes); !strings.Contains(got, "process.terminal: ") || strings.Count(got, "\n") != 1 {
		t.Errorf("notes:\n%s", got)
	}
}

// TestExportSkippedPaths: a path of the spec's masked_paths or
// readonly_paths that the plan skips (not there) is said, not dropped
// without a word.
func TestExportSkippedPaths(t *testing.T) {
	s, err := spec.ParseBytes("skipped.yaml", t.TempDir(), []byte(`version: 1
environments:
  e:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    security: {masked_paths: [/bin/sh, /etc/nothing], readonly_paths: [/nowhere]}
    processes:
      - {name: main, command: [/bin/sh]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Closure: fixedClosure, Caller: &rootCaller, Seccomp: fixedSeccomp, HostPath: fixedHostPath})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Export(s, p, "e")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Config.Linux.MaskedPaths; !cmp.Equal(got, []string{"/bin/sh"}) || len(b.Config.Linux.ReadonlyPaths) != 0 {
		t.Errorf("maskedPaths %q, readonlyPaths %q", got, b.Config.Linux.ReadonlyPaths)
	}
	want := `skipped.yaml:6:40: environments.e.security.masked_paths[1]: not there when planned, so neither confined by nsup nor listed in linux.maskedPaths
skipped.yaml:6:72: environments.e.security.readonly_paths[0]: not there when planned, so neither confined by nsup nor listed in linux.readonlyPaths
`
	if got := notesText(b.Notes); !strings.Contains(got, want) {
		t.Errorf("notes:\n%s\nwant them to hold:\n%s", got, want)
	}
}

// TestExportImageCallerValues: an image (ExportImage) leaves out the
// variables whose values came from nsup's caller (its environment, the
// .env file), with a note each: an image is made to be shared, and a
// 0600 .env's token was in its config for whoever pulled it. A value the
// spec writes, or a reference's own default, stays; a process's literal
// value overrides the environment's variable of the caller. A bundle
// (Export) keeps every variable: it is the caller's, 0600.
func TestExportImageCallerValues(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("API_TOKEN=s3cr3t\n"), 0o600)
	lookup := func(n string) (string, bool) {
		if n == "SHELL_KEY" {
			return "k3y", true
		}
		return "", false
	}
	s, err := spec.ParseBytesVars("vars.yaml", dir, []byte(`version: 1
environments:
  e:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    env:
      TOKEN: ${API_TOKEN}
      KEY: "key=${SHELL_KEY}"
      TAG: ${TAG:-dev}
      MODE: prod
      OVER: ${API_TOKEN}
      NOTES: |
        line one
        token ${API_TOKEN}
    processes:
      - name: main
        command: [/bin/sh]
        env: {OVER: literal}
`), spec.Vars{Lookup: lookup, DotEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Closure: fixedClosure, Caller: &rootCaller, Seccomp: fixedSeccomp, HostPath: fixedHostPath})
	if err != nil {
		t.Fatal(err)
	}
	img, err := ExportImage(s, p, "e")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range img.Config.Process.Env {
		if strings.Contains(kv, "s3cr3t") || strings.Contains(kv, "k3y") {
			t.Errorf("the image's config holds %q", kv)
		}
	}
	for _, kv := range []string{"TAG=dev", "MODE=prod", "OVER=literal"} {
		if !slices.Contains(img.Config.Process.Env, kv) {
			t.Errorf("the image's config lacks %s: %q", kv, img.Config.Process.Env)
		}
	}
	want := `vars.yaml:7:7: environments.e.env.TOKEN: not in the image: its value came from nsup's caller (${API_TOKEN} from .env:1), which an image, made to be shared, does not carry: give it when the container starts (podman run -e TOKEN or --env-file)
vars.yaml:8:7: environments.e.env.KEY: not in the image: its value came from nsup's caller (${SHELL_KEY} from environment), which an image, made to be shared, does not carry: give it when the container starts (podman run -e KEY or --env-file)
vars.yaml:12:7: environments.e.env.NOTES: not in the image: its value came from nsup's caller (${API_TOKEN} from .env:1), which an image, made to be shared, does not carry: give it when the container starts (podman run -e NOTES or --env-file)
`
	if got := notesText(img.Notes); !strings.Contains(got, want) || strings.Contains(got, "OVER") || strings.Contains(got, "TAG") {
		t.Errorf("notes:\n%s\nwant them to hold:\n%s", got, want)
	}
	b, err := Export(s, p, "e")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(b.Config.Process.Env, "TOKEN=s3cr3t") || !slices.Contains(b.Config.Process.Env, "KEY=key=k3y") {
		t.Errorf("the bundle's config lacks the caller's values: %q", b.Config.Process.Env)
	}
}

// TestExportImageCallerArgs (helper-142's review): an image's
// entrypoint (the main process's command) and working folder are its
// config's, for whoever pulls it, as its variables are; a ${VAR} of the
// caller in them (the .env's token on a command line) went into the
// image while the same value in env was left out. They cannot be left
// out: export --image refuses, at each reference, and says how to give
// the value at run time. A reference's own default stays; a bundle
// (Export, 0600) keeps them.
func TestExportImageCallerArgs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("API_TOKEN=s3cr3t\n"), 0o600)
	lookup := func(n string) (string, bool) {
		if n == "WORK" {
			return "/srv/w0rk", true
		}
		return "", false
	}
	text := `version: 1
environments:
  e:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    processes:
      - name: main
        command: [/bin/sh, -c, "exec app --token=${API_TOKEN}", "${MODE:-dev}"]
        cwd: $WORK
`
	s, err := spec.ParseBytesVars("vars.yaml", dir, []byte(text), spec.Vars{Lookup: lookup, DotEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Closure: fixedClosure, Caller: &rootCaller, Seccomp: fixedSeccomp, HostPath: fixedHostPath})
	if err != nil {
		t.Fatal(err)
	}
	img, err := ExportImage(s, p, "e")
	want := []string{
		"vars.yaml:8:32: environments.e.processes[0].command[2]: refused: its value came from nsup's caller (${API_TOKEN} from .env:1), and an image, made to be shared, carries its command for whoever gets it: give the value as a variable, left out of the image and given when the container starts (env: {API_TOKEN: ${API_TOKEN}}, podman run -e API_TOKEN), and read it there ($$API_TOKEN through a shell)",
		"vars.yaml:9:14: environments.e.processes[0].cwd: refused: its value came from nsup's caller ($WORK from environment), and an image, made to be shared, carries its working folder for whoever gets it: write the folder's path",
	}
	if err == nil {
		t.Fatalf("ExportImage gave an image: %q in %q", img.Config.Process.Args, img.Config.Process.Cwd)
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("error:\n%s\nwant it to hold:\n%s", got, w)
		}
	}
	if strings.Contains(got, "command[3]") || strings.Contains(got, "command[1]") {
		t.Errorf("a default, or a value the spec writes, refused:\n%s", got)
	}
	b, err := Export(s, p, "e")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(b.Config.Process.Args, "exec app --token=s3cr3t") || b.Config.Process.Cwd != "/srv/w0rk" {
		t.Errorf("the bundle lacks the caller's values: %q, cwd %q", b.Config.Process.Args, b.Config.Process.Cwd)
	}
}
