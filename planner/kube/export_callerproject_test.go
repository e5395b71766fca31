package kube

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestExportCallerProjectUserRefused: the project (name: ${PROJ}) and the
// main process's numeric user (user: "${APP_UID}:${APP_GID}", the
// environment's where the process has none) that nsup's caller gave were
// written in the manifest: every object's label, the claims' names,
// runAsUser. Neither can be left out (a claim is named after its
// project; a container without runAsUser runs as its image's user), so
// each is refused at its reference; Options.Project (export -p) gives
// the project, which is then written. A reference's own default passes.
func TestExportCallerProjectUserRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("PROJ=team\nAPP_UID=4321\n"), 0o600)
	parse := func(text string) *spec.Spec {
		s, err := spec.ParseBytesVars("p.yaml", dir, []byte(text), spec.Vars{Lookup: func(string) (string, bool) { return "", false }, DotEnv: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := parse(`version: 1
name: ${PROJ}
volumes: {data: null}
environments:
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    user: "${APP_UID}:${APP_GID:-100}"
    mounts: [{type: volume, source: data, target: /data}]
    processes:
      - {name: main, command: [/bin/sh]}
`)
	y, _, err := Export(s, nil, nil, Options{})
	var refused Refused
	if !errors.As(err, &refused) || y != nil {
		t.Fatalf("Export gave %q, %v: want it refused", y, err)
	}
	for _, w := range []string{
		"p.yaml:2:7: name: refused: its value came from nsup's caller (${PROJ} from .env:1)",
		"p.yaml:8:11: environments.web.user: refused: its value came from nsup's caller (${APP_UID} from .env:2)",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal:\n%s\nwant it to hold:\n%s", err, w)
		}
	}
	if strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("want two refusals:\n%s", err)
	}
	y, _, err = Export(s, nil, nil, Options{Project: "given"})
	if !errors.As(err, &refused) || len(refused) != 1 || refused[0].Key != "environments.web.user" {
		t.Errorf("with Options.Project: %v, want the user refused alone", err)
	}
	s = parse(`version: 1
name: ${PROJ}
volumes: {data: null}
environments:
  web:
    rootfs: {closure: [/bin/sh]}
    namespaces: [mnt, pid]
    user: "1000:${APP_GID:-100}"
    mounts: [{type: volume, source: data, target: /data}]
    processes:
      - {name: main, command: [/bin/sh]}
`)
	y, _, err = Export(s, nil, nil, Options{Project: "given"})
	if err != nil {
		t.Fatal(err)
	}
	if m := string(y); strings.Contains(m, "team") || !strings.Contains(m, "name: given-data") || !strings.Contains(m, "nsup.dev/project: given") || !strings.Contains(m, "runAsGroup: 100") {
		t.Errorf("manifest:\n%s\nwant project given, its claim given-data, runAsGroup 100, and no caller's project", m)
	}
}
