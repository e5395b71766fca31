package main

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// busyboxTar writes dir/name, a tar of /bin/busybox with the applets
// given as symlinks to it, and the extra members, and returns its path.
func busyboxTar(t *testing.T, dir, name string, applets []string, extra ...tar.Header) string {
	t.Helper()
	bb, err := os.ReadFile(requireBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(h tar.Header, body []byte) {
		h.Size = int64(len(body))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	add(tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, a := range applets {
		add(tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	for _, h := range extra {
		add(h, nil)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRootTarEtcFiles: an environment with a `net` key whose root is a
// tar archive: one without /etc/resolv.conf and /etc/hosts applies, the
// plan saying they are not generated (before, step "move_mount ...
// /etc/resolv.conf" failed with ENOENT: the plan assumed a tar's tree had
// them); one with them (resolv.conf a link inside the tree, as
// systemd-resolved's images have it) gets the generated files over
// them, on the first apply (unpacked) and the next (from the cache).
func TestRootTarEtcFiles(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	t.Setenv("NSUP_CACHE_DIR", filepath.Join(dir, "cache"))
	busyboxTar(t, dir, "bare.tar", []string{"true"})
	busyboxTar(t, dir, "etc.tar", []string{"cat"},
		tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "etc/hosts", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "etc/resolv.conf", Typeflag: tar.TypeSymlink, Linkname: "../run/resolv.conf", Mode: 0o777},
		tar.Header{Name: "run/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "run/resolv.conf", Typeflag: tar.TypeReg, Mode: 0o644})
	bare := filepath.Join(dir, "bare.yaml")
	os.WriteFile(bare, []byte(`version: 1
environments:
  t:
    rootfs: {tar: ./bare.tar}
    namespaces: [mnt, pid, net]
    net: {network: none}
    processes:
      - {name: main, command: [/bin/true]}
`), 0o644)
	code, plan, errs := nsup(t, "plan", bare)
	if code != 0 {
		t.Fatalf("plan: %d %s", code, errs)
	}
	for _, p := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if !strings.Contains(plan, p+" not generated: the rootfs has no file there to put it over") {
			t.Errorf("the plan does not say %s is not generated:\n%s", p, plan)
		}
	}
	for i := range 2 { // unpacked, then from the cache
		if code, out, errs := nsup(t, "apply", bare); code != 0 {
			t.Fatalf("apply %d of a tar without /etc: exit %d\n%s%s", i, code, out, errs)
		}
	}
	withEtc := filepath.Join(dir, "etc.yaml")
	os.WriteFile(withEtc, []byte(`version: 1
environments:
  t:
    rootfs: {tar: ./etc.tar}
    namespaces: [mnt, pid, net]
    net: {network: none, dns: [192.0.2.1]}
    processes:
      - {name: main, command: [/bin/cat, /etc/resolv.conf, /etc/hosts]}
`), 0o644)
	want := "# nsup: generated for t\nnameserver 192.0.2.1\n" +
		"# nsup: generated for t\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tt\n"
	for i := range 2 {
		code, out, errs := nsup(t, "apply", withEtc)
		if code != 0 || out != want {
			t.Fatalf("apply %d of a tar with /etc: exit %d\n%s\nwant\n%s\n%s", i, code, out, want, errs)
		}
	}
}
