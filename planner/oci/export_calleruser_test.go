package oci

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"github.com/nsup/nsup/spec"
)

// TestExportImageCallerUser: a numeric user that nsup's caller gave
// (user: "${APP_UID}", a .env's) was written in the image's config, for
// whoever gets it; left out, the image would run as root. ExportImage
// refuses it at its reference, the process's own on its flow line, not a
// reference of the command after it; a bundle (Export, the caller's own)
// keeps it.
func TestExportImageCallerUser(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("APP_UID=4321\nARG=x\n"), 0o600)
	s, err := spec.ParseBytesVars("u.yaml", dir, []byte(`version: 1
environments:
  e:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    user: "0"
    processes:
      - {name: main, user: "${APP_UID}", command: [/bin/sh, "${ARG}"]}
`), spec.Vars{Lookup: func(string) (string, bool) { return "", false }, DotEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Compile(s, planner.Options{CacheDir: "/var/cache/nsup", Export: true, Closure: fixedClosure, Caller: &rootCaller, Seccomp: fixedSeccomp, HostPath: fixedHostPath})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ExportImage(s, p, "e")
	var refused Refused
	if !errors.As(err, &refused) {
		t.Fatalf("ExportImage: %v, want it refused", err)
	}
	want := "u.yaml:8:28: environments.e.processes[0].user: refused: its value came from nsup's caller (${APP_UID} from .env:1)"
	if len(refused) != 2 || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "user: refused: its value came from nsup's caller (${APP_UID} from .env:1, ${ARG}") {
		t.Errorf("refusal:\n%s\nwant the command's and:\n%s", err, want)
	}
	b, err := Export(s, p, "e")
	if err != nil {
		t.Fatal(err)
	}
	if b.Config.Process.User.UID != 4321 {
		t.Errorf("the bundle's user: %d, want 4321", b.Config.Process.User.UID)
	}
}
