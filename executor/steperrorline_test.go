package executor

import (
	"errors"
	"strings"
	"testing"

	"github.com/nsup/nsup/planner"
	"golang.org/x/sys/unix"
)

// TestStepErrorKeepsToItsLine (helper-145's): apply's error of a step
// is one line, whatever the paths it names hold. A target the plan
// wrote where a symlink of a writable dir root leads (targetlink.go:
// /lnk -> "x\nx.yaml:1:1: forged") came back in the step's error as it
// was ("resolve /x\nx.yaml:1:1: forged inside the root"), and nsup,
// which shows an error's lines each escaped (shownLines) and keeps its
// line breaks, printed a second line of the tree's choosing, passing
// for an error of nsup's. The step's call was already quoted.
func TestStepErrorKeepsToItsLine(t *testing.T) {
	const target = "/x\nx.yaml:1:1: forged"
	r := &envRun{env: &planner.Env{Name: "a", Steps: []planner.Step{
		{Stage: planner.Child, Origin: "t.yaml:6:14", Op: planner.Mount{Source: "tmpfs", Target: target, FSType: "tmpfs", Root: "/r", InRoot: true, Create: "dir"}},
		{Stage: planner.Child, Origin: "t.yaml:6:14", Op: planner.MountSetattr{Path: target}},
	}}}
	for _, c := range []struct {
		step int
		part uint64
		e    unix.Errno
	}{{0, partTarget, unix.ENOTDIR}, {0, partLink, unix.ELOOP}, {1, partTarget, unix.ENOENT}} {
		err := r.rawError(c.step, c.part, c.e)
		if !errors.Is(err, c.e) {
			t.Errorf("step %d, part %d: %v, want %v wrapped", c.step, c.part, err, c.e)
		}
		if s := err.Error(); strings.Contains(s, "\n") || !strings.Contains(s, `/x\nx.yaml:1:1: forged inside the root`) && !strings.Contains(s, `/x\nx.yaml:1:1: forged is a symlink inside the root`) {
			t.Errorf("step %d, part %d: not one line, the target escaped: %q", c.step, c.part, s)
		}
	}
}
