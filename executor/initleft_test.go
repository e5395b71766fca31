package executor

import (
	"os/exec"
	"slices"
	"testing"
)

// ownChildren finds this process's children in the host's /proc (a
// procfs of its own pid namespace): the pids killLeft kills.
func TestOwnChildren(t *testing.T) {
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	pids, err := ownChildren()
	if err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("children %v (%v), want %d among them", pids, err, cmd.Process.Pid)
	}
}
