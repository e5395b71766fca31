package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Pod's hostPath subPath, imported and applied: a link in the shared
// folder that stays inside is followed, and the container reads the
// file there; one another Pod planted that leads out of the volume (to
// the host's secrets) is refused by the plan, and nothing runs. The
// import wrote source /srv/shared/app, which apply bound wherever app
// led, where the kubelet refuses a subPath that escapes its volume.
func TestRootImportSubPathApply(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	shared, secrets := filepath.Join(dir, "shared"), filepath.Join(dir, "secrets")
	os.MkdirAll(filepath.Join(shared, "real/conf"), 0o755)
	os.MkdirAll(secrets, 0o700)
	os.WriteFile(filepath.Join(shared, "real/conf/x"), []byte("inside\n"), 0o644)
	os.WriteFile(filepath.Join(secrets, "x"), []byte("secret\n"), 0o600)
	os.Symlink("real", filepath.Join(shared, "in"))
	os.Symlink("../secrets", filepath.Join(shared, "out"))
	os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755)
	if err := os.Rename(alpineTarball(t, dir), filepath.Join(dir, "rootfs/c.tar")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ sub, out, err string }{
		{"in/conf", "inside\n", ""},
		{"out", "", "environments.c.mounts[2].subpath: " + shared + "/out leads to " + secrets + ", outside its source " + shared},
	} {
		manifest := `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  restartPolicy: Never
  volumes:
  - {name: shared, hostPath: {path: ` + shared + `}}
  containers:
  - name: c
    image: busybox
    command: [/bin/cat, /c/x]
    volumeMounts:
    - {name: shared, mountPath: /c, subPath: ` + c.sub + `, readOnly: true}
`
		m := filepath.Join(dir, "p.yaml")
		os.WriteFile(m, []byte(manifest), 0o644)
		code, y, errs := nsup(t, "import", "--kube", m)
		if code != 0 || !strings.Contains(y, "subpath: "+c.sub) {
			t.Fatalf("import --kube: %d %s\n%s", code, errs, y)
		}
		// The test's Alpine-like tree has no /etc/resolv.conf, which
		// the Pod's network (net:) binds over: no net key, as cat
		// needs none.
		f := filepath.Join(dir, "p.nsup.yaml")
		os.WriteFile(f, []byte(strings.Replace(y, "    net:\n      network: user\n", "", 1)), 0o644)
		code, out, errs := nsup(t, "apply", f)
		switch {
		case c.err == "" && (code != 0 || out != c.out):
			t.Errorf("subPath %s: exit %d, out %q, want %q: %s", c.sub, code, out, c.out, errs)
		case c.err != "" && (code == 0 || !strings.Contains(errs, c.err) || strings.Contains(out, "secret")):
			t.Errorf("subPath %s: exit %d, out %q, want it refused with %q: %s", c.sub, code, out, c.err, errs)
		}
	}
}
