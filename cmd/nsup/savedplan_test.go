package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSavedPlanNotInWritableFolder: nsup plan -o refuses to save the plan
// in a folder an environment of the spec may write. A saved plan is
// compiled again when applied, but from the spec it names itself: a
// review saved a dev box's plan in its writable project, and, as root
// inside, replaced it with the plan of a spec of its own (written in the
// project too) that bound the host's /etc; nsup apply PLAN.json applied
// that spec, and root inside read the host's files.
func TestSavedPlanNotInWritableFolder(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	proj := filepath.Join(dir, "proj")
	os.MkdirAll(filepath.Join(proj, "sub"), 0o755)
	text := "version: 1\nenvironments:\n  dev:\n    rootfs: {closure: [/bin/sh]}\n    namespaces: [mnt, pid]\n    mounts: [{type: bind, source: ., target: /src}]\n    processes: [{name: main, command: [/bin/sh, -c, 'true']}]\n"
	specFile := filepath.Join(proj, "nsup.yaml")
	if err := os.WriteFile(specFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{filepath.Join(proj, "plan.json"), filepath.Join(proj, "sub", "plan.json")} {
		code, _, errs := nsup(t, "plan", specFile, "-o", out)
		if code == 0 || !strings.Contains(errs, "lets an environment write") {
			t.Errorf("plan -o %s: exit %d, %s; want refused", out, code, errs)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s saved", out)
			os.Remove(out)
		}
	}
	out := filepath.Join(dir, "plan.json")
	if code, _, errs := nsup(t, "plan", specFile, "-o", out); code != 0 {
		t.Errorf("plan -o %s, outside the project: exit %d, %s", out, code, errs)
	}
	// Read-only, the project may hold it.
	ro := strings.Replace(text, "target: /src}", "target: /src, readonly: true}", 1)
	os.WriteFile(specFile, []byte(ro), 0o644)
	if code, _, errs := nsup(t, "plan", specFile, "-o", filepath.Join(proj, "plan.json")); code != 0 {
		t.Errorf("plan -o in a folder bound read-only: exit %d, %s", code, errs)
	}
}
