package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootSavedPlanEnvFileReadOnce: nsup apply of a saved plan opens its
// --env-file once: the bytes checked against the plan's digest are the
// bytes parsed. Helper-120's finding: loadPlan read the file for its
// digest and the parser read it again by its path, so an env file of
// another user's (in /tmp, say), swapped between the two for a link to
// the victim's ~/.git-credentials, passed the digest and had that file's
// lines shown as errors ("expected NAME=VALUE"). The opens are counted
// under strace (openat2 with the file's path), no race run.
func TestRootSavedPlanEnvFileReadOnce(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("strace"); err != nil {
		skipOrFail(t, "needs strace")
	}
	bin := buildNsup(t)
	dir := t.TempDir()
	specFile := filepath.Join(dir, "s.yaml")
	envFile := filepath.Join(dir, "e.env")
	os.WriteFile(specFile, []byte("version: 1\nenvironments:\n  a:\n    rootfs: {closure: [/bin/true]}\n    namespaces: [mnt, pid]\n    env: {A: \"${FOO}\", B: \"${BAR}\"}\n    processes:\n      - {name: main, command: [/bin/true]}\n"), 0o644)
	os.WriteFile(envFile, []byte("FOO=1\n"), 0o644)
	plan := filepath.Join(dir, "p.json")
	cache := "NSUP_CACHE_DIR=" + filepath.Join(dir, "cache")
	cmd := exec.Command(bin, "plan", specFile, "--env-file", envFile, "-o", plan)
	cmd.Env = append(os.Environ(), "BAR=1", cache)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	// BAR differs: apply refuses the plan after parsing the spec, and
	// runs nothing.
	trace := filepath.Join(dir, "trace")
	cmd = exec.Command("strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", trace, bin, "apply", plan)
	cmd.Env = append(os.Environ(), "BAR=2", cache)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refused: a rootfs input or the host changed") {
		t.Fatalf("apply with BAR changed: %v, want refused after parsing\n%s", err, out)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"`+envFile+`"`); n != 1 {
		t.Errorf("the env file opened %d times by its path, want once (the bytes checked are the bytes parsed):\n%s", n, b)
	}
}
