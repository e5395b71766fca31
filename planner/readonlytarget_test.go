package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/spec"
)

// TestReadonlyTargetRefused (helper-138): a mount whose target is
// missing where apply would make it in a read-only mount (a folder of
// rootfs.host, a readonly: true bind, tmpfs, dev or volume, a sysfs, a
// bind whose folder create: true makes, a read-only or masked path of
// security placed right after the bind that holds it) planned, and apply
// failed at the mount's step with "read-only file system". It is refused at its
// target, naming the folder and the way out; through a link of the root
// too (where it lands). A target that is there (a folder of the host's,
// of the bind's source, the dev's shm, the kernel's /sys/fs, a read-only
// path's folder; a masked one is empty, whatever the host has), one below
// a writable mount in the read-only one, and one missing in a read-only
// root (made before the root is made read-only) plan.
func TestReadonlyTargetRefused(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"rootfs/srv", "rootfs/t", "rootfs/dev", "rootfs/sys", "src/sub/deep", "vols"}, map[string]string{"rootfs/lnk": "srv"})
	if err := os.WriteFile(filepath.Join(dir, "conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const missing = "/usr/nsup-h138-missing"
	if _, err := os.Lstat(missing); err == nil {
		t.Fatalf("the host has %s", missing)
	}
	srv := "      - {type: bind, source: ./src, target: /srv, readonly: true}\n"
	tmpfs := func(at string) string { return "      - {type: tmpfs, target: " + at + "}\n" }
	ro := "is missing in the read-only "
	// mounts is what follows the mounts key: the mounts, and security.
	for _, c := range []struct{ rootfs, mounts, want string }{
		{"{host: [/usr]}", tmpfs(missing), "t.yaml:8:9: environments.a.mounts[0].target: " + missing + " " + ro + "rootfs.host folder at /usr (environments.a.rootfs.host[0]): apply would make " + missing + " there (\"target if missing\") and fail (read-only file system); make " + missing + " on the host, or mount at a target outside /usr"},
		{"", srv + tmpfs("/srv/new"), "t.yaml:9:9: environments.a.mounts[1].target: /srv/new " + ro + "bind at /srv (environments.a.mounts[0]): apply would make /srv/new there (\"target if missing\") and fail (read-only file system); make DIR/src/new beforehand, or drop readonly: true from environments.a.mounts[0]"},
		{"", srv + tmpfs("/srv/new/deeper"), "/srv/new/deeper " + ro + "bind at /srv (environments.a.mounts[0]): apply would make /srv/new there"},
		{"", srv + "      - {type: bind, source: ./conf, target: /srv/conf}\n", "/srv/conf " + ro + "bind at /srv"},
		{"", srv + tmpfs("/lnk/new"), "/lnk/new " + ro + "bind at /srv (environments.a.mounts[0]): apply would make /srv/new there"},
		{"", "      - {type: tmpfs, target: /t, readonly: true}\n" + tmpfs("/t/x"), "/t/x " + ro + "tmpfs at /t (environments.a.mounts[0]): apply would make /t/x there (\"target if missing\") and fail (read-only file system); drop readonly: true from environments.a.mounts[0] (an empty tmpfs has no folder to mount on)"},
		{"", "      - {type: dev, target: /dev, readonly: true}\n      - {type: mqueue, target: /dev/mqueue}\n", "/dev/mqueue " + ro + "dev at /dev (environments.a.mounts[0]): apply would make /dev/mqueue there (\"target if missing\") and fail (read-only file system); drop readonly: true from environments.a.mounts[0]"},
		{"", "      - {type: sysfs, target: /sys}\n" + tmpfs("/sys/nsup-h138/x"), "/sys/nsup-h138/x " + ro + "sysfs at /sys (environments.a.mounts[0]): apply would make /sys/nsup-h138 there (\"target if missing\") and fail (read-only file system); mount at a target the kernel's sysfs has"},
		{"", "      - {type: volume, source: v, target: /srv, readonly: true}\n" + tmpfs("/srv/x"), "/srv/x " + ro + "volume at /srv (environments.a.mounts[0]): apply would make /srv/x there (\"target if missing\") and fail (read-only file system); make DIR/vols/p/v/x beforehand"},
		{"", "      - {type: bind, source: ./made, target: /srv, readonly: true, create: true}\n" + tmpfs("/srv/x"), "/srv/x " + ro + "bind at /srv (environments.a.mounts[0]): apply would make /srv/x there (\"target if missing\") and fail (read-only file system); make DIR/made/x beforehand"},
		{"", "      - {type: bind, source: ./src, target: /srv}\n" + tmpfs("/srv/sub/new") + "    security: {readonly_paths: [/srv/sub]}\n", "t.yaml:9:9: environments.a.mounts[1].target: /srv/sub/new is missing in the read-only path /srv/sub (environments.a.security.readonly_paths[0]), placed right after environments.a.mounts[0], which holds it: apply would make /srv/sub/new there (\"target if missing\") and fail (read-only file system); make DIR/src/sub/new beforehand, or leave /srv/sub out of security.readonly_paths"},
		{"", "      - {type: bind, source: ./src, target: /srv}\n" + tmpfs("/srv/sub/deep") + "    security: {masked_paths: [/srv/sub]}\n", "t.yaml:9:9: environments.a.mounts[1].target: /srv/sub/deep is missing in the masked path (an empty read-only tmpfs) /srv/sub (environments.a.security.masked_paths[0]), placed right after environments.a.mounts[0], which holds it: apply would make /srv/sub/deep there (\"target if missing\") and fail (read-only file system); mount at another target, or leave /srv/sub out of security.masked_paths"},
		// There already, or made in a writable mount, or in the root.
		{"", "      - {type: bind, source: ./src, target: /srv}\n" + tmpfs("/srv/sub/deep") + "    security: {readonly_paths: [/srv/sub]}\n", ""},
		{"{host: [/usr]}", tmpfs(hostSubfolder(t, "/usr")), ""},
		{"", srv + tmpfs("/srv/sub"), ""},
		{"", srv + tmpfs("/srv/sub") + tmpfs("/srv/sub/x"), ""},
		{"", "      - {type: dev, target: /dev, readonly: true}\n" + tmpfs("/dev/shm"), ""},
		{"", "      - {type: sysfs, target: /sys}\n" + tmpfs("/sys/fs"), ""},
		{"{dir: ./rootfs, readonly: true}", tmpfs("/new/x"), ""},
		{"", "      - {type: bind, source: ./src, target: /srv}\n" + tmpfs("/srv/new"), ""},
	} {
		rootfs, sh := c.rootfs, "/usr/bin/sh"
		if rootfs == "" {
			rootfs = "{dir: ./rootfs}"
		}
		if strings.HasPrefix(rootfs, "{dir") {
			sh = "/bin/sh"
		}
		text := "version: 1\nvolumes: {v: {}}\nenvironments:\n  a:\n    rootfs: " + rootfs + "\n    namespaces: [mnt, pid, net, ipc]\n    mounts:\n" + c.mounts +
			"    processes: [{name: main, command: [" + sh + "]}]\n"
		s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(s, fixedOptions(Options{FolderStat: folderStat, Caller: &rootCaller, CacheDir: t.TempDir(), VolumeDir: filepath.Join(dir, "vols"), Project: "p"}))
		got := ""
		if err != nil {
			got = strings.ReplaceAll(err.Error(), dir, "DIR")
		}
		switch {
		case c.want == "" && got != "":
			t.Errorf("%s%s: %s, want planned", rootfs, c.mounts, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s%s: %q, want refused: %q", rootfs, c.mounts, got, c.want)
		}
	}
}

// TestReadonlyTargetLinkOneError (helper-143's survey): a target that is
// a symlink in the folder of a read-only bind (a dangling one, or one
// whose end the plan's tree lacks: rootfs.host's /etc/mtab ->
// /proc/mounts) got targetLinks's refusal (ELOOP), and then a second one
// at the same target, saying it is missing and to make it in the bind's
// source, where it is there, as a link. One error a target.
func TestReadonlyTargetLinkOneError(t *testing.T) {
	dir := t.TempDir()
	refusalTree(t, dir, []string{"src"}, map[string]string{"src/dangling": "nowhere"})
	text := "version: 1\nenvironments:\n  a:\n    rootfs: {dir: ./rootfs}\n    namespaces: [mnt, pid, net, ipc]\n    mounts:\n" +
		"      - {type: bind, source: ./src, target: /srv, readonly: true}\n      - {type: tmpfs, target: /srv/dangling}\n" +
		"    processes: [{name: main, command: [/bin/sh]}]\n"
	s, err := spec.ParseBytes("t.yaml", dir, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(s, fixedOptions(Options{FolderStat: folderStat, Caller: &rootCaller, CacheDir: t.TempDir(), Project: "p"}))
	want := "t.yaml:8:9: environments.a.mounts[1].target: /srv/dangling is a symlink (-> \"nowhere\") in the folder mounted at /srv (environments.a.mounts[0]), below which apply follows no link: the mount would fail (ELOOP); write the target as the path the link leads to"
	if err == nil || strings.ReplaceAll(err.Error(), dir, "DIR") != want {
		t.Errorf("got %v, want only %q", err, want)
	}
}
