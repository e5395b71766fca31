package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner/cgroup"
	"github.com/nsup/nsup/spec"
)

// TestDotEnvMadeInside: a spec with variables (a default taken, or a
// value nsup's environment gave this time), in a folder an environment may write, with no .env beside it,
// is refused: root inside could make the .env, and the next plan would
// take its values. A review, as root in a dev box whose spec bound
// "${CACHE_DIR:-./cache}", wrote CACHE_DIR=/etc into a new .env of the
// writable project; the next nsup run bound the host's /etc writable,
// and root inside read /etc/shadow. An empty .env (bound read-only over
// itself then), the values from nsup's environment, or a read-only bind
// plan as before.
func TestDotEnvMadeInside(t *testing.T) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "root/bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "proj/cache"), 0o755)
	os.WriteFile(filepath.Join(d, "root/bin/sh"), []byte("#!/bin/sh\n"), 0o755)
	proj := filepath.Join(d, "proj")
	source := "${CACHE_DIR:-./cache}"
	compile := func(readonly string, lookup func(string) (string, bool)) error {
		text := "version: 1\nenvironments:\n  dev:\n    rootfs: {dir: " + d + "/root}\n    namespaces: [mnt, pid]\n    mounts:\n      - {type: bind, source: ., target: /src, readonly: " + readonly + "}\n      - {type: bind, source: \"" + source + "\", target: /cache}\n    processes: [{name: main, command: [/bin/sh]}]\n"
		file := filepath.Join(proj, "nsup.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		s, err := spec.ParseBytesVars(file, proj, []byte(text), spec.Vars{Lookup: lookup, DotEnv: true})
		if err != nil {
			t.Fatal(err)
		}
		o := fixedOptions(Options{CacheDir: "/var/cache/nsup", Caller: &rootCaller})
		o.Cgroups = func() (*cgroup.Layout, error) { return cgroup.Discover(os.DirFS("cgroup/testdata/hybrid")) }
		_, err = Compile(s, o)
		return err
	}
	none := func(string) (string, bool) { return "", false }
	if err := compile("false", none); err == nil || !strings.Contains(err.Error(), "no .env") || !strings.Contains(err.Error(), "CACHE_DIR") {
		t.Errorf("a default, no .env, the folder writable: %v, want refused", err)
	}
	if err := compile("true", none); err != nil {
		t.Errorf("the same, bound read-only: %v", err)
	}
	given := func(n string) (string, bool) {
		if n == "CACHE_DIR" {
			return proj + "/cache", true
		}
		return "", false
	}
	// Given by nsup's environment this time: the next nsup run may not
	// give it (sudo resets the environment), and would take a .env's.
	// A review of this check made the .env after a run with CACHE_DIR
	// given; the next, without it, took the .env's /etc.
	if err := compile("false", given); err == nil || !strings.Contains(err.Error(), "no .env") || !strings.Contains(err.Error(), "CACHE_DIR") {
		t.Errorf("CACHE_DIR from nsup's environment, no .env, the folder writable: %v, want refused", err)
	}
	// ~ is HOME from nsup's environment only, never a .env's.
	source = "~/cache"
	home := func(n string) (string, bool) { return proj, n == "HOME" }
	if err := compile("false", home); err != nil {
		t.Errorf("~ only: %v", err)
	}
	source = "${CACHE_DIR:-./cache}"
	os.WriteFile(filepath.Join(proj, ".env"), nil, 0o644)
	if err := compile("false", none); err != nil {
		t.Errorf("an empty .env beside the spec: %v", err)
	}
}
