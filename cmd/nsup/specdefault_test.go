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
