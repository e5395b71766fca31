package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCallerProjectUser: a project name (name: ${PROJ}) and a
// numeric user (user: "${APP_UID}") that nsup's caller gave (the .env
// beside the spec) were written in the image (its label dev.nsup.project,
// its name, its config's User) and the manifest (labels, runAsUser).
// Neither can be left out (the image's name and a claim's are the
// project's; without its user a container runs as root), so export
// refuses each at its reference, all at once, and writes nothing; -p NAME
// gives the project on the command line, which export then writes, and
// the caller's value is in no file of the image nor in the manifest.
func TestExportCallerProjectUser(t *testing.T) {
	requireBusybox(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	os.MkdirAll(filepath.Join(dir, "root", "bin"), 0o755)
	bb, _ := os.ReadFile("/bin/busybox")
	os.WriteFile(filepath.Join(dir, "root", "bin", "busybox"), bb, 0o755)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("PROJ=team-s3cret\nAPP_UID=4321\n"), 0o600)
	spec := func(user string) string {
		f := filepath.Join(dir, "nsup.yaml")
		os.WriteFile(f, []byte(`version: 1
name: ${PROJ}
environments:
  app:
    rootfs: {dir: ./root, readonly: true}
    namespaces: [mnt, pid]
    processes:
      - {name: main, user: `+user+`, command: [/bin/busybox, "true"]}
`), 0o644)
		return f
	}
	f := spec(`"${APP_UID}"`)
	env := filepath.Join(dir, ".env")
	name := f + ":2:7: name: refused: its value came from nsup's caller (${PROJ} from " + env + ":1)"
	user := f + ":8:28: environments.app.processes[0].user: refused: its value came from nsup's caller (${APP_UID} from " + env + ":2)"
	out := filepath.Join(t.TempDir(), "img")
	for _, args := range [][]string{{"--image", out}, {"--kube"}} {
		code, stdout, errs := nsup(t, append(append([]string{"export"}, args...), f)...)
		if code != 2 || stdout != "" || !strings.Contains(errs, name) || !strings.Contains(errs, user) {
			t.Errorf("export %s: exit %d, stdout %q, stderr:\n%s\nwant exit 2, nothing written, and:\n%s\n%s", args[0], code, stdout, errs, name, user)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("export %s wrote %s", args[0], out)
		}
	}
	// The user written, the project given: nothing refused, and the
	// caller's project is nowhere.
	f = spec("4321")
	if code, _, errs := nsup(t, "export", "-p", "given", "--image", out, f); code != 0 {
		t.Fatalf("export -p given --image: exit %d: %s", code, errs)
	}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if b, _ := os.ReadFile(p); err == nil && !d.IsDir() && strings.Contains(string(b), "team-s3cret") {
			t.Errorf("%s holds the caller's project", p)
		}
		return nil
	})
	code, y, errs := nsup(t, "export", "-p", "given", "--kube", f)
	if code != 0 || strings.Contains(y, "team-s3cret") || !strings.Contains(y, "nsup.dev/project: given") {
		t.Errorf("export -p given --kube: exit %d, stderr %s, manifest:\n%s\nwant it labelled given, without the caller's project", code, errs, y)
	}
	if code, _, errs := nsup(t, "export", "--kube", f); code != 2 || !strings.Contains(errs, name) || strings.Contains(errs, "processes[0].user") {
		t.Errorf("export --kube without -p: exit %d, stderr:\n%s\nwant the name refused alone", code, errs)
	}
}
