package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// A repository's spec names its own folders, whose files and links may
// be named anything: a newline in a name would forge a line of the plan
// a reviewer reads before apply, and a terminal escape (ESC [8m, conceal)
// hide every line after it, the host binds among them. The plan's
// listing of a closure's files, its notes (which quote host paths), the
// paths in the root its steps name, the variables' references and the
// errors nsup prints show such names escaped.
func TestPlanShowsNoTerminalEscapes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	tools := filepath.Join(dir, "tools")
	bound := filepath.Join(dir, "b\x1b[8mX")
	for _, d := range []string{tools, bound} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a\x1b[8mhidden", "b\napp  child  99  forged"} {
		if err := os.WriteFile(filepath.Join(tools, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("zz\x1b[2K\nfakelink", filepath.Join(tools, "lnk")); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "nsup.yaml")
	spec := `version: 1
environments:
  app:
    rootfs: {closure: [/bin/sh, ./tools]}
    namespaces: [mnt, pid]
    env: {A: "${NSUP_TEST_UNSET_ZZ:-a\e[8mb}"}
    mounts:
      - {type: bind, source: "./b\e[8mX", target: /opt/t, readonly: true}
      - {type: tmpfs, target: "/x\e[8mY\napp  child  99  forged"}
      - {type: tmpfs, target: /t}
      - {type: tmpfs, target: "/t/a\e[8m b"}
    processes:
      - {name: main, command: [/bin/sh, -c, "true"]}
`
	if err := os.WriteFile(f, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := nsup(t, "plan", f)
	if code != 0 {
		t.Fatalf("plan: %d %s", code, errs)
	}
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("the plan holds a terminal escape:\n%q", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "app  child  99") || l == "fakelink" {
			t.Errorf("a file's name forged the plan's line %q:\n%s", l, out)
		}
	}
	for _, want := range []string{
		`"` + tools + `/a\x1b[8mhidden"  0644`,
		`"` + tools + `/b\napp  child  99  forged"  0644`,
		tools + `/lnk -> "zz\x1b[2K\nfakelink"`,
		"# app: environments.app.mounts: " + dir + `/b\x1b[8mX bound from the host`,
		`mount("tmpfs", <root>"/x\x1b[8mY\napp  child  99  forged", "tmpfs"`,
		`mount("tmpfs", <mount at /t>"/a\x1b[8m b", "tmpfs"`,
		`${NSUP_TEST_UNSET_ZZ:-a\x1b[8mb} = "a\x1b[8mb"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	// An error quotes the path as the plan does.
	spec = strings.Replace(spec, `./b\e[8mX`, `./no\e[8mX`, 1)
	if err := os.WriteFile(f, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = nsup(t, "plan", f)
	if code != 2 || out != "" || strings.ContainsRune(errs, 0x1b) || !strings.Contains(errs, dir+`/no\x1b[8mX: no such file`) {
		t.Errorf("missing source: %d %q %q", code, out, errs)
	}
}

// The plan as JSON (plan --json, plan -o) escapes what encoding/json
// leaves as it is: C1 controls (U+009B is CSI to a terminal that reads
// C1 in UTF-8) and bidirectional overrides of a spec's strings, which
// reached the terminal of whoever read it. The saved plan still applies:
// the JSON means the same.
func TestPlanJSONShowsNoTerminalEscapes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := filepath.Join(dir, "nsup.yaml")
	if err := os.WriteFile(f, []byte(`version: 1
environments:
  app:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid, net]
    processes:
      - {name: main, command: [/bin/sh, -c, "echo \u009b8m \u202eexe.txt"]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(dir, "p.json")
	_, out, errs := nsup(t, "plan", "--json", f)
	code, _, errs2 := nsup(t, "plan", "-o", saved, f)
	b, err := os.ReadFile(saved)
	if code != 0 || err != nil {
		t.Fatalf("plan: %d %v %s %s", code, err, errs, errs2)
	}
	for what, s := range map[string]string{"--json": out, "-o": string(b)} {
		if strings.ContainsAny(s, "\u009b\u202e") || !strings.Contains(s, `echo \u009b8m \u202eexe.txt`) {
			t.Errorf("plan %s holds the spec's controls as they are: %q", what, s)
		}
	}
	// As apply reads it: compiled again and compared.
	if _, err := loadPlan(saved, b, planner.NewIndex(planner.DefaultCacheDir())); err != nil {
		t.Errorf("the saved plan is refused: %v", err)
	}
}

// nsup export's notes (export --image's, --oci's) quote a spec's values (a hostname, a mount's
// target) as its plan's notes do: escaped.
func TestExportNotesShowNoTerminalEscapes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	f := filepath.Join(dir, "t.yaml")
	if err := os.WriteFile(f, []byte(`version: 1
environments:
  t:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid, uts]
    hostname: "h\e[8mx"
    mounts:
      - {type: tmpfs, target: "/x\e[8my"}
    processes:
      - {name: main, command: [/bin/sh]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := nsup(t, "export", "--image", filepath.Join(dir, "img"), f)
	if code != 0 || strings.ContainsRune(errs, 0x1b) || !strings.Contains(errs, `--hostname h\x1b[8mx`) || !strings.Contains(errs, `target /x\x1b[8my is`) {
		t.Errorf("export --image: %d %q", code, errs)
	}
}
