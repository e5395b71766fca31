package executor_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
)

// Apply refuses to run in a process whose main thread was not kept for
// it (KeepMainThread from an init function), before it does anything:
// a goroutine of Apply's that joins a namespace could otherwise end on
// the main thread and leave it there. nsup keeps it for every command
// but those that start no environment; this process, run as the apply
// helper without, must be refused.
func TestApplyNeedsKeptMainThread(t *testing.T) {
	b, err := planner.MarshalIndent(&planner.Plan{Format: planner.FormatVersion})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, unkept := range []bool{true, false} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "NSUP_TEST_HELPER=apply", "NSUP_TEST_PLAN="+f)
		if unkept {
			cmd.Env = append(cmd.Env, "NSUP_TEST_UNKEPT=1")
		}
		out, err := cmd.CombinedOutput()
		refused := strings.Contains(string(out), "the main thread is not kept")
		if unkept && (err == nil || !refused) {
			t.Errorf("apply without the main thread kept: %v, %q; want it refused", err, out)
		}
		if !unkept && (err != nil || refused) {
			t.Errorf("apply of an empty plan with the main thread kept: %v, %q", err, out)
		}
	}
}
