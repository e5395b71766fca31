package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootKubePlay: examples/pod.yaml as Kubernetes sees it. Its two
// environments' images (nsup export --image-archive) loaded into podman,
// the Pod of nsup export --kube played by podman kube play: db and web
// are the containers of one pod, web's line reaches db over the network
// they share, as under nsup apply; podman kube down removes the pod. The
// manifest is the same bytes when exported twice, and nsup import --kube
// of it gives back a spec that plans.
func TestRootKubePlay(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	pm := newPodman(t)
	b, err := os.ReadFile("../../examples/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "pod.yaml")
	os.WriteFile(f, append([]byte("name: kubetest\n"), b...), 0o644)
	for _, env := range []string{"db", "web"} {
		tarball := filepath.Join(dir, env+".tar")
		if code, _, errs := nsup(t, "export", "--image-archive", tarball, f, env); code != 0 {
			t.Fatalf("export --image-archive %s: %d %s", env, code, errs)
		}
		if code, out, errs := pm.run(t, "load", "-i", tarball); code != 0 || !strings.Contains(out+errs, "localhost/nsup/kubetest/"+env+":latest") {
			t.Fatalf("podman load %s: %d %s %s", env, code, out, errs)
		}
	}
	code, manifest, errs := nsup(t, "export", "--kube", f)
	if code != 0 || !strings.Contains(manifest, "kind: Pod") {
		t.Fatalf("export --kube: %d %s %s", code, manifest, errs)
	}
	if _, again, _ := nsup(t, "export", "--kube", f); again != manifest {
		t.Errorf("two exports differ:\n%s\n---\n%s", manifest, again)
	}
	kube := filepath.Join(dir, "pod.kube.yaml")
	os.WriteFile(kube, []byte(manifest), 0o644)
	t.Cleanup(func() { pm.run(t, "kube", "down", kube) })
	if code, out, errs := pm.run(t, "kube", "play", "--network", "none", kube); code != 0 {
		t.Fatalf("podman kube play: %d %s %s\n%s", code, out, errs, manifest)
	}
	// db's log once web's line is there (10 s at most: web retries for 10).
	var logs string
	for i := 0; i < 200 && !strings.Contains(logs, "db got: hello from web"); i++ {
		_, logs, _ = pm.run(t, "logs", "db-db")
		sleepMs(50)
	}
	if !strings.Contains(logs, "db got: hello from web") {
		_, ps, _ := pm.run(t, "ps", "-a")
		_, wl, _ := pm.run(t, "logs", "db-web")
		t.Errorf("db's log under podman: %q\nweb's: %q\n%s", logs, wl, ps)
	}
	if code, out, errs := pm.run(t, "kube", "down", kube); code != 0 {
		t.Errorf("podman kube down: %d %s %s", code, out, errs)
	}
	if _, out, _ := pm.run(t, "pod", "ps", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("pods left after kube down: %s", out)
	}
	// Back to nsup: a spec that parses and says what it could not map.
	code, imported, errs := nsup(t, "import", "--kube", kube)
	if code != 0 || !strings.Contains(imported, "db:") || !strings.Contains(imported, "web:") {
		t.Fatalf("import --kube: %d %s %s", code, imported, errs)
	}
	back := filepath.Join(dir, "back.yaml")
	os.WriteFile(back, []byte(imported), 0o644)
	if code, out, errs := nsup(t, "validate", "--file-only", back); code != 0 {
		t.Errorf("validate of the imported spec: %d %s %s\n%s", code, out, errs, imported)
	}
}
