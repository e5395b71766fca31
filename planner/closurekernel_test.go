package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClosureKernelFilesRefused: a closure copies host files, and a file
// of /proc or /sys is the kernel's, read for the reader: a repository's
// link to /proc/self/environ copied the caller's environment (its
// tokens) into the tree, where the plan showed /proc/PID/environ of nsup
// plan's own process, a size and a digest. Refused, named directly or
// or through a link.
func TestClosureKernelFilesRefused(t *testing.T) {
	repo := t.TempDir()
	env := filepath.Join(repo, "env")
	if err := os.Symlink("/proc/self/environ", env); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{env, "/proc/self/status"} {
		if _, err := Closure([]string{p}); err == nil || !strings.Contains(err.Error(), "is on a proc filesystem") {
			t.Errorf("closure %s: %v, want it refused", p, err)
		}
	}
	if st, err := os.Stat("/sys/kernel/uevent_seqnum"); err == nil && st.Mode().IsRegular() {
		if _, err := Closure([]string{"/sys/kernel/uevent_seqnum"}); err == nil || !strings.Contains(err.Error(), "is on a sysfs filesystem") {
			t.Errorf("closure /sys/kernel/uevent_seqnum: %v, want it refused", err)
		}
	}
}
