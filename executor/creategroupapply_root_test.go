package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/executor"
	"golang.org/x/sys/unix"
)

// TestRootCreateGroupWriteApply: apply refuses a create: true source in
// a folder another user may write to through its group, not sticky
// (helper-150; TestRootCreateGroupWriteRefused shows the swap), naming
// the folder, the group and the way out, and removes the folder it made
// for an earlier bind; once the group may not write (chmod g-w, the way
// out named), the same plan applies.
func TestRootCreateGroupWriteApply(t *testing.T) {
	requireRoot(t)
	checkHost(t)
	dev, devName := executor.MakeTeamGroup(t)
	t.Setenv("SUDO_UID", "")
	dir := t.TempDir()
	busyboxRoot(t, dir)
	for _, d := range []string{"a", "cache"} {
		os.Mkdir(filepath.Join(dir, "rootfs", d), 0o755)
	}
	team := filepath.Join(dir, "team")
	if err := os.Mkdir(team, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(team, 0, int(dev))
	if err := unix.Chmod(team, 0o2775); err != nil {
		t.Fatal(err)
	}
	p := compile(t, dir, `version: 1
name: proj
environments:
  grp:
    rootfs: {dir: ./rootfs}
    namespaces: [mnt, pid]
    mounts:
      - {type: bind, source: ./made/a, target: /a, create: true}
      - {type: bind, source: ./team/cache, target: /cache, create: true}
    processes:
      - name: main
        command: [/bin/sh, -c, "ls -d /a /cache"]
`)
	if text := planText(p); strings.Index(text, "/made/a") > strings.Index(text, "/team/cache") {
		t.Fatalf("the plan makes ./team/cache before ./made/a: no rollback to see\n%s", text)
	}
	_, _, _, err := run(t, p, executor.Options{})
	if err == nil {
		t.Fatalf("applied, %s writable by group %s (a member besides root)", team, devName)
	}
	for _, want := range []string{team + ", on the way, is a folder group " + devName, "not sticky (mode 2775)", "chmod g-w " + team} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	for _, d := range []string{filepath.Join(dir, "made"), filepath.Join(team, "cache")} {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("%s is left", d)
		}
	}
	if err := unix.Chmod(team, 0o2755); err != nil {
		t.Fatal(err)
	}
	if out := runOK(t, p); out != "/a\n/cache\n" {
		t.Errorf("after chmod g-w: %q", out)
	}
}
