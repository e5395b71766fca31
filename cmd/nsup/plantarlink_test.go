package main

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A repository's rootfs.tar may be a symlink to any archive of the host
// (a backup of /etc): the plan names the archive it hashed, as it names
// where a bind's source and a dir root lead, not only the spec's
// ./root.tar.
func TestPlanShowsResolvedTar(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(elsewhere, "backup.tar")
	f, err := os.Create(real)
	if err != nil {
		t.Fatal(err)
	}
	w := tar.NewWriter(f)
	w.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	w.WriteHeader(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o755, Size: 1})
	w.Write([]byte("x"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	repo := filepath.Join(dir, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(repo, "root.tar")); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(repo, "nsup.yaml")
	if err := os.WriteFile(spec, []byte(`version: 1
environments:
  app:
    rootfs: {tar: ./root.tar}
    namespaces: [mnt, pid, net]
    processes: [{name: main, command: [sh]}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := nsup(t, "plan", spec)
	if code != 0 {
		t.Fatalf("plan: %d %s", code, errs)
	}
	want := "# app: environments.app.rootfs.tar: " + filepath.Join(repo, "root.tar") + " is " + real + " (symlinks resolved now"
	if !strings.Contains(out, want) {
		t.Errorf("plan lacks %q:\n%s", want, out)
	}
}
