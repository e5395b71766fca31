package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
)

// TestRootMissingFolderLinkedToBind (helper-59's review, known low): the
// folders that a mount placed by its path from the root lacks are made
// by a walk that follows the tree's symlinks inside the root. Another
// environment that may write the tree (the same dir root with readonly:
// false) put a link to /data/conf in the place of the target's parent
// folder after the plan was made: the missing folder was made in the
// host's hostdata/conf, which the environment binds read-only only after
// the mount (through the writable bind of hostdata at /data). The walk
// of a mount whose path, as planned, crosses no earlier mount crosses
// none at apply either (openat2 RESOLVE_NO_XDEV): the link is refused.
func TestRootMissingFolderLinkedToBind(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	host := filepath.Join(dir, "hostdata")
	for _, d := range []string{filepath.Join(root, "data"), filepath.Join(root, "opt"), filepath.Join(host, "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ name, mount, link string }{
		{"tmpfs", "{type: tmpfs, target: /opt/new}", "/data/conf"},
		{"bind", "{type: bind, source: ./hostfile, target: /opt/new/file, readonly: true}", "../data/conf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkHost(t)
			conf := filepath.Join(host, "conf")
			if err := os.RemoveAll(conf); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(conf, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "hostfile"), []byte("f\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			p := compile(t, dir, `version: 1
environments:
  victim:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./hostdata, target: /data}
      - `+c.mount+`
      - {type: bind, source: ./hostdata/conf, target: /data/conf, readonly: true}
    processes:
      - {name: main, command: [/bin/true]}
`)
			if text := planText(p); !strings.Contains(text, "<root>/opt/new") || !strings.Contains(text, "crossing no mount") {
				t.Fatalf("the mount is not placed by its path from the root:\n%s", text)
			}
			// The other environment, after the plan: /opt is a link to
			// the host folder bound below /data.
			opt := filepath.Join(root, "opt")
			if err := os.RemoveAll(opt); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(c.link, opt); err != nil {
				t.Fatal(err)
			}
			defer func() {
				os.Remove(opt)
				os.MkdirAll(opt, 0o755)
			}()
			_, out, errOut, err := run(t, p, executor.Options{})
			if names := dirNames(filepath.Join(host, "conf")); len(names) != 0 {
				t.Errorf("the host's folder bound read-only got %v through the link in the target's path: %q %q %v", names, out, errOut, err)
			}
			if err == nil {
				t.Errorf("apply went through a link to another mount: %q %q", out, errOut)
			} else if !strings.Contains(err.Error(), "cross-device") {
				t.Errorf("apply failed, not for the link to another mount: %v", err)
			}
		})
	}
}

// TestRootMissingFolderLinkInRoot: a link of the tree that leads to
// another folder of the tree, not to another mount, is still followed by
// the walk that crosses no mount, and the missing folder is made where
// it leads.
func TestRootMissingFolderLinkInRoot(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dir := t.TempDir()
	root := busyboxRoot(t, dir)
	if err := os.MkdirAll(filepath.Join(root, "srv", "opt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/srv/opt", filepath.Join(root, "opt")); err != nil {
		t.Fatal(err)
	}
	p := compile(t, dir, `version: 1
environments:
  linked:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: tmpfs, target: /opt/new/sub}
    processes:
      - {name: main, command: [/bin/sh, -c, 'touch /opt/new/sub/f && echo made']}
`)
	if text := planText(p); !strings.Contains(text, "mkdir target if missing, crossing no mount") {
		t.Fatalf("the walk crosses mounts:\n%s", text)
	}
	if out := runOK(t, p); !strings.Contains(out, "made") {
		t.Errorf("output %q", out)
	}
	if _, err := os.Stat(filepath.Join(root, "srv", "opt", "new", "sub")); err != nil {
		t.Errorf("the folder was not made where the link leads: %v", err)
	}
}
