package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
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

// TestSavedPlanReadsItsFilesOnly: nsup apply PLAN.json parses the spec
// and the --env-file the plan names, and shows their errors and values,
// only once they hash to what the plan was made from. A saved plan is a
// file, a repository's perhaps: one that named ~/.git-credentials as its
// spec, or as its env file, had apply print the token as an error, and
// one whose spec used ${aws_secret_access_key} with ~/.aws/credentials
// as its env file showed the key in the difference. A plan made with
// --env-file loads.
func TestSavedPlanReadsItsFilesOnly(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir, home := t.TempDir(), t.TempDir()
	creds := filepath.Join(home, ".git-credentials")
	os.WriteFile(creds, []byte("https://bob:ghp_SECRETTOKEN@github.com\n"), 0o600)
	aws := filepath.Join(home, "credentials")
	os.WriteFile(aws, []byte("[default]\naws_secret_access_key = SECRETKEY\n"), 0o600)
	specFile := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(specFile, []byte("version: 1\nenvironments:\n  a:\n    rootfs: {closure: [/bin/sh]}\n    namespaces: [mnt, pid]\n    env: {K: \"${aws_secret_access_key:-none}\"}\n    processes: [{name: main, command: [/bin/sh]}]\n"), 0o644)
	envFile := filepath.Join(dir, "my.env")
	os.WriteFile(envFile, []byte("aws_secret_access_key=mine\n"), 0o644)
	out := filepath.Join(t.TempDir(), "plan.json")
	if code, _, errs := nsup(t, "plan", "--env-file", envFile, "-o", out, specFile); code != 0 {
		t.Fatalf("plan -o: exit %d, %s", code, errs)
	}
	saved, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	idx := planner.NewIndex(os.Getenv("NSUP_CACHE_DIR"))
	if _, err := loadPlan(out, saved, idx); err != nil {
		t.Fatalf("the plan as saved: %v", err)
	}
	var p map[string]any
	if err := json.Unmarshal(saved, &p); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, file string }{{"envFile", creds}, {"envFile", aws}, {"specPath", creds}} {
		q := maps.Clone(p)
		q[tc.key] = tc.file
		b, _ := json.Marshal(q)
		_, err := loadPlan(out, b, idx)
		if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "refused") {
			t.Errorf("a plan whose %s is %s: %v, want it refused, the file unshown", tc.key, tc.file, err)
		}
	}
}
