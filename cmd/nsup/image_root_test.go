package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// podmanEnv is a podman of the test's own: images, containers and
// everything it runs under dir (vfs storage: no overlay mount left
// behind), configured for this kind of host (runc: crun refuses the hybrid
// cgroup layout; cgroupfs; ulimits no higher than root's hard ones here,
// which root may not raise). Everything it made is removed at cleanup.
type podmanEnv struct {
	dir  string
	conf string
}

func newPodman(t *testing.T) podmanEnv {
	t.Helper()
	for _, tool := range []string{"podman", "skopeo", "umoci"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "needs "+tool+" (apt-get install podman skopeo umoci)")
		}
	}
	dir, err := os.MkdirTemp("", "nsup-podman-")
	if err != nil {
		t.Fatal(err)
	}
	p := podmanEnv{dir: dir, conf: filepath.Join(dir, "containers.conf")}
	os.WriteFile(p.conf, []byte(`[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
`), 0o644)
	t.Cleanup(func() {
		p.run(t, "pod", "rm", "-a", "-f")
		p.run(t, "rm", "-a", "-f")
		p.run(t, "rmi", "-a", "-f")
		p.run(t, "volume", "rm", "-a", "-f")
		if code, out, errs := p.run(t, "ps", "-a", "-q"); code != 0 || strings.TrimSpace(out) != "" {
			t.Errorf("podman containers left: %d %s %s", code, out, errs)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("podman's folder: %v", err)
		}
	})
	return p
}

// run is podman ARGS with the test's storage and configuration.
func (p podmanEnv) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	global := []string{"--root", filepath.Join(p.dir, "root"), "--runroot", filepath.Join(p.dir, "run"),
		"--storage-driver", "vfs", "--tmpdir", filepath.Join(p.dir, "tmp")}
	cmd := exec.Command("podman", append(global, args...)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	return runCaptured(t, cmd)
}

const imageSpec = `version: 1
name: imgtest
environments:
  probe:
    rootfs: {closure: [/bin/busybox]}
    namespaces: [mnt, pid, uts, ipc]
    hostname: probe
    env: {GREETING: hello, MODE: "a b"}
    cwd: /srv
    user: "1000:1000"
    mounts:
      - {type: tmpfs, target: /srv}
    processes:
      - name: main
        command: [/bin/busybox, sh, -c, 'echo "host=$$(/bin/busybox hostname) id=$$(/bin/busybox id -u):$$(/bin/busybox id -g) cwd=$$(pwd) greeting=$$GREETING mode=$$MODE path=$$PATH"; echo "args: $$0 $$*"', one, two]
`

// TestRootExportImage: nsup export --image and --image-archive write an
// OCI image that skopeo reads and umoci unpacks, the same bytes each
// time; podman load of it and podman run print what nsup apply prints
// (hostname given to podman: an image has none).
func TestRootExportImage(t *testing.T) {
	requireBusybox(t)
	dir := rootTestDirs(t)
	pm := newPodman(t)
	f := filepath.Join(dir, "nsup.yaml")
	os.WriteFile(f, []byte(imageSpec), 0o644)
	const ref = "localhost/nsup/imgtest/probe:latest"
	// Reproducible: two layouts, two archives, the same bytes.
	var index, archive []string
	for i, name := range []string{"a", "b"} {
		layout := filepath.Join(dir, "layout-"+name)
		code, _, errs := nsup(t, "export", "--image", layout, f)
		if code != 0 || !strings.Contains(errs, "exported probe to "+layout) || !strings.Contains(errs, "nsup.yaml:7:15: environments.probe.hostname: not in the image") {
			t.Fatalf("export --image: %d %s", code, errs)
		}
		b, _ := os.ReadFile(filepath.Join(layout, "index.json"))
		index = append(index, string(b))
		tarball := filepath.Join(dir, "image-"+name+".tar")
		if code, _, errs := nsup(t, "export", "--image-archive", tarball, f); code != 0 {
			t.Fatalf("export --image-archive: %d %s", code, errs)
		}
		b, _ = os.ReadFile(tarball)
		archive = append(archive, string(b))
		if i == 0 {
			// Not over an image already there.
			if code, _, errs := nsup(t, "export", "--image", layout, f); code == 0 || !strings.Contains(errs, "not empty") {
				t.Errorf("export over a layout: %d %s", code, errs)
			}
		}
	}
	if index[0] != index[1] || archive[0] != archive[1] || len(archive[0]) < 1<<20 {
		t.Errorf("two exports differ: index %q / %q, archives of %d and %d bytes", index[0], index[1], len(archive[0]), len(archive[1]))
	}
	if !strings.Contains(index[0], `"org.opencontainers.image.ref.name":"`+ref+`"`) {
		t.Errorf("index.json: %s", index[0])
	}
	layout := filepath.Join(dir, "layout-a")
	// skopeo reads it (and checks its digests as it copies the config).
	out, err := exec.Command("skopeo", "inspect", "--config", "oci:"+layout+":"+ref).CombinedOutput()
	var cfg struct {
		Config struct {
			User, WorkingDir string
			Env, Entrypoint  []string
			Labels           map[string]string
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err != nil || json.Unmarshal(out, &cfg) != nil {
		t.Fatalf("skopeo inspect: %v %s", err, out)
	}
	c := cfg.Config
	if c.User != "1000:1000" || c.WorkingDir != "/srv" || !strings.Contains(strings.Join(c.Env, "\n"), "GREETING=hello\nMODE=a b") ||
		len(c.Entrypoint) != 6 || c.Entrypoint[4] != "one" || c.Labels["dev.nsup.environment"] != "probe" || c.Labels["dev.nsup.project"] != "imgtest" ||
		!strings.HasPrefix(c.Labels["dev.nsup.spec-digest"], "sha256:") || len(cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("image config: %s", out)
	}
	// umoci unpacks it: the tree has busybox, owned by root, and /srv.
	bundle := filepath.Join(dir, "unpacked")
	if out, err := exec.Command("umoci", "unpack", "--image", layout+":"+ref, bundle).CombinedOutput(); err != nil {
		t.Fatalf("umoci unpack: %v %s", err, out)
	}
	if st, err := os.Stat(filepath.Join(bundle, "rootfs", "usr", "bin", "busybox")); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("unpacked busybox: %v", err)
	}
	if st, err := os.Stat(filepath.Join(bundle, "rootfs", "srv")); err != nil || !st.IsDir() {
		t.Errorf("unpacked /srv (the tmpfs' target): %v", err)
	}
	// The same output under podman as under nsup.
	code, want, errs := nsup(t, "apply", f)
	if code != 0 || !strings.Contains(want, "host=probe id=1000:1000 cwd=/srv greeting=hello mode=a b") {
		t.Fatalf("nsup apply: %d %q %s", code, want, errs)
	}
	if code, out, errs := pm.run(t, "load", "-i", filepath.Join(dir, "image-a.tar")); code != 0 || !strings.Contains(out+errs, "Loaded image: "+ref) {
		t.Fatalf("podman load: %d %s %s", code, out, errs)
	}
	code, got, errs := pm.run(t, "run", "--rm", "--network", "none", "--hostname", "probe", ref)
	if code != 0 || got != want {
		t.Errorf("podman run: %d %q %s\nnsup apply: %q", code, got, errs, want)
	}
}
