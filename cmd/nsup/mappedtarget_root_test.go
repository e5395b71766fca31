package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootMappedTargetMissing: as root, with an idmap that maps root
// inside to 100000, a bind whose target is missing in a dir root of
// root's (0755) is refused at plan time, at the mount: the plan showed
// "mkdir target if missing" and apply failed with "resolve /src inside
// the root: permission denied", as root inside may not make a folder in
// root's. The same spec with overlay: true (its upper layer root
// inside's), or with the folder made in the root, applies; a target in
// a folder root inside may not search is refused too, and applies once
// it may.
// TestMappedTargetMakeable (planner) has the other cases.
func TestRootMappedTargetMissing(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir, err := os.MkdirTemp("", "nsup-mappedtarget-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "root")
	busyboxTree(t, root)
	os.Mkdir(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "f"), []byte("bound\n"), 0o644)
	write := func(name, rootfs string) string {
		spec := filepath.Join(dir, name)
		os.WriteFile(spec, []byte(fmt.Sprintf(`version: 1
environments:
  walk:
    rootfs: %s
    namespaces: [user, mnt, pid]
    idmap: {uid: [{inside: 0, outside: 100000, count: 65536}], gid: [{inside: 0, outside: 100000, count: 65536}]}
    mounts:
      - {type: bind, source: %s/src, target: /src, readonly: true}
    processes:
      - {name: main, command: [/bin/busybox, cat, /src/f]}
`, rootfs, dir)), 0o644)
		return spec
	}
	bin := buildNsup(t)
	spec := write("missing.yaml", "{dir: "+root+"}")
	want := fmt.Sprintf(`%s:8:9: environments.walk.mounts[0].target: /src is missing in the dir root %s: apply makes it ("target if missing") inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not make its first missing folder %s/src there (%s is mode 0755, owner 0:0): apply would fail with EACCES; make %s/src in the root beforehand, say overlay: true (its upper layer is root inside's), or give an idmap that maps the root's owner and group too`, spec, root, root, root, root)
	for _, cmd := range []string{"plan", "apply"} {
		code, out, errs := runCaptured(t, exec.Command(bin, cmd, spec))
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("%s with the target missing: exit %d, want 2 and %q\n%s%s", cmd, code, want, out, errs)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "src")); err == nil {
		t.Error("the refused apply made the target")
	}
	code, out, errs := runCaptured(t, exec.Command(bin, "apply", write("overlay.yaml", "{dir: "+root+", overlay: true}")))
	if code != 0 || out != "bound\n" {
		t.Errorf("apply with overlay: true: exit %d\n%s%s", code, out, errs)
	}
	os.Mkdir(filepath.Join(root, "src"), 0o755)
	code, out, errs = runCaptured(t, exec.Command(bin, "apply", spec))
	if code != 0 || out != "bound\n" {
		t.Errorf("apply with the target made: exit %d\n%s%s", code, out, errs)
	}
	// A target that exists, in a folder root inside may not search
	// (0700, root's): refused the same (apply failed alike).
	os.MkdirAll(filepath.Join(root, "deep/src"), 0o755)
	os.Chmod(filepath.Join(root, "deep"), 0o700)
	deep := filepath.Join(dir, "deep.yaml")
	b, _ := os.ReadFile(spec)
	os.WriteFile(deep, []byte(strings.NewReplacer("target: /src", "target: /deep/src", "cat, /src/f", "cat, /deep/src/f").Replace(string(b))), 0o644)
	want = fmt.Sprintf("%s:8:9: environments.walk.mounts[0].target: /deep/src lies in the dir root %s, and apply's child stage resolves it inside the environment's user namespace, as root inside, host uid 100000 (gid 100000) through the id maps, which may not search %s/deep on its way (mode 0700, owner 0:0): apply would fail with EACCES", deep, root, root)
	code, out, errs = runCaptured(t, exec.Command(bin, "apply", deep))
	if code != 2 || !strings.Contains(errs, want) {
		t.Errorf("apply with the target's folder unsearchable: exit %d, want 2 and %q\n%s%s", code, want, out, errs)
	}
	os.Chmod(filepath.Join(root, "deep"), 0o711)
	code, out, errs = runCaptured(t, exec.Command(bin, "apply", deep))
	if code != 0 || out != "bound\n" {
		t.Errorf("apply with the target's folder searchable: exit %d\n%s%s", code, out, errs)
	}
}
