package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootPlanOutOthersFile: plan -o over another user's file in a sticky
// folder (as /tmp) fails, as rename(2) does there; the error names the
// file, its owner and the way out, not the temporary sibling nsup wrote
// ("rename X.tmp-NNN X: operation not permitted" before), and neither the
// file nor a temporary is left changed or behind.
func TestRootPlanOutOthersFile(t *testing.T) {
	u, dir, bin, cache := rootlessCase(t)
	sticky := filepath.Join(dir, "tmp")
	if err := os.Mkdir(sticky, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(sticky, "plan.json")
	if err := os.WriteFile(saved, []byte("root's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "repo", "examples", "hello.yaml")
	code, out, errs := u.as(t, []string{"XDG_CACHE_HOME=" + cache}, bin, "plan", "-o", saved, spec)
	want := saved + ": cannot replace it: operation not permitted (it is uid 0's, in " + sticky + ", a sticky folder, where only a file's owner may replace it); write to another name"
	if code != 1 || out != "" || !strings.Contains(errs, want) || strings.Contains(errs, ".tmp-") {
		t.Errorf("plan -o over root's file in a sticky folder: %d %q %q; want the error %q", code, out, errs, want)
	}
	if b, _ := os.ReadFile(saved); string(b) != "root's\n" {
		t.Errorf("root's file: %q", b)
	}
	if ents, _ := os.ReadDir(sticky); len(ents) != 1 {
		t.Errorf("the sticky folder holds %d files, want root's alone", len(ents))
	}
}
