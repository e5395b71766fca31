package planner

import (
	"bytes"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// ownMountNS runs the test t again, this binary re-executed in a mount
// namespace of its own (/ made private first, as Go does for
// CLONE_NEWNS: nothing it mounts reaches the host's, and its mounts go
// with it), with $env the folder it works in. In that run it returns
// the folder and true: the test's body runs there, writes d/skip (why)
// to skip and d/done once it has ended. In the test's own run it
// returns false once the run has ended: it calls cleanup(d) if given
// (a loop device left attached), checks the host's mount table has as
// many lines as before, fails the test if the run failed or did not
// finish, and skips (skipOrFail) as d/skip says.
func ownMountNS(t *testing.T, env string, cleanup func(d string)) (string, bool) {
	t.Helper()
	if d := os.Getenv(env); d != "" {
		return d, true
	}
	before, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env+"="+d)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if cleanup != nil {
		cleanup(d)
	}
	after, _ := os.ReadFile("/proc/self/mountinfo")
	if n, m := bytes.Count(before, []byte("\n")), bytes.Count(after, []byte("\n")); n != m {
		t.Errorf("the host's mountinfo had %d lines, has %d after", n, m)
	}
	if err != nil {
		t.Fatalf("in a mount namespace of its own: %v\n%s", err, out)
	}
	if why, err := os.ReadFile(d + "/skip"); err == nil {
		skipOrFail(t, string(why))
	}
	if _, err := os.Stat(d + "/done"); err != nil {
		t.Fatalf("the run in a mount namespace of its own did not finish:\n%s", out)
	}
	return "", false
}

// requireOverlay skips (skipOrFail) unless this process is root and the
// kernel has the overlay filesystem.
func requireOverlay(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "mounts overlays: needs root")
	}
	if fs, _ := os.ReadFile("/proc/filesystems"); !bytes.Contains(fs, []byte("\toverlay\n")) {
		skipOrFail(t, "no overlay filesystem (modprobe overlay)")
	}
}
