package planner

import (
	"fmt"
	"reflect"
	"sync"
)

// Which stage performs which operation: the one table the executor's
// switches follow (one switch per stage), checked once when a plan is
// loaded (Check), so that a step in a stage that cannot perform it (a
// hand-edited plan) is refused before anything is done.
var stageOps = map[Stage][]Op{
	Host: {Rootfs{}, OpenTree{}, Openpty{}, NullDevice{}, CgroupMkdir{}, CgroupWrite{}, Unshare{}, TimeOffsets{}, Setns{}, Fork{}, Clone{}, CgroupJoin{}, UIDMap{}, GIDMap{}, IdmapTree{},
		DenySetgroups{}, Pasta{}, Mkdir{}, Volume{}, MkdirAll{}, Hold{}, Flock{}, Stdio{}, Listen{}, SaveState{}, WaitHealthy{}},
	Forked: {Prctl{}, Setns{}, Clone{}},
	Child: {Keyctl{}, Landlock{}, Setgroups{}, InheritCaps{}, CapbsetDrop{}, Prctl{}, Setsid{}, Unshare{}, TimeOffsets{}, Setns{}, Clone{},
		Mount{}, MountSetattr{}, Overlay{}, MakeCwd{}, Symlink{}, EtcFile{}, Console{}, ReadOnlyTerminal{}, LinkUp{}, Sethostname{}, Setdomainname{}, Chdir{},
		PivotRoot{}, Umount2{}, Capset{}, CloseRange{}, Seccomp{}, Execve{}, Monitor{}},
	Init: {Prctl{}, Capset{}, CloseRange{}, Seccomp{}, Spawn{}},
	Proc: {Prlimit{}, Setsid{}, Setctty{}, Setresgid{}, Setresuid{}, Prctl{}, Chdir{}, Execve{}},
}

// StageOps returns the operations stage performs (zero values), for the
// tests that run each through its stage's switch.
func StageOps(stage Stage) []Op { return stageOps[stage] }

// Stages returns every stage.
func Stages() []Stage { return []Stage{Host, Child, Init, Forked, Proc} }

// stageTable is built on first use (Check, once per apply), not at every
// start of nsup.
var stageTable = sync.OnceValue(func() map[Stage]map[reflect.Type]bool {
	m := map[Stage]map[reflect.Type]bool{}
	for st, ops := range stageOps {
		m[st] = map[reflect.Type]bool{}
		for _, op := range ops {
			m[st][reflect.TypeOf(op)] = true
		}
	}
	return m
})

// Performs says whether stage performs op.
func (s Stage) Performs(op Op) bool { return stageTable()[s][reflect.TypeOf(op)] }

// Check refuses a plan with a step in a stage that does not perform its
// operation, or in no stage at all.
func (p *Plan) Check() error {
	for _, e := range p.Environments {
		for i, st := range e.Steps {
			if st.Op == nil {
				return fmt.Errorf("%s: step %d: no operation", e.Name, i)
			}
			if !st.Stage.Performs(st.Op) {
				return fmt.Errorf("%s: step %d: %s is not an operation of stage %s", e.Name, i, FormatOp(st.Op), st.Stage)
			}
		}
	}
	return nil
}
