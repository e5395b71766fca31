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

// TestRootClosureCwdFile: in a closure root (the host's /bin ->
// usr/bin), a cwd that is a file where the links lead (/bin/cat,
// /bin/cat/sub), or nsup's generated /etc/passwd, is refused at plan
// time: before helper-151's trial each planned, and apply's chdir failed
// (not a directory), or /etc/passwd was made a folder and not generated.
// The folders beside them still work: the process runs in /etc, and
// finds its user in the /etc/passwd nsup generated.
func TestRootClosureCwdFile(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	if to := evalLink(t, "/bin"); to != "/usr/bin" {
		skipOrFail(t, "the host's /bin is "+to+", not a link to usr/bin")
	}
	dir := t.TempDir()
	spec := func(cwd string) string {
		return `version: 1
environments:
  c:
    rootfs: {closure: [/bin/sh, /bin/cat]}
    namespaces: [mnt, pid]
    user: "4321"
    cwd: ` + cwd + `
    processes:
      - {name: main, command: [/bin/sh, -c, 'pwd -P; test -f /etc/passwd && cat /etc/passwd']}
`
	}
	out := runOK(t, compile(t, dir, spec("/etc")))
	if lines := strings.Split(strings.TrimSpace(out), "\n"); lines[0] != "/etc" || !strings.Contains(out, ":4321:") {
		t.Errorf("output %q, want the process in /etc, and uid 4321 in /etc/passwd", out)
	}
	for _, c := range []struct{ cwd, err string }{
		{"/bin/cat", "passes through /usr/bin/cat where the tree's links lead it, which is no folder (a file)"},
		{"/bin/cat/sub", "passes through /usr/bin/cat where the tree's links lead it, which is no folder (a file)"},
		{"/etc/passwd", "/etc/passwd is /etc/passwd, a file nsup generates in the environment's tree"},
	} {
		if _, err := compileErr(t, dir, spec(c.cwd)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("cwd %s: plan error %v, want %s", c.cwd, err, c.err)
		}
	}
}
