package planner

import (
	"strings"
	"testing"
)

// TestEveryOpHasAStage: each operation is performed by some stage, so a
// new one cannot be planned without the executor's switches knowing it.
func TestEveryOpHasAStage(t *testing.T) {
	for _, op := range AllOps() {
		n := 0
		for _, st := range Stages() {
			if st.Performs(op) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%T: no stage performs it", op)
		}
	}
}

// TestCheckRefusesWrongStage: a step moved to a stage that does not
// perform it (a hand-edited plan) is refused, naming it.
func TestCheckRefusesWrongStage(t *testing.T) {
	p := &Plan{Environments: []Env{{Name: "e", Steps: []Step{
		{Stage: Host, Op: Rootfs{Type: "dir", Path: "/r"}},
		{Stage: Host, Op: Mount{Target: "/", Flags: msREC | msPRIVATE}},
	}}}}
	err := p.Check()
	if err == nil || !strings.Contains(err.Error(), `e: step 1: mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL) is not an operation of stage host`) {
		t.Fatalf("Check: %v", err)
	}
	p.Environments[0].Steps[1].Stage = Child
	if err := p.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
}
