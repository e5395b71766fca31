package executor_test

import (
	"strings"
	"testing"
)

// TestRootClosureCwdThroughLink: a working directory through a link of a
// closure root's tree (the host's /bin -> usr/bin) was listed as
// written, where the plan's mkdir of the tree stops at the link: the
// cache entry lacked it, and the process's chdir failed at apply. It is
// made where it lands now (/usr/bin/work), the process runs there, and
// the link is still a link.
func TestRootClosureCwdThroughLink(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	if to := evalLink(t, "/bin"); to != "/usr/bin" {
		skipOrFail(t, "the host's /bin is "+to+", not a link to usr/bin")
	}
	dir := t.TempDir()
	p := compile(t, dir, `version: 1
environments:
  c:
    rootfs: {closure: [/bin/sh, /bin/readlink]}
    namespaces: [mnt, pid]
    cwd: /bin/work
    processes:
      - {name: main, command: [/bin/sh, -c, 'pwd -P; readlink /bin']}
`)
	if out := runOK(t, p); strings.TrimSpace(out) != "/usr/bin/work\nusr/bin" {
		t.Errorf("output %q, want the process in /usr/bin/work, /bin a link to usr/bin", out)
	}
}
