package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSavedFilesKeepSecrets: a saved plan (plan -o) and an OCI bundle's
// config.json hold the environments' variables, with the values a 0600
// .env (or nsup's environment) gave them: they are the caller's alone
// (0600), not readable by every host user. Found by helper-131's review:
// both were made 0644 whatever the umask, and another uid read the
// .env's token from the saved plan. The lock holds no variable: 0644.
func TestSavedFilesKeepSecrets(t *testing.T) {
	t.Setenv("NSUP_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	spec := filepath.Join(dir, "nsup.yaml")
	src := `version: 1
environments:
  web:
    rootfs:
      closure: [/bin/sh]
    namespaces: [mnt, pid]
    env:
      TOKEN: ${API_TOKEN}
    processes:
      - name: main
        command: [/bin/sh, -c, "true"]
`
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("API_TOKEN=s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	saved := filepath.Join(out, "plan.json")
	if code, _, errs := nsup(t, "plan", spec, "-o", saved); code != 0 {
		t.Fatalf("plan -o: exit %d: %s", code, errs)
	}
	bundle := filepath.Join(out, "bundle")
	if code, _, errs := nsup(t, "export", "--oci", bundle, spec); code != 0 {
		t.Fatalf("export --oci: exit %d: %s", code, errs)
	}
	if code, _, errs := nsup(t, "lock", spec); code != 0 {
		t.Fatalf("lock: exit %d: %s", code, errs)
	}
	for _, c := range []struct {
		name string
		mode os.FileMode
	}{{saved, 0o600}, {filepath.Join(bundle, "config.json"), 0o600}, {spec + ".lock", 0o644}} {
		b, err := os.ReadFile(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if c.mode == 0o600 && !strings.Contains(string(b), "s3cr3t-value") {
			t.Errorf("%s does not hold the variable's value: the test shows nothing", c.name)
		}
		if fi, err := os.Stat(c.name); err != nil || fi.Mode().Perm() != c.mode {
			t.Errorf("%s: %v, mode %v, want %v", c.name, err, fi.Mode().Perm(), c.mode)
		}
	}
}
