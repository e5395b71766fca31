package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpecFileDefault: validate, plan and apply find nsup.yaml as run and
// shell do (this folder, or the nearest above that has one) when FILE is
// left out, and say so on stderr; an argument with no dot nor slash that
// is no file here (a folder named as the environment, say) is an ENV;
// with no nsup.yaml found, each says what run says. Before, each said it
// needed a FILE (helper-151's user trial: compose finds its file).
func TestSpecFileDefault(t *testing.T) {
	top := t.TempDir()
	os.Chmod(top, 0o755)
	t.Setenv("NSUP_STATE_DIR", filepath.Join(top, "state"))
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(top, "cache"))
	proj := filepath.Join(top, "proj")
	sub := filepath.Join(proj, "box") // a folder named as the environment
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(proj, "nsup.yaml")
	text := "version: 1\nenvironments:\n  box:\n    rootfs: {closure: [/bin/true]}\n    namespaces: [mnt, pid]\n    processes: [{name: main, command: [/bin/true]}]\n" +
		"  other:\n    rootfs: {closure: [/bin/true]}\n    namespaces: [mnt, pid]\n    processes: [{name: main, command: [/bin/true]}]\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(proj)
	found := "nsup: " + file + "\n"
	for _, c := range []struct {
		args     []string
		code     int
		out, err string // what they hold
	}{
		{[]string{"validate", "--file-only"}, 0, file + ": valid as a file (2 environments)", found},
		{[]string{"validate"}, 0, file + ": valid (2 environments), and it plans on this host", found},
		{[]string{"plan"}, 0, "\nother ", found},
		{[]string{"plan", "box"}, 0, "\nbox ", found},
		{[]string{"plan", "-d", "other"}, 0, "\nother ", found},
		{[]string{"apply", "nosuch"}, 2, "", found + file + `: no environment named "nosuch"`},
	} {
		code, out, errs := nsup(t, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.HasPrefix(errs, c.err) {
			t.Errorf("in %s, %v: %d, stdout without %q or stderr %q, want %d and stderr from %q", proj, c.args, code, c.out, errs, c.code, c.err)
		}
		if len(c.args) == 1 && c.args[0] == "plan" && !strings.Contains(out, "\nbox ") || len(c.args) > 1 && c.args[0] == "plan" && strings.Contains(out, "\nbox ") == strings.Contains(out, "\nother ") {
			t.Errorf("%v: not the environments asked for planned", c.args)
		}
	}
	// From the folder below, the same file; the folder "box" is an ENV.
	t.Chdir(sub)
	if code, out, errs := nsup(t, "plan", "box"); code != 0 || errs != found || !strings.Contains(out, "\nbox ") || strings.Contains(out, "\nother ") {
		t.Errorf("in %s, plan box: %d %q", sub, code, errs)
	}
	// With none found: run's error, from each.
	none := filepath.Join(top, "none")
	os.Mkdir(none, 0o755)
	t.Chdir(none)
	want := "nsup: no nsup.yaml in " + none + " or any folder above it: name the spec file\n"
	for _, args := range [][]string{{"validate"}, {"plan"}, {"plan", "box"}, {"apply", "-d"}, {"run", "box", "--", "true"}} {
		if code, out, errs := nsup(t, args...); code != 2 || out != "" || !strings.HasPrefix(errs, want) {
			t.Errorf("in %s, %v: %d %q %q, want 2 and %q", none, args, code, out, errs, want)
		}
	}
}

// TestSpecFileEnvNamedFile: a bare name after plan or apply is an ENV of
// the nsup.yaml found, even when a file here has that name. Before, a
// file here named as the environment was the spec: root in an
// environment that may write the project's folder (bound for go
// generate) made one, and `sudo nsup up dev` applied it, on the host, in
// place of nsup.yaml's dev. A spec without an extension is named with a
// slash; named bare where no nsup.yaml is found, the error says so.
func TestSpecFileEnvNamedFile(t *testing.T) {
	top := t.TempDir()
	os.Chmod(top, 0o755)
	t.Setenv("NSUP_STATE_DIR", filepath.Join(top, "state"))
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(top, "cache"))
	env := func(name string) string {
		return "  " + name + ":\n    rootfs: {closure: [/bin/true]}\n    namespaces: [mnt, pid]\n    processes: [{name: main, command: [/bin/true]}]\n"
	}
	proj := filepath.Join(top, "proj")
	os.Mkdir(proj, 0o755)
	file := filepath.Join(proj, "nsup.yaml")
	os.WriteFile(file, []byte("version: 1\nenvironments:\n"+env("dev")), 0o644)
	os.WriteFile(filepath.Join(proj, "dev"), []byte("version: 1\nenvironments:\n"+env("planted")), 0o644)
	t.Chdir(proj)
	for _, args := range [][]string{{"plan", "dev"}, {"plan", "-d", "dev"}} {
		code, out, errs := nsup(t, args...)
		if code != 0 || errs != "nsup: "+file+"\n" || !strings.Contains(out, "\ndev ") || strings.Contains(out, "planted") {
			t.Errorf("in %s, %v: %d %q, stdout:\n%s\nwant nsup.yaml's dev planned", proj, args, code, errs, out)
		}
	}
	if code, out, _ := nsup(t, "plan", "./dev"); code != 0 || !strings.Contains(out, "\nplanted ") {
		t.Errorf("plan ./dev: %d, stdout:\n%s", code, out)
	}
	// No nsup.yaml above: the file is not taken, and the error names it.
	alone := filepath.Join(top, "alone")
	os.Mkdir(alone, 0o755)
	os.WriteFile(filepath.Join(alone, "web"), []byte("version: 1\nenvironments:\n"+env("web")), 0o644)
	t.Chdir(alone)
	want := "nsup: no nsup.yaml in " + alone + " or any folder above it; web is a file here, not taken as the spec without a slash (an environment's name has none): if it is the spec, name it ./web\n"
	if code, out, errs := nsup(t, "apply", "web"); code != 2 || out != "" || !strings.HasPrefix(errs, want) {
		t.Errorf("in %s, apply web: %d %q %q, want 2 and %q", alone, code, out, errs, want)
	}
}
