package executor_test

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootReadonlyTargetThere (helper-138): a mount below a read-only
// one (a folder of rootfs.host, a readonly: true bind, a read-only dev,
// a sysfs, a folder of security.readonly_paths) whose target is missing is refused at plan time (apply
// failed with "read-only file system": planner's
// TestReadonlyTargetRefused). Where the target is there, nothing is made
// and the mount is placed: each tmpfs shows at its target inside, and
// takes a file.
func TestRootReadonlyTargetThere(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	for _, d := range []string{"hostdata/sub", "rwdata/ro/sub"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A folder of the host's /usr that the shell does not need.
	usr := ""
	ents, err := os.ReadDir("/usr")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if n := e.Name(); e.IsDir() && n != "bin" && n != "sbin" && !strings.HasPrefix(n, "lib") {
			usr = path.Join("/usr", n)
			break
		}
	}
	if usr == "" {
		t.Fatal("no folder in the host's /usr")
	}
	targets := []string{usr, "/srv/sub", "/dev/shm", "/sys/fs", "/rw/ro/sub"}
	tmpfs := func(at string) string { return "      - {type: tmpfs, target: " + at + ", size: 1M}\n" }
	p := compile(t, dir, `version: 1
environments:
  a:
    rootfs: {host: [/usr]}
    namespaces: [mnt, pid, net, ipc]
    mounts:
      - {type: proc, target: /proc}
`+tmpfs(usr)+`      - {type: bind, source: ./hostdata, target: /srv, readonly: true}
`+tmpfs("/srv/sub")+`      - {type: dev, target: /dev, readonly: true}
`+tmpfs("/dev/shm")+`      - {type: sysfs, target: /sys}
`+tmpfs("/sys/fs")+`      - {type: bind, source: ./rwdata, target: /rw}
`+tmpfs("/rw/ro/sub")+`    security: {readonly_paths: [/rw/ro, /proc/bus, /proc/fs, /proc/irq, /proc/sys, /proc/sysrq-trigger]}
    processes:
      - name: main
        command: [/usr/bin/sh, -c, 'for d in `+strings.Join(targets, " ")+`; do grep " $d " /proc/self/mountinfo | grep " - tmpfs " | grep -q size=1024k && echo "$d mounted"; echo x > $d/f && echo "$d written"; done']
`)
	out := runOK(t, p)
	for _, d := range targets {
		for _, w := range []string{d + " mounted\n", d + " written\n"} {
			if !strings.Contains(out, w) {
				t.Errorf("want %q in:\n%s", w, out)
			}
		}
	}
}
