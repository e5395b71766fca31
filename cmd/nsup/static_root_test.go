package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// TestRootDynamicNsupRefused: nsup's init is started inside the
// environment, after the root switch, by an execveat of nsup's own
// binary, with every capability. Built with cgo, that binary is linked
// dynamically, and the environment's ld.so and libc, which whoever made
// the tree wrote, would run in it (the seventh stop's review, fix 5).
// Such a build refuses a plan that starts nsup's init, and leaves nothing
// behind; a plan that starts none (one process: the minimal monitor)
// runs. The build takes the C toolchain, which CI installs.
func TestRootDynamicNsupRefused(t *testing.T) {
	dir := rootTestDirs(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		skipOrFail(t, "needs gcc to build nsup with cgo (apt-get install gcc libc6-dev)")
	}
	bin := filepath.Join(dir, "nsup-cgo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build with cgo: %v\n%s", err, out)
	}
	if interp, err := planner.ELFInterp(bin); err != nil || interp == "" {
		t.Fatalf("the cgo build has no program interpreter (%q, %v): this test would test nothing", interp, err)
	}
	file := filepath.Join(dir, "tree.yaml")
	if err := os.WriteFile(file, []byte(`version: 1
environments:
  tree:
    rootfs: {closure: [/bin/true]}
    namespaces: [mnt, pid]
    processes:
      - {name: a, command: [/bin/true]}
      - {name: b, command: [/bin/true]}
  alone:
    rootfs: {closure: [/bin/true]}
    namespaces: [mnt, pid]
    processes:
      - {name: main, command: [/bin/true]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCaptured(t, exec.Command(bin, "apply", file, "tree"))
	if code != 1 || !strings.Contains(errs, "nsup is linked dynamically") || !strings.Contains(errs, "__nsup_init") {
		t.Errorf("a dynamically linked nsup started its init: status %d, %s", code, errs)
	}
	if code, _, errs := runCaptured(t, exec.Command(bin, "apply", "-d", file, "tree")); code != 1 || !strings.Contains(errs, "nsup is linked dynamically") {
		t.Errorf("a dynamically linked nsup started a detached init: status %d, %s", code, errs)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "state")); len(ents) > 0 {
		// A project folder may stay, empty: nothing of the environment.
		for _, e := range ents {
			if sub, _ := os.ReadDir(filepath.Join(dir, "state", e.Name())); len(sub) > 0 {
				t.Errorf("the refused apply -d left state behind: %s/%s", e.Name(), sub[0].Name())
			}
		}
	}
	if code, _, errs := runCaptured(t, exec.Command(bin, "apply", file, "alone")); code != 0 {
		t.Errorf("no init to start, yet the dynamically linked nsup refused: status %d, %s", code, errs)
	}
}
