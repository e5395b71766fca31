package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	goldenfile "github.com/nsup/nsup/internal/golden"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) {
	// The test binary serves as its own child stage and pasta's keeper.
	if executor.IsInit() {
		os.Exit(executor.RunInit())
	}
	if executor.IsKeeper() {
		os.Exit(executor.RunKeeper(os.Stderr))
	}
	// And as a pod's holder: that process holds namespaces, and nothing
	// else.
	if executor.IsHolder() {
		os.Exit(executor.RunHolder())
	}
	// And as nsup's command line, run by a user without privilege: the
	// plan a rootless traced apply is checked against is this binary's
	// planner's, as the root traces' is (strace_rootless_root_test.go).
	if os.Getenv(asCLI) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// Named volumes outlive an environment: every test's go to a folder
	// of the run's (a test that checks them sets its own), never to the
	// host's /var/lib/nsup/volumes.
	vols, err := os.MkdirTemp("", "nsup-test-volumes-")
	if err != nil {
		panic(err)
	}
	os.Setenv("NSUP_VOLUME_DIR", vols)
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	if holderProbeBin != "" {
		os.RemoveAll(filepath.Dir(holderProbeBin))
	}
	os.RemoveAll(vols)
	os.Exit(code)
}

// nsup runs the CLI in-process and returns its exit status and output.
func nsup(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	goldenfile.Check(t, file, got, *update)
}

func TestHelp(t *testing.T) {
	code, out, _ := nsup(t, "help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	golden(t, "testdata/help.txt", out)
	for _, c := range []string{"validate", "plan", "apply", "ps", "exec", "logs", "down", "lock", "cache", "export", "import", "version"} {
		code, out, errs := nsup(t, c, "-h")
		if code != 0 || errs != "" {
			t.Errorf("%s -h: exit %d, stderr %q", c, code, errs)
		}
		golden(t, "testdata/help-"+c+".txt", out)
		_, out2, _ := nsup(t, "help", c)
		if out2 != out {
			t.Errorf("nsup help %s differs from nsup %s -h", c, c)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"plan"}, {"validate"}, {"validate", "a", "b"}, {"plan", "--nope", "x"}, {"version", "x"}, {"help", "nope"}} {
		code, out, errs := nsup(t, args...)
		if code != 2 {
			t.Errorf("nsup %q: exit %d, want 2 (stderr %q)", args, code, errs)
		}
		if out != "" {
			t.Errorf("nsup %q wrote to stdout: %q", args, out)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := nsup(t, "version")
	if code != 0 || !strings.HasPrefix(out, "nsup ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func examples(t *testing.T) []string {
	ex, _ := filepath.Glob("../../examples/*.yaml")
	if len(ex) < 3 {
		t.Fatalf("examples: %v", ex)
	}
	return ex
}

func TestValidateAndPlanExamples(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	for _, f := range examples(t) {
		if code, _, errs := nsup(t, "validate", f); code != 0 {
			t.Errorf("validate %s: exit %d: %s", f, code, errs)
		}
		code, a, errs := nsup(t, "plan", f)
		if code != 0 {
			t.Fatalf("plan %s: exit %d: %s", f, code, errs)
		}
		_, b, _ := nsup(t, "plan", f)
		if a != b {
			t.Errorf("plan %s is not byte-identical across two runs", f)
		}
		// Saved with -o, the plan is what --json prints.
		saved := filepath.Join(t.TempDir(), "plan.json")
		if code, _, errs := nsup(t, "plan", f, "-o", saved); code != 0 {
			t.Fatalf("plan -o: %d %s", code, errs)
		}
		_, js, _ := nsup(t, "plan", "--json", f)
		got, _ := os.ReadFile(saved)
		if string(got) != js {
			t.Errorf("plan -o and --json differ for %s", f)
		}
	}
}

// invalidHostErrors are the host's errors of the corpus's environments
// that could be read (their ./rootfs is not there; one is in the host's
// pid namespace): the CLI prints them with the spec's, by position
// (withHostErrors), DIR for the corpus's folder.
var invalidHostErrors = map[string][]string{
	"join-unknown-environment":   {"5:19: environments.db.rootfs.dir: DIR/rootfs: no such file or directory"},
	"join-unknown-type":          {"6:19: environments.db.rootfs.dir: DIR/rootfs: no such file or directory"},
	"misplaced-environment-keys": {"7:19: environments.web.rootfs.dir: DIR/rootfs: no such file or directory"},
	"misplaced-mounts":           {"6:19: environments.web.rootfs.dir: DIR/rootfs: no such file or directory"},
	"misplaced-net-environment":  {"5:19: environments.net.rootfs.dir: DIR/rootfs: no such file or directory"},
	"namespace-new-and-joined":   {"5:19: environments.db.rootfs.dir: DIR/rootfs: no such file or directory"},
	"uts-joined-not-new": {"5:19: environments.db.rootfs.dir: DIR/rootfs: no such file or directory",
		"6:18: environments.db.namespaces: the host's pid namespace: root inside could signal (kill -1) and trace (ptrace) the host's processes and other environments', and run code in them: add pid to namespaces (or join an environment's that has one), or give the environment a user namespace that maps root elsewhere (idmap)"},
	"version-2":      {"6:19: environments.app.rootfs.dir: DIR/rootfs: no such file or directory"},
	"version-string": {"6:19: environments.app.rootfs.dir: DIR/rootfs: no such file or directory"},
}

// withHostLines is want, spec f's error lines, with the lines of host
// (LINE:COL: message, DIR for f's folder) among them by position.
func withHostLines(t *testing.T, f, want string, host []string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Dir(f))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(want), "\n")
	for _, h := range host {
		lines = append(lines, f+":"+strings.ReplaceAll(h, "DIR", abs))
	}
	at := func(l string) (int, int) {
		var line, col int
		fmt.Sscanf(strings.TrimPrefix(l, f+":"), "%d:%d:", &line, &col)
		return line, col
	}
	sort.SliceStable(lines, func(i, j int) bool {
		li, ci := at(lines[i])
		lj, cj := at(lines[j])
		return li < lj || li == lj && ci < cj
	})
	return strings.Join(lines, "\n")
}

// TestInvalidSpecs: every spec of the error corpus exits 2 from validate,
// plan and apply, prints all of its errors, and touches nothing: no file
// appears in the cache and the mount table is unchanged.
func TestInvalidSpecs(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", cache)
	before, _ := os.ReadFile("/proc/self/mountinfo")
	files, _ := filepath.Glob("../../spec/testdata/invalid/*.yaml")
	if len(files) < 40 {
		t.Fatalf("error corpus has %d specs, want at least 40", len(files))
	}
	for _, f := range files {
		want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".errors")
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"validate", "plan", "apply"} {
			code, out, errs := nsup(t, cmd, f)
			if code != 2 {
				t.Errorf("%s %s: exit %d, want 2", cmd, f, code)
			}
			if out != "" {
				t.Errorf("%s %s: stdout %q", cmd, f, out)
			}
			// The corpus names files relative to spec/; here they are ../../spec/...
			w := strings.ReplaceAll(string(want), "testdata/invalid/", "../../spec/testdata/invalid/")
			w = withHostLines(t, f, w, invalidHostErrors[strings.TrimSuffix(filepath.Base(f), ".yaml")])
			if strings.TrimSpace(errs) != strings.TrimSpace(w) {
				t.Errorf("%s %s: stderr\n%s\nwant\n%s", cmd, f, errs, w)
			}
		}
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("invalid specs left %d entries in the cache", len(ents))
	}
	after, _ := os.ReadFile("/proc/self/mountinfo")
	if !bytes.Equal(before, after) {
		t.Error("the mount table changed")
	}
}

// TestSavedPlanRefusedWhenSpecChanges: apply of a saved plan checks the
// spec's digest before anything else.
func TestSavedPlanRefusedWhenSpecChanges(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	src, _ := os.ReadFile("../../examples/hello.yaml")
	specFile := filepath.Join(dir, "hello.yaml")
	os.WriteFile(specFile, src, 0o644)
	saved := filepath.Join(dir, "plan.json")
	if code, _, errs := nsup(t, "plan", specFile, "-o", saved); code != 0 {
		t.Fatal(errs)
	}
	os.WriteFile(specFile, append(src, []byte("\n# edited\n")...), 0o644)
	code, _, errs := nsup(t, "apply", saved)
	if code != 2 || !strings.Contains(errs, "changed since the plan was made") {
		t.Errorf("apply of a stale plan: exit %d, %s", code, errs)
	}
	// A plan whose recorded tree no longer matches the host is refused too.
	os.WriteFile(specFile, src, 0o644)
	b, _ := os.ReadFile(saved)
	tampered := bytes.Replace(b, []byte(`"digest": "sha256:`), []byte(`"digest": "sha256:0`), 1)
	os.WriteFile(saved, tampered, 0o644)
	code, _, errs = nsup(t, "apply", saved)
	if code != 2 || !strings.Contains(errs, "changed since the plan was made") {
		t.Errorf("apply of a tampered plan: exit %d, %s", code, errs)
	}
}

func TestLineDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne"
	b := "a\nB\nc\nd\ne\nf"
	if got, want := lineDiff(a, b, 40), "- b\n+ B\n+ f"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := lineDiff(a, a, 40); got != "" {
		t.Errorf("equal inputs: %q", got)
	}
}

// TestEnvNamesChecked: exec and logs take an environment's name, as down
// does, not a path: "../x" would lead them out of the state directory (to
// a log, or a control socket, someone else made).
func TestEnvNamesChecked(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o700)
	os.Mkdir(filepath.Join(dir, "elsewhere"), 0o700)
	os.WriteFile(filepath.Join(dir, "elsewhere", "output.log"), []byte("not a log of nsup's\n"), 0o600)
	t.Setenv("NSUP_STATE_DIR", state)
	for _, args := range [][]string{{"logs", "../elsewhere"}, {"exec", "../elsewhere", "--", "true"}, {"down", "../elsewhere"}} {
		code, out, errs := nsup(t, args...)
		if code != 2 || out != "" {
			t.Errorf("nsup %q: exit %d, stdout %q, stderr %q; want exit 2", args, code, out, errs)
		}
	}
}

// TestValidateChecksHost: validate checks what a spec names on this host
// as plan does, so a missing bind source is the same error, exit 2, from
// both; --file-only checks the file alone.
func TestValidateChecksHost(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	f := filepath.Join(dir, "spec.yaml")
	src := `version: 1
environments:
  app:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./data, target: /srv}
    processes:
      - name: main
        command: [/bin/sh, -c, "true"]
`
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := nsup(t, "validate", f)
	_, _, planErrs := nsup(t, "plan", f)
	want := f + ":7:30: environments.app.mounts[0].source: " + filepath.Join(dir, "data") + ": no such file or directory: make it, or say create: true (apply then makes the folder)\n"
	if code != 2 || out != "" || errs != want {
		t.Errorf("validate with a missing bind source: exit %d, stdout %q, stderr %q; want exit 2, stderr %q", code, out, errs, want)
	}
	if planErrs != errs {
		t.Errorf("validate and plan differ: %q, %q", errs, planErrs)
	}
	code, out, errs = nsup(t, "validate", "--file-only", f)
	if code != 0 || out != f+": valid as a file (1 environment); this host was not checked\n" || errs != "" {
		t.Errorf("validate --file-only: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errs = nsup(t, "validate", f)
	if code != 0 || out != f+": valid (1 environment), and it plans on this host\n" || errs != "" {
		t.Errorf("validate with the bind source there: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// runCaptured runs cmd and returns its exit status, stdout and stderr; a
// command that cannot be run at all fails t.
func runCaptured(t testing.TB, cmd *exec.Cmd) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	return code, out.String(), errb.String()
}
