package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDownBareNameNotFile: `nsup down dev` takes dev as an environment's
// name even where a file here is named dev. Root in an environment that
// may write the project's folder made such a file, a spec of another
// project's names, and an admin's `nsup down dev` took down that
// project's environments (found by helper-161 beside its fix of plan
// and apply). ./dev names the file.
func TestDownBareNameNotFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("NSUP_STATE_DIR", filepath.Join(dir, "state"))
	planted := "version: 1\nname: victim\nenvironments:\n  db:\n    rootfs: {dir: /}\n    namespaces: [mnt]\n    processes: [{name: main, command: [/bin/true]}]\n"
	if err := os.WriteFile(filepath.Join(dir, "dev"), []byte(planted), 0o644); err != nil {
		t.Fatal(err)
	}
	refs, project, _ := downTargets([]string{"dev"}, "")
	for _, r := range refs {
		if r.project == "victim" {
			t.Errorf("down dev took the file dev as the spec: %v (project %q)", refs, project)
		}
	}
	refs, _, err := downTargets([]string{"./dev"}, "")
	if err != nil || len(refs) != 1 || refs[0].project != "victim" || refs[0].name != "db" {
		t.Errorf("down ./dev: %v %v, want victim/db", refs, err)
	}
}
