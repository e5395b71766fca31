package main

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRootTarIdentity: a tar root gets nsup's identity lines as a dir
// root does: with `user: 1000`, which the archive's /etc/passwd lacks,
// `id -un` names the user (the host's name for it, as in a dir root) and
// HOME is the added line's; with a user the archive's passwd has, HOME is
// its. On the first apply (the archive read as it is hashed, then
// unpacked) and the next (its index entry and side file). Before, a tar
// root got none: `id -un` failed ("unknown ID 1000") and HOME was unset.
func TestRootTarIdentity(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	t.Setenv("NSUP_CACHE_DIR", cache)
	bb, err := os.ReadFile(requireBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "root.tar"))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, m := range []struct {
		h    tar.Header
		body string
	}{
		{tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, ""},
		{tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, string(bb)},
		{tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, ""},
		{tar.Header{Name: "bin/id", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, ""},
		{tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, ""},
		{tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n"},
		{tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, "root:x:0:\n"},
	} {
		m.h.Size = int64(len(m.body))
		if err := tw.WriteHeader(&m.h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(m.body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct{ user, want string }{
		{"1000", hostUserName(1000) + "\nHOME=/\n"},
		{"1001:1001", "alice\nHOME=/home/alice\n"},
	} {
		file := filepath.Join(dir, "u"+strings.ReplaceAll(tc.user, ":", "-")+".yaml")
		os.WriteFile(file, []byte(`version: 1
environments:
  t:
    rootfs: {tar: ./root.tar}
    namespaces: [mnt, pid]
    user: "`+tc.user+`"
    processes:
      - {name: main, command: [/bin/sh, -c, 'id -un && echo "HOME=$$HOME"']}
`), 0o644)
		for i := range 2 { // read and unpacked, then from the index and its side file
			code, out, errs := nsup(t, "apply", file)
			if code != 0 || out != tc.want {
				t.Errorf("user %s, apply %d: exit %d, %q, want %q\n%s", tc.user, i, code, out, tc.want, errs)
			}
			if side, _ := filepath.Glob(filepath.Join(cache, "index", "*.etc")); len(side) != 1 {
				t.Errorf("user %s, apply %d: side files %v", tc.user, i, side)
			}
		}
	}
}

// hostUserName is the name nsup gives uid in a generated /etc/passwd:
// the host's, else "user" and the id.
func hostUserName(uid int) string {
	b, _ := os.ReadFile("/etc/passwd")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, ":"); len(f) >= 3 && f[2] == strconv.Itoa(uid) && f[0] != "" {
			return f[0]
		}
	}
	return fmt.Sprintf("user%d", uid)
}
